"""Benchmark the main window: start-up, live recognition, and the canvas against the CLI.

    python benchmarks/bench_gui.py [--launches 7] [--drawings 300]

Prints, with medians:
1. launch to window shown: ``python -m drawdigit`` started as a subprocess, the app writes
   ``time.monotonic()`` when its window has first painted (``DRAWDIGIT_EXIT_AFTER_SHOWN``)
   and quits; the clock is shared by all processes;
2. launch to first prediction: a child process starts the app the way ``run_gui`` does,
   draws a "1" with mouse events the moment the window shows (while the model is still
   loading) and stops when the answer is on screen; then, idle for 2 s, its memory (RSS)
   and whether torch was imported;
3. while drawing with synthetic pointer events at 120 Hz: the GUI thread's time from a
   pointer event to the segment painted, recognition updates per second, the worker's ms
   per update and the latency from drawing change to answer shown;
4. unipen-dev drawings replayed through the canvas with mouse events: the canvas's 28x28
   input and answer against ``preprocess(load_drawing(file))`` and ``drawdigit predict``.

Qt runs offscreen unless DISPLAY is set and QT_QPA_PLATFORM is not. Timings on a shared
machine are noisy: compare medians from runs on the same machine only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIPEN = REPO.parent / "shared" / "unipen-dev"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.update(extra)
    return env


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _median_line(name: str, values: list[float]) -> str:
    return (
        f"{name}: median {_ms(statistics.median(values))} "
        f"(min {_ms(min(values))}, max {_ms(max(values))}, n={len(values)})"
    )


# ---------------------------------------------------------------------- 1. launch to shown


def bench_launch(runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            marker = Path(tmp) / f"shown-{i}"
            env = _env(DRAWDIGIT_EXIT_AFTER_SHOWN=str(marker), DRAWDIGIT_DATA_DIR=tmp)
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "drawdigit"], cwd=REPO, env=env, check=True, timeout=120
            )
            times.append(float(marker.read_text().split()[0]) - started)
    return times


# ---------------------------------------------------------------------- 2. first prediction


def bench_first_prediction(runs: int) -> list[dict[str, float]]:
    out = []
    for _ in range(runs):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child-first-prediction"],
            cwd=REPO,
            env=_env(BENCH_T0=repr(started)),
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        )
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


IDLE_SECONDS = 2  # after the first answer, before the idle memory is read


def _rss_mb() -> float:
    """This process's resident memory (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_first_prediction() -> int:
    """Start like run_gui, draw a 1 as soon as the window shows; IDLE_SECONDS after the
    answer, read the idle memory (RSS, before any training) and exit."""
    from PySide6.QtCore import QTimer

    t0 = float(os.environ["BENCH_T0"])
    from drawdigit.gui.app import create_application

    app = create_application([sys.argv[0]])
    from drawdigit.gui.main_window import MainWindow

    window = MainWindow()
    marks: dict[str, float] = {}

    def shown() -> None:
        marks["shown"] = time.monotonic() - t0
        _stroke(window.canvas, [(140.0, 45.0 + 5 * k) for k in range(39)])
        marks["drawn"] = time.monotonic() - t0

    def ready(*_args) -> None:
        marks["model_ready"] = time.monotonic() - t0

    def idle_then_quit() -> None:
        marks["idle_rss_mb"] = _rss_mb()
        marks["torch"] = "torch" in sys.modules
        window.canvas.clear()  # nothing to save: the window closes without asking
        window.close()
        app.quit()

    def answer(result) -> None:
        if result.prediction is not None and "first_prediction" not in marks:
            marks["first_prediction"] = time.monotonic() - t0
            marks["digit"] = result.prediction.digit
            QTimer.singleShot(IDLE_SECONDS * 1000, idle_then_quit)

    window.firstShown.connect(shown)
    window.recognizer.modelReady.connect(ready)
    window.recognitionShown.connect(answer)
    window.show()
    app.exec()
    print(json.dumps(marks))
    return 0


# ---------------------------------------------------------------------- helpers: events


