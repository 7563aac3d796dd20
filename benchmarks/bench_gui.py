"""Benchmark the main window: start-up, live recognition, and the canvas against the CLI.

    python benchmarks/bench_gui.py [--launches 7] [--drawings 300]

Prints, with medians:
1. launch to window shown: ``python -m drawdigit`` started as a subprocess, the app writes
   ``time.monotonic()`` when its window has first painted (``DRAWDIGIT_EXIT_AFTER_SHOWN``)
   and quits; the clock is shared by all processes. Also launch to the answer for a sample
   opened as the window shows (``DRAWDIGIT_EXIT_AFTER_PREDICTION``). Interleaved with the
   floor, a bare PySide6 window timed the same way, and with ``--baseline DIR`` (another
   checkout, e.g. from ``git archive``): on a busy machine, compare figures of one run;
2. launch to first prediction: ``gui_first_answer.py`` starts the app through ``run_gui``,
   draws a "1" with mouse events the moment the window shows (while the model is still
   loading) and stops when the answer is on screen; then, idle for 2 s, its memory (RSS)
   and whether numpy (at shown) and torch (at all) were imported; with ``--baseline``
   the other checkout too, interleaved;
3. while drawing with synthetic pointer events at 120 Hz: the GUI thread's time from a
   pointer event to the segment painted, recognition updates per second, the worker's ms
   per update and the latency from drawing change to answer shown;
4. unipen-dev drawings replayed through the canvas with mouse events: the canvas's 28x28
   input and answer against ``preprocess(load_drawing(file))`` and ``drawdigit predict``.

Qt runs offscreen unless DISPLAY is set and QT_QPA_PLATFORM is not. drawdigit's bytecode is
compiled first and the children may write it, as an installed package has it. Timings on a
shared machine are noisy: compare medians from runs on the same machine only.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
UNIPEN = REPO.parent / "shared" / "unipen-dev"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from gui_first_answer import IDLE_SECONDS, send, stroke  # noqa: E402 (beside this file)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # As installed: Python reads cached bytecode. Without it (PYTHONDONTWRITEBYTECODE is set
    # on some machines) every launch compiles drawdigit's modules again, 0.1-0.2 s.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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

# The floor: a bare PySide6 window with a menu and a label, timed like the app (to its first
# paint). No Qt app can show a window sooner on this machine; on a busy machine both grow.
FLOOR = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

class Label(QLabel):
    def paintEvent(self, event):
        super().paintEvent(event)
        QTimer.singleShot(0, done)

def done():
    open(sys.argv[1], "w").write(repr(time.monotonic()))
    app.quit()

app = QApplication(sys.argv[:1])
window = QMainWindow()
window.menuBar().addMenu("File")
window.setCentralWidget(Label("floor"))
window.resize(940, 640)
window.show()
app.exec()
"""


def bench_launch(runs: int, sources: dict[str, Path]) -> dict[str, list[float]]:
    """For each checkout in ``sources`` (label -> folder): launch -> window painted
    (``DRAWDIGIT_EXIT_AFTER_SHOWN``) and launch -> the answer for a sample opened the moment
    the window shows (``DRAWDIGIT_EXIT_AFTER_PREDICTION``, as bench_bundle.py times the
    frozen app); and the floor. All interleaved, so that every figure sees the same load."""
    times: dict[str, list[float]] = {"floor": []}
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "marker"
        env = _env(DRAWDIGIT_DATA_DIR=tmp, XDG_CONFIG_HOME=str(Path(tmp) / "config"))
        for _ in range(runs):
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", FLOOR, str(marker)], env=env, check=True)
            times["floor"].append(float(marker.read_text()) - started)
            for label, source in sources.items():
                for hook, what in (("SHOWN", "shown"), ("PREDICTION", "answer")):
                    run_env = dict(env, PYTHONPATH=str(source))
                    run_env[f"DRAWDIGIT_EXIT_AFTER_{hook}"] = str(marker)
                    command = [sys.executable, "-m", "drawdigit"]
                    started = time.monotonic()
                    subprocess.run(command, cwd=source, env=run_env, check=True, timeout=120)
                    fields = marker.read_text().split()
                    at = float(fields[0] if what == "shown" else fields[1])
                    times.setdefault(f"{label}: launch -> {what}", []).append(at - started)
    return times


# ---------------------------------------------------------------------- 2. first prediction


def bench_first_prediction(runs: int, sources: dict[str, Path]) -> dict[str, list[dict]]:
    """Runs of ``gui_first_answer.py`` (the app started through ``run_gui``, a "1" drawn
    the moment the window shows), each with fresh user data and settings: the bundled
    model loads, no saved window geometry is restored. For each checkout in ``sources``
    (label -> folder, first on PYTHONPATH), interleaved so that all see the same load."""
    out: dict[str, list[dict]] = {label: [] for label in sources}
    for _ in range(runs):
        for label, source in sources.items():
            with tempfile.TemporaryDirectory() as tmp:
                started = time.monotonic()
                result = subprocess.run(
                    [sys.executable, str(HERE / "gui_first_answer.py")],
                    cwd=REPO,
                    env=_env(
                        BENCH_T0=repr(started),
                        DRAWDIGIT_DATA_DIR=tmp,
                        XDG_CONFIG_HOME=str(Path(tmp) / "config"),  # no saved geometry
                        PYTHONPATH=str(source),
                    ),
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=180,
                )
            out[label].append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


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
            send(canvas, "press", *point(0))
        elif i < total:
            send(canvas, "move", *point(i))
        else:
            send(canvas, "release", *point(i - 1))
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
        for points in drawing.strokes:
            stroke(canvas, points)
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
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (git archive) to launch and draw in, in the same runs",
    )
    parser.add_argument("--first-prediction-runs", type=int, default=3)
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--draw-seconds", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=120.0, help="pointer events per second")
    args = parser.parse_args()
    compileall.compile_dir(REPO / "drawdigit", quiet=1)  # see the docstring

    platform = "xcb (DISPLAY)" if os.environ.get("DISPLAY") else "offscreen"
    print(f"drawdigit GUI benchmark; Qt platform: {os.environ.get('QT_QPA_PLATFORM', platform)}")
    print(f"CPU cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f} (noisy if > cores)")

    sources = {"this checkout": REPO}
    if args.baseline:
        sources["baseline"] = args.baseline.resolve()
        compileall.compile_dir(sources["baseline"] / "drawdigit", quiet=1)
    if args.launches:
        times = bench_launch(args.launches, sources)
        print("1. python -m drawdigit, a new user's start (bundled model, no settings):")
        for name, values in times.items():
            print("   " + _median_line(name, values))
        print("   (floor: a bare PySide6 window; answer: a sample opened when the window shows)")
    if args.first_prediction_runs:
        runs = bench_first_prediction(args.first_prediction_runs, sources)
        for label, marks in runs.items():
            print(f"2. {label}: a '1' drawn as the window shows")
            for key in ("shown", "drawn", "model_ready", "first_prediction"):
                name = f"launch -> {key.replace('_', ' ')}"
                print("   " + _median_line(name, [m[key] for m in marks]))
            rss = statistics.median(m["idle_rss_mb"] for m in marks)
            print(
                f"   idle memory {IDLE_SECONDS} s after the first answer: median RSS {rss:.0f} MB"
            )
            print(f"   numpy imported when shown: {sum(m['numpy_at_shown'] for m in marks)} runs")
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
