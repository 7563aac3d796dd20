"""One way to run work off the GUI thread: a generator (or plain) function in a QThread.

The shape is superqt's ``GeneratorWorker`` (``superqt.utils._qthreading``), kept to what the
app needs, on a ``QThread`` instead of the global thread pool so that each job has a named
thread of its own that ``stop_all_workers`` can stop and wait for:

- ``GeneratorWorker(func, *args, control=..., name=..., **kwargs)``: ``func(*args,
  **kwargs)`` runs in the worker's thread when ``start()`` is called. If it returns a
  generator, every value it yields is emitted as ``yielded(value)``; what it returns at
  the end is ``returned(value)``. A plain function's result is ``returned`` too; it can
  still report progress with ``WorkerControl.report`` (for APIs that take a callback).
- Signals arrive in the thread that made the worker (the GUI thread), in the order they
  were emitted: ``started``, any ``yielded``, then one of ``returned``, ``errored(exception)``
  or ``aborted``, and ALWAYS ``finished`` last. When ``finished`` arrives the thread has
  ended, so a slot may drop the worker at once.
- ``quit()`` asks the work to stop: the control's ``cancel()`` is called, the generator is
  closed at its next yield, and the work ends with ``aborted`` rather than ``returned``.
  Work that blocks between yields sees the same control (``control.cancelled``,
  ``control.event`` for APIs that take a ``threading.Event``, ``control.check()``), or a
  control of its own that has ``cancel()`` and ``cancelled`` (``training.TrainControl``);
  a control with ``bind_report`` gets a ``report`` that emits ``yielded`` (for progress
  that comes through a callback, where the work cannot ``yield``).
- Why the module set: a ``QThread`` object destroyed while its thread runs aborts the
  process, so every started worker is kept alive here until its thread has ended, even if
  the window that started it is gone; ``stop_all_workers`` (connected to ``aboutToQuit``
  and registered with ``atexit``) stops and waits for those still running.

The work never touches a widget: it hands plain values (small frozen dataclasses, copied
arrays) to the signals, which Qt queues to the GUI thread.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Generator
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot


class Cancellable(Protocol):
    """What a worker needs of a control: a way to ask for a stop, and to see it was asked."""

    def cancel(self) -> None: ...

    @property
    def cancelled(self) -> bool: ...


class WorkCancelled(Exception):
    """Raised inside the work (``WorkerControl.check``) to end it as ``aborted``."""


class WorkerControl:
    """The control a worker's function can look at: cancel flag, event, progress reports.

    ``cancel`` is safe from any thread. ``report(value)`` is for work that gets progress
    through a callback and so cannot ``yield`` it: the value is emitted as ``yielded``.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._report: Callable[[Any], None] | None = None

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def event(self) -> threading.Event:
        """Set once cancelled: for APIs that take a ``threading.Event`` to stop on."""
        return self._event

    def check(self) -> None:
        """Raise :class:`WorkCancelled` if a stop was asked for (between steps of work)."""
        if self._event.is_set():
            raise WorkCancelled

    def report(self, value: Any) -> None:
        """Emit ``value`` as the worker's ``yielded`` (from the work's thread)."""
        if self._report is not None:
            self._report(value)

    def bind_report(self, emit: Callable[[Any], None]) -> None:
        """Called by the worker this control is given to: where ``report`` sends values.

        Any control may have this method (a subclass of another library's control, say);
        the worker calls it when it is there."""
        self._report = emit


class LatestInbox:
    """Work waiting for a long-lived worker thread, latest wins: at most one value of each
    kind ("load", "drawing", ...), a newer ``put`` replacing the older.

    Why: the recogniser and the Look Inside explainer must answer the drawing the user has
    now, never a queue of the ones they drew past. It is also the worker's control
    (``GeneratorWorker(control=inbox)``): ``cancel`` closes it, which wakes a waiting thread,
    so ``quit`` and ``stop_all_workers`` stop it.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._jobs: dict[str, Any] = {}
        self._closed = False

    def put(self, kind: str, value: Any) -> None:
        """Leave ``value`` in place of any waiting ``kind``; wake the worker if it is idle."""
        with self._lock:
            self._jobs[kind] = value
            self._lock.notify_all()

    def take(self, kind: str) -> Any | None:
        """The waiting ``kind`` (removed), or None: for a worker that wants the newest
        drawing after a long job without waiting."""
        with self._lock:
            return self._jobs.pop(kind, None)

    def wait(self) -> dict[str, Any] | None:
        """Everything posted since the last call, by kind (blocks until something is);
        None once closed."""
        with self._lock:
            self._lock.wait_for(lambda: self._closed or bool(self._jobs))
            if self._closed:
                return None
            jobs, self._jobs = self._jobs, {}
            return jobs

    def rest(self, seconds: float) -> None:
        """Wait ``seconds`` (less if the inbox is closed meanwhile), letting posts pile up."""
        with self._lock:
            self._lock.wait_for(lambda: self._closed, timeout=seconds)

    def cancel(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._closed


class _Runner(QObject):
    """Lives in the worker's thread and runs the function there; emits, never receives."""

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    aborted = Signal()
    done = Signal()

    def __init__(self, func: Callable[..., Any], args: tuple, kwargs: dict, control: Any) -> None:
        super().__init__()
        self._func = func
        self._args = args
        self._kwargs = kwargs
        self._control = control

    @Slot()
    def run(self) -> None:
        self.started.emit()
        try:
            result = self._func(*self._args, **self._kwargs)
            if isinstance(result, Generator):
                result = self._drain(result)
        except WorkCancelled:
            self.aborted.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure ends the work as errored
            self.errored.emit(exc)
        else:
            if self._control.cancelled:
                self.aborted.emit()
            else:
                self.returned.emit(result)
        finally:
            self.done.emit()

    def _drain(self, generator: Generator[Any, Any, Any]) -> Any:
        """Emit every yielded value; close the generator when a stop is asked for."""
        while True:
            if self._control.cancelled:
                generator.close()  # its finally blocks run here, in the worker's thread
                return None
            try:
                value = next(generator)
            except StopIteration as stop:
                return stop.value
            self.yielded.emit(value)


