"""Training inside the app: GUI responsiveness, speed vs headless, time to 97 %.

Run from the repository root (MNIST in ../shared/mnist, or --data-dir):

    python benchmarks/bench_gui_training.py            # everything, a few minutes
    python benchmarks/bench_gui_training.py --quick    # one repeat, smaller slice

What it prints:
1. headless ``training.fit`` on a slice of MNIST (what ``drawdigit train`` runs), with the
   CLI's default threads and with the app's thread count;
2. the same slice trained through the real training dialog (its worker QThread) in an
   offscreen app with the main window open, idle and while synthetic strokes are drawn on
   the canvas (pointer events at ~60 Hz, which the live recogniser answers), with the app's
   thread policy and with all cores; for each: images/s and the longest event-loop stall
   (a 10 ms timer on the GUI thread; median and worst over the repeats);
3. seconds from pressing Start (from scratch, all 60,000 images, the "fast" and the seed
   notebook's presets) until the live test estimate (or an epoch's test accuracy) first
   reaches 97 %; the estimate is measured every 2 s of training, so that is the resolution.

``--torch-load N`` instead measures the longest event-loop stall while torch loads, each
time in a fresh process: the main window is shown, strokes are drawn on its canvas (as
above), and the training dialog is opened, which loads torch in the background
(``training_worker.load_torch``). It prints how long the opening itself took (GUI-thread
work: the dialog's modules and widgets), then the longest stall from there until torch is
loaded, with what the status line said then. ``plain`` is the same with a bare
``import torch`` in a thread instead, for comparison, and ``none`` measures 6 s of drawing
with nothing loading (what the machine and the app cost by themselves). Prints each run,
the medians and the load average.

Images/s are taken from the events' own clock (images between the 5th and the last batch
event, over the elapsed time between them), so start-up and the final evaluation are not
counted in either the headless or the in-app figure. On a shared machine the figures are
noisy: compare runs made back to back, and look at medians.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SKIP_EVENTS = 5


def throughput(events: list) -> float:
    """Images/s between the SKIP_EVENTS-th and the last batch event, by the events' clock."""
    from drawdigit.training import BatchProgress

    batch = [e for e in events if isinstance(e, BatchProgress)]
    if len(batch) <= SKIP_EVENTS + 1:
        return float("nan")
    first, last = batch[SKIP_EVENTS], batch[-1]
    images = _images_seen(last) - _images_seen(first)
    seconds = last.elapsed - first.elapsed
    return images / seconds if seconds > 0 else float("nan")


_BATCH_SIZE = {"value": 64}


def _images_seen(event) -> float:
    return ((event.epoch - 1) * event.batches + event.batch) * _BATCH_SIZE["value"]


def quick_config(threads: int | None, epochs: int = 1):
    from drawdigit.training import PRESETS

    return replace(
        PRESETS["seed"],
        epochs=epochs,
        batch_size=64,
        augment=False,
        from_scratch=True,
        threads=threads,
    )


# --------------------------------------------------------------------------- headless


def headless(data, threads: int | None) -> float:
    import torch

    from drawdigit.training import fit

    if threads is None:
        torch.set_num_threads(os.cpu_count() or 1)  # torch's default, what the CLI gets
    events = list(fit(quick_config(threads), data))
    return throughput(events)


# --------------------------------------------------------------------------- in the app


class Scribbler:
    """Draws strokes on the canvas with real mouse events, ~60 events a second."""

    def __init__(self, canvas) -> None:
        from PySide6.QtCore import QTimer

        self.canvas = canvas
        self.timer = QTimer()
        self.timer.setInterval(16)
        self.timer.timeout.connect(self._step)
        self.step = 0
        self.strokes = 0

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _send(self, kind, x: float, y: float) -> None:
        from PySide6.QtCore import QEvent, QPointF, Qt
        from PySide6.QtGui import QMouseEvent
        from PySide6.QtWidgets import QApplication

        pos = QPointF(x, y)
        release = kind == QEvent.Type.MouseButtonRelease
        buttons = Qt.MouseButton.NoButton if release else Qt.MouseButton.LeftButton
        event = QMouseEvent(
            kind,
            pos,
            self.canvas.mapToGlobal(pos),
            Qt.MouseButton.LeftButton,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(self.canvas, event)

    def _step(self) -> None:
        import math

        from PySide6.QtCore import QEvent

        w, h = self.canvas.width(), self.canvas.height()
        cx, cy, r = w / 2, h / 2, min(w, h) * 0.3
        phase = self.step % 40
        angle = 2 * math.pi * phase / 36
        x, y = cx + r * math.sin(angle), cy - r * math.cos(angle)
        if phase == 0:
            if self.strokes % 4 == 0:
                self.canvas.clear()
            self._send(QEvent.Type.MouseButtonPress, x, y)
        elif phase < 37:
            self._send(QEvent.Type.MouseMove, x, y)
        elif phase == 37:
            self._send(QEvent.Type.MouseButtonRelease, x, y)
            self.strokes += 1
        self.step += 1


class StallMeter:
    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - 0.010)
        self.last = now

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


