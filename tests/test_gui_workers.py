"""The generator worker: real QThreads, signals delivered in the GUI thread, in order."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

from drawdigit.gui.workers import (
    GeneratorWorker,
    WorkCancelled,
    WorkerControl,
    live_workers,
    stop_all_workers,
)

TIMEOUT_MS = 20_000


class Recorder:
    """Every signal of a worker, as (name, value, thread the slot ran in)."""

    def __init__(self, worker: GeneratorWorker) -> None:
        self.events: list[tuple[str, object, threading.Thread]] = []
        self.worker = worker
        for name in ("started", "yielded", "returned", "errored", "aborted", "finished"):
            signal = getattr(worker, name)
            if name in ("yielded", "returned", "errored"):
                signal.connect(lambda value, n=name: self._add(n, value))
            else:
                signal.connect(lambda n=name: self._add(n, None))

    def _add(self, name: str, value: object) -> None:
        # finished means the thread is over: record whether it really is
        if name == "finished":
            value = self.worker.wait(0)
        self.events.append((name, value, threading.current_thread()))

    def names(self) -> list[str]:
        return [name for name, _value, _thread in self.events]

    def values(self, name: str) -> list[object]:
        return [value for n, value, _thread in self.events if n == name]


def counting(n: int, thread_names: list[str]) -> Iterator[int]:
    thread_names.append(threading.current_thread().name)
    yield from range(n)
    return n * 10


def test_yields_arrive_in_order_in_the_gui_thread_then_returned_then_finished(qtbot):
    work_threads: list[str] = []
    worker = GeneratorWorker(counting, 200, work_threads, name="test-counting")
    record = Recorder(worker)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
    assert record.names() == ["started"] + ["yielded"] * 200 + ["returned", "finished"]
    assert record.values("yielded") == list(range(200))
    assert record.values("returned") == [2000]
    assert record.values("finished") == [True]  # the thread had ended when finished came
    assert {thread for _n, _v, thread in record.events} == {threading.main_thread()}
    assert work_threads and work_threads[0] != threading.main_thread().name
    assert not worker.is_running()
    assert worker not in live_workers()


def failing() -> Iterator[int]:
    yield 1
    raise ValueError("bad input")


def test_an_exception_is_errored_then_finished(qtbot):
    worker = GeneratorWorker(failing)
    record = Recorder(worker)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
    assert record.names() == ["started", "yielded", "errored", "finished"]
    (error,) = record.values("errored")
    assert isinstance(error, ValueError) and str(error) == "bad input"


def endless(closed: threading.Event) -> Iterator[int]:
    i = 0
    try:
        while True:
            i += 1
            time.sleep(0.001)
            yield i
    finally:
        closed.set()  # the generator was closed, in its own thread


def test_quit_stops_a_long_generator(qtbot):
    closed = threading.Event()
    worker = GeneratorWorker(endless, closed)
    record = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: len(record.values("yielded")) >= 5, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.quit()
    assert closed.is_set()
    assert record.names()[-2:] == ["aborted", "finished"]
    assert "returned" not in record.names() and "errored" not in record.names()
    assert worker.control.cancelled


def blocking(control: WorkerControl) -> str:
    """Plain function that reports progress through the control and waits on its event."""
    control.report("waiting")
    control.event.wait(30)
    control.check()  # raises WorkCancelled when quit() was called
    return "not cancelled"


def test_a_plain_function_reports_and_quit_wakes_it(qtbot):
    control = WorkerControl()
    worker = GeneratorWorker(blocking, control, control=control)
    record = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: record.values("yielded") == ["waiting"], timeout=TIMEOUT_MS)
    started = time.perf_counter()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.quit()
    assert time.perf_counter() - started < 25  # woken, not timed out after 30 s
    assert record.names() == ["started", "yielded", "aborted", "finished"]


def test_a_plain_functions_result_is_returned(qtbot):
    worker = GeneratorWorker(sum, [1, 2, 3])
    record = Recorder(worker)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
    assert record.names() == ["started", "returned", "finished"]
    assert record.values("returned") == [6]


def test_stop_waits_and_delivers_everything_with_finished_last(qtbot):
    closed = threading.Event()
    worker = GeneratorWorker(endless, closed)
    record = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: bool(record.values("yielded")), timeout=TIMEOUT_MS)
    worker.stop()  # no event loop turn in between
    assert worker.wait(0)
    assert record.names()[-2:] == ["aborted", "finished"]
    assert closed.is_set()
    assert worker not in live_workers()


def test_start_twice_runs_once(qtbot):
    runs: list[str] = []
    worker = GeneratorWorker(counting, 1, runs)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
        worker.start()
    qtbot.wait(50)
    assert len(runs) == 1


def test_stop_all_workers_stops_every_running_thread(qtbot):
    events = [threading.Event() for _ in range(3)]
    workers = [GeneratorWorker(endless, closed) for closed in events]
    records = [Recorder(worker) for worker in workers]
    for worker in workers:
        worker.start()
    # each generator is under way (one that never ran has no finally block to run)
    qtbot.waitUntil(lambda: all(r.values("yielded") for r in records), timeout=TIMEOUT_MS)
    stop_all_workers()
    assert all(w.wait(0) for w in workers)
    assert all(closed.is_set() for closed in events)
    assert not any(w in live_workers() for w in workers)


EXIT_SCRIPT = textwrap.dedent(
    """
    import time
    from PySide6.QtCore import QCoreApplication, QTimer
    from drawdigit.gui.workers import GeneratorWorker, live_workers

    def endless():
        while True:
            time.sleep(0.005)
            yield 1

    app = QCoreApplication([])
    workers = [GeneratorWorker(endless, name="endless") for _ in range(2)]
    for worker in workers:
        worker.start()
    QTimer.singleShot(300, app.quit)
    app.exec()  # returns after aboutToQuit was emitted
    running = sum(not w.wait(0) for w in workers)
    print("live", len(live_workers()), "running", running)
    """
)


def test_quitting_the_app_stops_every_worker_before_exit():
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    assert "live 0 running 0" in done.stdout, done.stdout + done.stderr
    assert "Destroyed while thread" not in done.stderr


def test_quit_uses_the_works_own_control(qtbot):
    from drawdigit.training import TrainControl

    control = TrainControl()

    def paused_work() -> Iterator[int]:
        control.pause()
        yield 1
        control.wait_while_paused()  # blocks until resumed or cancelled
        if control.cancelled:
            raise WorkCancelled
        yield 2

    worker = GeneratorWorker(paused_work, control=control)
    record = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: record.values("yielded") == [1], timeout=TIMEOUT_MS)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.quit()
    assert control.cancelled
    assert record.names() == ["started", "yielded", "aborted", "finished"]


def test_stop_does_nothing_for_a_worker_not_running(qtbot):
    idle = GeneratorWorker(counting, 1, [])
    idle.stop()  # never started: no thread to wait for, no signal
    assert not idle.is_running() and idle not in live_workers()

    done = GeneratorWorker(counting, 1, [])
    record = Recorder(done)
    with qtbot.waitSignal(done.finished, timeout=TIMEOUT_MS):
        done.start()
    done.stop()
    done.stop()
    assert record.names().count("finished") == 1
    assert not done.control.cancelled  # a finished worker is not asked to stop