# Every started worker until its thread has ended (see the module docstring).
_LIVE: set[GeneratorWorker] = set()
_hooked_app: QCoreApplication | None = None  # the application whose aboutToQuit stops them


class GeneratorWorker(QObject):
    """A function or generator run in a QThread of its own; see the module docstring."""

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception raised by the work
    aborted = Signal()
    finished = Signal()

    def __init__(
        self,
        func: Callable[..., Any],
        *args: Any,
        control: Cancellable | None = None,
        name: str = "drawdigit-worker",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.control: Any = control if control is not None else WorkerControl()
        self._started = False
        self._finished = False
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner(func, args, kwargs, self.control)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Direct: the thread leaves its event loop as soon as the work is done, even while
        # the GUI thread is busy.
        self._runner.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        for theirs, ours in (
            (self._runner.started, self.started),
            (self._runner.yielded, self.yielded),
            (self._runner.returned, self.returned),
            (self._runner.errored, self.errored),
            (self._runner.aborted, self.aborted),
        ):
            theirs.connect(ours)  # queued to this object's (the GUI) thread
        self._thread.finished.connect(self._on_thread_finished)
        bind_report = getattr(self.control, "bind_report", None)
        if bind_report is not None:
            bind_report(self._runner.yielded.emit)

    @property
    def thread_name(self) -> str:
        return self._thread.objectName()

    def start(self) -> None:
        """Run the work in the worker's thread (once; later calls do nothing)."""
        if self._started:
            return
        self._started = True
        _hook_quit()
        _LIVE.add(self)
        self._thread.start()

    def quit(self) -> None:
        """Ask the work to stop (safe from any thread); ``aborted`` and ``finished`` follow."""
        self.control.cancel()

    def wait(self, msecs: int | None = None) -> bool:
        """Block until the thread has ended (or ``msecs`` passed); True if it has ended."""
        if msecs is None:
            return self._thread.wait()
        return self._thread.wait(msecs)

    def is_running(self) -> bool:
        """Started and ``finished`` not yet emitted."""
        return self._started and not self._finished

    def stop(self) -> None:
        """``quit()``, wait for the thread, then deliver what it emitted, ``finished`` last.

        Called from the thread that made the worker (closing a window, quitting the app):
        when it returns the thread has ended and every signal has been delivered. Does
        nothing for a worker never started or already finished (then, at exit, its Qt
        object may already be gone).
        """
        if not self.is_running():
            _LIVE.discard(self)
            return
        self.quit()
        self._thread.wait()
        if QThread.currentThread() is self.thread():
            QCoreApplication.sendPostedEvents(self, 0)
        _LIVE.discard(self)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._finished:
            return
        self._thread.wait()  # the thread has emitted finished; let it end for good
        self._finished = True
        _LIVE.discard(self)
        self.finished.emit()


def live_workers() -> list[GeneratorWorker]:
    """The workers started and not yet finished (tests, and a check at exit)."""
    return list(_LIVE)


def stop_all_workers() -> None:
    """Stop every worker still running and wait for its thread (the app is quitting)."""
    for worker in list(_LIVE):
        try:
            worker.stop()
        except RuntimeError:  # its C++ object is already gone: nothing left to stop
            _LIVE.discard(worker)


def _hook_quit() -> None:
    """Connect ``stop_all_workers`` to the application's ``aboutToQuit`` (once)."""
    global _hooked_app
    app = QCoreApplication.instance()
    if app is not None and app is not _hooked_app:
        app.aboutToQuit.connect(stop_all_workers)
        _hooked_app = app


# Last line of defence: Python's exit must not destroy a QThread that is still running.
atexit.register(stop_all_workers)