def _send(canvas, kind: str, x: float, y: float) -> None:
    """One mouse event at document point (x, y), delivered like the window system does."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    pos = canvas.to_widget(x, y)
    left = Qt.MouseButton.LeftButton
    none = Qt.MouseButton.NoButton
    kinds = {
        "press": (QEvent.Type.MouseButtonPress, left, left),
        "move": (QEvent.Type.MouseMove, none, left),
        "release": (QEvent.Type.MouseButtonRelease, left, none),
    }
    event_type, button, buttons = kinds[kind]
    event = QMouseEvent(
        event_type, pos, canvas.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(canvas, event)


def _stroke(canvas, points) -> None:
    _send(canvas, "press", *points[0])
    for point in points[1:]:
        _send(canvas, "move", *point)
    _send(canvas, "release", *points[-1])


def _wait(app, condition, timeout: float) -> bool:
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.0005)  # let the worker thread take the GIL
    return True


def _open_window(app):
    from drawdigit.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(940, 640)
    window.show()
    if not _wait(app, lambda: window._model_state != "loading", 120):
        raise SystemExit("the model did not load within 120 s")
    if not window.model_ready():
        raise SystemExit(f"no model: {window.model_label.toolTip()}")
    return window


# ---------------------------------------------------------------------- 3. live drawing


def bench_live_drawing(app, window, seconds: float, rate_hz: float) -> dict[str, object]:
    """Pointer events at ``rate_hz`` along a figure-eight for ``seconds``, paced by a timer
    so the event loop (paints, answers) runs between them as with a real pointer."""
    import math

    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    canvas = window.canvas
    window.canvas.clear()
    submitted: dict[int, float] = {}
    shown: list[tuple[float, float, float]] = []  # (time, latency, worker seconds)
    handler_s: list[float] = []

    def on_change(_source) -> None:  # connected after the window's own slot: seq is set
        submitted[window.recognizer._seq] = time.perf_counter()

    def on_shown(result) -> None:
        now = time.perf_counter()
        if result.seq in submitted and result.prediction is not None:
            shown.append((now, now - submitted[result.seq], result.seconds))

    canvas.drawingChanged.connect(on_change)
    window.recognitionShown.connect(on_shown)
    total = int(seconds * rate_hz)

    def point(i: int) -> tuple[float, float]:
        t = 2 * math.pi * i / (rate_hz * 2.0)  # one figure-eight every 2 s
        return 140 + 70 * math.sin(t), 140 + 100 * math.sin(t) * math.cos(t) * 1.6

    state = {"i": 0}
    loop = QEventLoop()
    clock = QElapsedTimer()

    def tick() -> None:
        i = state["i"]
        clock.start()
        if i == 0:
            _send(canvas, "press", *point(0))
        elif i < total:
            _send(canvas, "move", *point(i))
        else:
            _send(canvas, "release", *point(i - 1))
            timer.stop()
            QTimer.singleShot(300, loop.quit)
        canvas.repaint()  # paint now, to time pointer-to-pixels in the GUI thread
        handler_s.append(clock.nsecsElapsed() / 1e9)
        state["i"] = i + 1

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(round(1000 / rate_hz))
    timer.timeout.connect(tick)
    start = time.perf_counter()
    timer.start()
    loop.exec()
    end = time.perf_counter()
    canvas.drawingChanged.disconnect(on_change)
    window.recognitionShown.disconnect(on_shown)
    during = [s for s in shown if s[0] <= start + seconds]
    return {
        "events": len(handler_s),
        "event_rate": len(handler_s) / (end - start - 0.3),
        "pointer_to_pixels_s": handler_s,
        "updates": len(during),
        "updates_per_second": len(during) / seconds,
        "latency_s": [s[1] for s in shown],
        "worker_s": [s[2] for s in shown],
    }


# ---------------------------------------------------------------------- 4. unipen replay


def bench_replay(app, window, count: int) -> dict[str, object]:
    import numpy as np

    from drawdigit.inference import load_predictor
    from drawdigit.preprocess import preprocess
    from drawdigit.strokes import load_drawing

    with (UNIPEN / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    step = max(1, len(rows) // count)
    rows = rows[::step][:count]
    predictor, _ = load_predictor()
    canvas = window.canvas
    canvas.setFixedSize(280, 280)  # 1 widget px = 1 document px: events carry exact points
    _wait(app, lambda: canvas.width() == 280, 5)
    stats = {"n": 0, "same_strokes": 0, "same_input": 0, "same_digit": 0, "correct_canvas": 0}
    stats.update({"correct_file": 0, "unflagged": 0, "correct_unflagged": 0})
    max_diff = 0.0
    files = []
    canvas_digits = []
    started = time.perf_counter()
    for row in rows:
        path = UNIPEN / row["file"]
        drawing = load_drawing(path)
        canvas.clear()
        for stroke in drawing.strokes:
            _stroke(canvas, stroke)
        seq = window.recognizer._seq
        if not _wait(
            app,
            lambda seq=seq: (
                window.last_result() is not None
                and window.last_result().seq == seq
                and window.last_result().prediction is not None
            ),
            30,
        ):
            raise SystemExit(f"no answer for {path}")
        result = window.last_result()
        expected = preprocess(drawing)
        reference = predictor.classify(expected)
        label = int(row["label"])
        stats["n"] += 1
        stats["same_strokes"] += canvas.drawing().strokes == drawing.strokes
        diff = float(np.abs(result.image28 - expected).max())
        max_diff = max(max_diff, diff)
        stats["same_input"] += diff == 0.0
        stats["same_digit"] += result.prediction.digit == reference.digit
        stats["correct_canvas"] += result.prediction.digit == label
        stats["correct_file"] += reference.digit == label
        if not row.get("flags"):
            stats["unflagged"] += 1
            stats["correct_unflagged"] += result.prediction.digit == label
        files.append(str(path))
        canvas_digits.append(result.prediction.digit)
    seconds = time.perf_counter() - started
    canvas.setMinimumSize(200, 200)
    canvas.setMaximumSize(16777215, 16777215)
    # the CLI on the same files: `drawdigit predict --json`
    output = subprocess.run(
        [sys.executable, "-m", "drawdigit", "predict", "--json", *files],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    cli = [json.loads(line)["digit"] for line in output.splitlines() if line.startswith("{")]
    stats["same_as_cli"] = sum(a == b for a, b in zip(canvas_digits, cli, strict=False))
    stats["cli_answers"] = len(cli)
    stats["max_abs_input_difference"] = max_diff
    stats["seconds"] = seconds
    stats["model"] = predictor.source.describe()
    return stats


# ---------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=7)
    parser.add_argument("--first-prediction-runs", type=int, default=3)
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--draw-seconds", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=120.0, help="pointer events per second")
    parser.add_argument("--child-first-prediction", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_first_prediction:
        return child_first_prediction()

    platform = "xcb (DISPLAY)" if os.environ.get("DISPLAY") else "offscreen"
    print(f"drawdigit GUI benchmark; Qt platform: {os.environ.get('QT_QPA_PLATFORM', platform)}")
    print(f"CPU cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f} (noisy if > cores)")

    if args.launches:
        times = bench_launch(args.launches)
        print(_median_line("1. launch -> window shown (python -m drawdigit)", times))
    if args.first_prediction_runs:
        marks = bench_first_prediction(args.first_prediction_runs)
        for key in ("shown", "drawn", "model_ready", "first_prediction"):
            print(_median_line(f"2. launch -> {key.replace('_', ' ')}", [m[key] for m in marks]))
        rss = statistics.median(m["idle_rss_mb"] for m in marks)
        print(f"   idle memory {IDLE_SECONDS} s after the first answer: median RSS {rss:.0f} MB")
        print(f"   torch imported by then: {sum(m.get('torch', False) for m in marks)} runs")

    os.environ.update(_env())
    from drawdigit.gui.app import create_application

    app = create_application([sys.argv[0]])
    window = _open_window(app)
    live = bench_live_drawing(app, window, args.draw_seconds, args.rate)
    print(f"3. drawing: {live['events']} pointer events at {live['event_rate']:.0f}/s")
    p2p = sorted(live["pointer_to_pixels_s"])
    print("   " + _median_line("pointer event -> segment painted (GUI thread)", p2p))
    print(f"   ... p95 {_ms(p2p[int(0.95 * (len(p2p) - 1))])} (one frame at 60 Hz: 16.7 ms)")
    print(f"   recognition updates while drawing: {live['updates_per_second']:.1f} per second")
    print("   " + _median_line("worker time per update (preprocess + classify)", live["worker_s"]))
    print("   " + _median_line("drawing change -> answer shown", live["latency_s"]))

    if args.drawings:
        if not (UNIPEN / "labels.csv").is_file():
            print(f"4. skipped: {UNIPEN} not found")
        else:
            r = bench_replay(app, window, args.drawings)
            n = r["n"]
            print(
                f"4. unipen-dev replayed through the canvas: {n} drawings in {r['seconds']:.1f} s"
            )
            print(f"   model: {r['model']}")
            print(
                f"   strokes identical to the file: {r['same_strokes']}/{n}; 28x28 input "
                f"identical: {r['same_input']}/{n} (max abs difference "
                f"{r['max_abs_input_difference']:.2g})"
            )
            print(
                f"   same answer as preprocess+model in-process: {r['same_digit']}/{n}; "
                f"as `drawdigit predict`: {r['same_as_cli']}/{r['cli_answers']}"
            )
            print(
                f"   accuracy via canvas {r['correct_canvas'] / n * 100:.1f}%, via files "
                f"{r['correct_file'] / n * 100:.1f}%; unflagged via canvas "
                f"{r['correct_unflagged'] / max(1, r['unflagged']) * 100:.1f}% "
                f"(n={r['unflagged']})"
            )
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