def wait_until(app, condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the run did not end in time")
        app.processEvents()
        time.sleep(0.002)


def in_app_run(
    app, window, data_dir: Path, train_limit: int, threads: int, fewer: int, drawing: bool
):
    """One run through the dialog with ``threads`` training threads (``fewer`` while the
    user draws): (images/s, longest stall in s, recognitions per second)."""
    from drawdigit.gui.training_dialog import TrainingDialog

    window.open_training_dialog()
    dialog: TrainingDialog = window.findChild(TrainingDialog)
    dialog.set_data_dir(data_dir)
    dialog.train_limit, dialog.test_limit = train_limit, 1000
    dialog.threads, dialog.drawing_threads = threads, fewer
    dialog.set_config(quick_config(None))
    wait_until(app, dialog.warmed_up, timeout=120)  # as when a person reads the settings
    events: list = []
    results = {"n": 0}

    def count_result(_result) -> None:
        results["n"] += 1

    window.recognizer.resultReady.connect(count_result)
    scribbler = Scribbler(window.canvas)
    meter = StallMeter()
    began = time.perf_counter()
    dialog.state.batchProgress.connect(events.append)
    dialog.start_training()
    meter.start()
    if drawing:
        scribbler.start()
    wait_until(app, lambda: not dialog.running(), timeout=600)
    seconds = time.perf_counter() - began
    scribbler.stop()
    stall = meter.stop()
    window.recognizer.resultReady.disconnect(count_result)
    dialog.state.batchProgress.disconnect(events.append)
    if dialog.outcome() is None:
        raise RuntimeError(dialog.status_text())
    dialog.result_view.discard_result()
    return throughput(events), stall, results["n"] / seconds


def baseline_stall(app, window, seconds: float, drawing: bool) -> tuple[float, float]:
    """The same measurements with no training at all: (longest stall in s, recognitions/s).

    Tells what the machine and the rest of the app cost by themselves (a loaded shared
    machine stalls every process now and then), so the in-app figures can be read against it.
    """
    results = {"n": 0}

    def count_result(_result) -> None:
        results["n"] += 1

    window.recognizer.resultReady.connect(count_result)
    scribbler = Scribbler(window.canvas)
    meter = StallMeter()
    meter.start()
    if drawing:
        scribbler.start()
    end = time.monotonic() + seconds
    wait_until(app, lambda: time.monotonic() > end, timeout=seconds + 60)
    scribbler.stop()
    stall = meter.stop()
    window.recognizer.resultReady.disconnect(count_result)
    return stall, results["n"] / seconds


def time_to_97(app, window, data_dir: Path, threads: int, preset: str) -> float:
    """Seconds from Start (from scratch, ``preset``, all 60,000 images) until the live test
    estimate (or an epoch's test accuracy) first reaches 97 %."""
    from drawdigit.gui.training.state import estimate_of
    from drawdigit.gui.training_dialog import TrainingDialog
    from drawdigit.training import PRESETS

    window.open_training_dialog()
    dialog: TrainingDialog = window.findChild(TrainingDialog)
    dialog.set_data_dir(data_dir)
    dialog.train_limit = dialog.test_limit = None
    dialog.threads = threads
    dialog.set_config(replace(PRESETS[preset], from_scratch=True))
    wait_until(app, dialog.warmed_up, timeout=120)
    reached: dict[str, float] = {}
    started = time.perf_counter()

    def on_batch(event) -> None:
        estimate = estimate_of(event)
        if estimate is not None and estimate >= 0.97 and "t" not in reached:
            reached["t"] = time.perf_counter() - started

    def on_epoch(event) -> None:
        if event.test_accuracy >= 0.97 and "t" not in reached:
            reached["t"] = time.perf_counter() - started

    dialog.state.batchProgress.connect(on_batch)
    dialog.state.epochEnded.connect(on_epoch)
    dialog.start_training()
    wait_until(app, lambda: "t" in reached or not dialog.running(), timeout=600)
    dialog.cancel_training()
    wait_until(app, lambda: not dialog.running(), timeout=60)
    dialog.state.batchProgress.disconnect(on_batch)
    dialog.state.epochEnded.disconnect(on_epoch)
    return reached.get("t", float("nan"))


# --------------------------------------------------------------------------- torch loading


def torch_load_once(variant: str) -> dict:
    """In this (fresh) process, while strokes are drawn: how long opening took (the GUI
    thread's own work), then the longest event-loop stall from there until torch was
    loaded, what the dialog's status line said at that stall, and the stalls over 50 ms."""
    import threading

    from PySide6.QtWidgets import QApplication

    from drawdigit.gui import training_worker
    from drawdigit.gui.app import create_application
    from drawdigit.gui.main_window import MainWindow
    from drawdigit.gui.training_dialog import TrainingDialog

    app = QApplication.instance() or create_application([sys.argv[0]])
    window = MainWindow()
    window.show()
    wait_until(app, lambda: window.model_ready() or window._model_state == "failed", 120)
    loaded = threading.Event()
    if variant == "none":

        def opening() -> None:
            threading.Timer(6.0, loaded.set).start()  # the machine and the app alone

    elif variant == "plain":

        def plain_import() -> None:
            import torch  # noqa: F401

            loaded.set()

        def opening() -> None:
            threading.Thread(target=plain_import, daemon=True).start()

    else:

        def opening() -> None:
            window.open_training_dialog()

    def is_loaded() -> bool:
        return loaded.is_set() if variant != "app" else training_worker.torch_loaded()

    def stage() -> str:
        dialog = window.findChild(TrainingDialog)
        return dialog.status_text() if dialog is not None else ""

    scribbler = Scribbler(window.canvas)
    meter = StallMeter()
    gaps: list[tuple[float, str]] = []
    tick = meter._tick

    def recording_tick() -> None:
        before = meter.last
        tick()
        gaps.append((meter.last - before - 0.010, stage()))

    meter.timer.timeout.disconnect(tick)
    meter.timer.timeout.connect(recording_tick)
    scribbler.start()
    wait_until(app, lambda: scribbler.strokes >= 1, 30)
    began = time.perf_counter()
    opening()
    opened = time.perf_counter() - began
    meter.start()  # from here: the stalls while it loads
    wait_until(app, is_loaded, 300)
    seconds = time.perf_counter() - began
    stall = meter.stop()
    scribbler.stop()
    window.close()
    worst = max(gaps, default=(0.0, ""))
    return {
        "opened": opened,
        "stall": stall,
        "stall_stage": worst[1],
        "seconds": seconds,
        "long": [round(g * 1000) for g, _stage in gaps if g > 0.05],
    }


def torch_load_report(repeats: int) -> int:
    """Run :func:`torch_load_once` in fresh processes, each variant in turn; print medians."""
    import json
    import subprocess

    results: dict[str, list[dict]] = {"app": [], "plain": [], "none": []}
    loads = []
    for repeat in range(repeats):
        for variant, rows in results.items():
            loads.append(os.getloadavg()[0])
            out = subprocess.run(
                [sys.executable, __file__, "--torch-load-child", variant],
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            ).stdout
            row = json.loads(out.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"  {repeat + 1}/{repeats} {variant:<5}: opening {row['opened'] * 1000:4.0f} ms, "
                f"then longest stall {row['stall'] * 1000:4.0f} ms ({row['stall_stage']!r}), "
                f"loaded after {row['seconds']:.1f} s; stalls > 50 ms: {row['long']}",
                flush=True,
            )
    print(f"\nload average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f}")
    names = {
        "app": "training dialog (load_torch)",
        "plain": "bare import torch in a thread",
        "none": "no loading (6 s): the baseline",
    }
    for variant, rows in results.items():
        stalls = sorted(r["stall"] * 1000 for r in rows)
        opened = statistics.median(r["opened"] * 1000 for r in rows)
        print(
            f"  {names[variant]:<31} opening {opened:4.0f} ms; then longest stall median "
            f"{statistics.median(stalls):4.0f} ms (all: {', '.join(f'{x:.0f}' for x in stalls)}),"
            f" loaded after {statistics.median(r['seconds'] for r in rows):.1f} s"
        )
    return 0


# --------------------------------------------------------------------------- main


def isolate_settings() -> None:
    """Never touch the person's own models or settings: a private data dir and QSettings."""
    from PySide6.QtCore import QSettings

    scratch = Path(tempfile.mkdtemp(prefix="drawdigit-bench-"))
    os.environ.setdefault("DRAWDIGIT_DATA_DIR", str(scratch / "data"))
    os.environ.setdefault("DRAWDIGIT_MNIST_DIR", str(REPO.parent / "shared" / "mnist"))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(scratch / "settings"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "mnist")
    parser.add_argument("--train-limit", type=int, default=12000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 6,000 images")
    parser.add_argument("--skip-97", action="store_true", help="skip the time-to-97 %% run")
    parser.add_argument(
        "--torch-load", type=int, metavar="N", help="only: stalls while torch loads, N runs each"
    )
    parser.add_argument(
        "--torch-load-child", choices=("app", "plain", "none"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.torch_load:
        return torch_load_report(args.torch_load)
    if args.torch_load_child:
        import json

        isolate_settings()
        print(json.dumps(torch_load_once(args.torch_load_child)))
        return 0
    if args.quick:
        args.repeats, args.train_limit = 1, 6000

    from drawdigit.gui.training_worker import drawing_threads, training_threads
    from drawdigit.mnist import load_mnist
    from drawdigit.runs import limit_data

    cores = os.cpu_count() or 1
    app_threads, fewer = training_threads(cores), drawing_threads(cores)
    print(
        f"{cores} cores; the app trains with {app_threads} thread(s), {fewer} while the user "
        "draws and the app lags; "
        f"slice: {args.train_limit:,} training images, batch 64, 1 epoch, RMSprop"
    )
    data = limit_data(load_mnist(args.data_dir), args.train_limit, 1000)

    rows: dict[str, list[float]] = {}
    stalls: dict[str, list[float]] = {}

    def add(name: str, speed: float, stall: float | None = None) -> None:
        rows.setdefault(name, []).append(speed)
        if stall is not None:
            stalls.setdefault(name, []).append(stall)

    isolate_settings()
    from PySide6.QtWidgets import QApplication

    from drawdigit.gui.app import create_application
    from drawdigit.gui.main_window import MainWindow

    app = QApplication.instance() or create_application([sys.argv[0]])
    window = MainWindow()
    window.show()
    wait_until(app, lambda: window.model_ready() or window._model_state == "failed", 120)
    if not window.model_ready():
        print("note: no model could be loaded, so drawing runs no live recognition")

    for repeat in range(args.repeats):
        print(f"-- repeat {repeat + 1}/{args.repeats}", flush=True)
        for label, threads in (
            ("headless, CLI default threads", None),
            (f"headless, {fewer} thread(s)", fewer),
        ):
            add(label, headless(data, threads))
            print(f"   {label}: {rows[label][-1]:,.0f} img/s", flush=True)
        cases = [
            (f"app idle, {app_threads} thread(s)", app_threads, fewer, False),
            (f"app drawing, {app_threads} ({fewer} if it lags)", app_threads, fewer, True),
        ]
        if fewer != app_threads:
            cases.append((f"app drawing, {app_threads} throughout", app_threads, app_threads, True))
            cases.append((f"app drawing, {fewer} throughout", fewer, fewer, True))
        for label, drawing in (("no training, idle", False), ("no training, drawing", True)):
            stall, answers = baseline_stall(app, window, 6.0, drawing)
            add(label, float("nan"), stall)
            extra = f", {answers:.0f} recognitions/s" if drawing else ""
            print(f"   {label}: longest stall {stall * 1000:.0f} ms{extra}", flush=True)
        for label, threads, fewer_threads, drawing in cases:
            speed, stall, answers = in_app_run(
                app, window, args.data_dir, args.train_limit, threads, fewer_threads, drawing
            )
            add(label, speed, stall)
            extra = f", {answers:.0f} recognitions/s" if drawing else ""
            print(
                f"   {label}: {speed:,.0f} img/s, longest stall {stall * 1000:.0f} ms{extra}",
                flush=True,
            )

    print("\nimages/s (median of repeats; each run's own clock):")
    base = statistics.median(rows["headless, CLI default threads"])
    for label, values in rows.items():
        median = statistics.median(values)
        if math.isnan(median):
            line = f"  {label:<34} {'':>8}   {'':>25}"
        else:
            line = f"  {label:<34} {median:8,.0f}   ({median / base * 100:5.1f} % of headless CLI)"
        if label in stalls:
            s = stalls[label]
            line += (
                f"   stall median {statistics.median(s) * 1000:4.0f} ms,"
                f" worst {max(s) * 1000:4.0f} ms"
            )
        print(line)

    if not args.skip_97:
        print("\nseconds from Start (from scratch, all 60,000 images) to live accuracy >= 97 %:")
        for preset in ("fast", "seed"):
            times = [
                time_to_97(app, window, args.data_dir, app_threads, preset)
                for _ in range(args.repeats)
            ]
            shown = ", ".join(f"{t:.1f}" for t in times)
            print(f"  preset {preset!r}: median {statistics.median(times):.1f} s ({shown})")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
