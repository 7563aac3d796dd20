"""Benchmark the "Look inside" window while a drawing is made at pointer rate.

    python benchmarks/bench_inside.py [--seconds 8] [--rounds 3] [--data-dir DIR]

The main window (bundled model) gets synthetic mouse events at 120 Hz (a "7", a "4" and a
"0" drawn, cleared and drawn again, in a loop, with the canvas's own throttling), in rounds
that alternate the inside window closed and open, so that both see the same machine load.
Printed, with medians over the rounds:

- answers per second on the main window, the recogniser's worker time per answer
  (``RecognitionResult.seconds``: preprocessing + network) and the latency from a drawing
  handed to the recogniser to its answer shown, with the inside window closed and open:
  what opening it costs the answer;
- with it open: its refreshes per second (frames shown: heat, the three layers' maps and,
  once the index is ready, the 8 nearest memories; at most 15 a second by design), its
  worker time per frame (wall clock, and the CPU time its thread used: what a frame costs
  whatever else runs), and the GUI thread's time to show a frame (turning the arrays into
  QImages and laying them out).

The memories: ``DRAWDIGIT_MNIST_DIR`` is set to ``../shared/mnist`` and the user data dir to
``--data-dir`` (kept between runs, so the 60,000-vector cache is built once, the first
time, before the rounds start; its build time is printed). Qt runs offscreen unless
DISPLAY is set. Timings on a shared machine are noisy: compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MNIST = REPO.parent / "shared" / "mnist"
POINTER_HZ = 120


def _path(corners: list[tuple[float, float]], step: float = 3.0) -> list[tuple[float, float]]:
    points = [corners[0]]
    for (ax, ay), (bx, by) in zip(corners, corners[1:], strict=False):
        n = max(1, math.ceil(math.hypot(bx - ax, by - ay) / step))
        points += [(ax + (bx - ax) * k / n, ay + (by - ay) * k / n) for k in range(1, n + 1)]
    return points


def _ring(cx: float, cy: float, rx: float, ry: float, n: int = 90) -> list[tuple[float, float]]:
    return [
        (cx + rx * math.sin(2 * math.pi * k / n), cy - ry * math.cos(2 * math.pi * k / n))
        for k in range(n + 1)
    ]


DRAWINGS = [
    [_path([(78, 62), (202, 62), (120, 232)])],
    [_path([(165, 45), (78, 170), (212, 170)]), _path([(165, 95), (165, 240)])],
    [_ring(140, 140, 58, 92)],
]


def _events() -> list[tuple[str, float, float]]:
    """One loop of the pointer: each drawing's strokes, then a clear."""
    events: list[tuple[str, float, float]] = []
    for strokes in DRAWINGS:
        for points in strokes:
            events.append(("press", *points[0]))
            events += [("move", *p) for p in points[1:]]
            events.append(("release", *points[-1]))
        events.append(("clear", 0.0, 0.0))
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per round and state")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/drawdigit-bench-inside"))
    args = parser.parse_args()

    os.environ["DRAWDIGIT_DATA_DIR"] = str(args.data_dir)
    os.environ["DRAWDIGIT_MNIST_DIR"] = str(MNIST)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(HERE))
    from gui_first_answer import send  # beside this file
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from drawdigit.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(900, 640)
    window.show()
    window.start_recognition()

    def spin(seconds: float, until=lambda: False) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    spin(120, window.model_ready)
    if not window.model_ready():
        print("the model did not load", file=sys.stderr)
        return 1

    answers: list[float] = []  # recogniser seconds, this state
    frames: list[float] = []  # inside worker seconds
    shows: list[float] = []  # GUI thread seconds to show a frame
    latencies: list[float] = []  # drawing handed to the recogniser -> its answer shown
    submitted: dict[int, float] = {}

    def on_drawing(_source) -> None:  # connected after the window's own slot: seq is set
        submitted[window._submitted_seq] = time.perf_counter()

    def on_answer(result) -> None:
        answers.append(result.seconds)
        if result.seq in submitted:
            latencies.append(time.perf_counter() - submitted.pop(result.seq))

    window.canvas.drawingChanged.connect(on_drawing)
    window.recognitionShown.connect(on_answer)

    window.commands.look_inside.trigger()
    inside = window._inside_window
    inside.resize(720, 780)

    cpu: list[float] = []  # inside worker CPU seconds

    def on_frame(frame) -> None:
        frames.append(frame.seconds)
        cpu.append(frame.cpu_seconds)
        shows.append(window._inside_window.last_show_seconds)

    inside.frameShown.connect(on_frame)

    cached = any((args.data_dir / "cache").glob("memories-*.npz"))
    started = time.monotonic()
    spin(120, inside.memories_building)  # the model loads, then the build starts
    spin(900, lambda: not inside.memories_building())
    if inside._built is not None:
        how = "read from the cache" if cached else "built: the first time for this model"
        print(f"memory index ready in {time.monotonic() - started:.1f} s ({how})")
    else:
        print(f"no memories: {inside._memories_note}")
    inside.close()

    events = _events()
    position = [0]

    def step() -> None:
        kind, x, y = events[position[0] % len(events)]
        position[0] += 1
        if kind == "clear":
            window.canvas.clear()
        else:
            send(window.canvas, kind, x, y)

    timer = QTimer()
    timer.setInterval(round(1000 / POINTER_HZ))
    timer.timeout.connect(step)

    results: dict[str, list[dict[str, float]]] = {"closed": [], "open": []}
    for _ in range(args.rounds):
        for state in ("closed", "open"):
            if state == "open":
                window.open_inside_window()
                spin(10, lambda: inside.shown_frame() is not None)
            spin(0.5)
            for series in (answers, frames, shows, cpu, latencies):
                series.clear()
            timer.start()
            t0 = time.monotonic()
            spin(args.seconds)
            elapsed = time.monotonic() - t0
            timer.stop()
            row = {
                "answers_per_s": len(answers) / elapsed,
                "answer_ms": 1000 * statistics.median(answers) if answers else math.nan,
                "latency_ms": 1000 * statistics.median(latencies) if latencies else math.nan,
            }
            if state == "open":
                row["frames_per_s"] = len(frames) / elapsed
                row["frame_ms"] = 1000 * statistics.median(frames) if frames else math.nan
                row["frame_cpu_ms"] = 1000 * statistics.median(cpu) if cpu else math.nan
                row["show_ms"] = 1000 * statistics.median(shows) if shows else math.nan
                inside.close()
            results[state].append(row)

    print(f"{args.rounds} rounds of {args.seconds:.0f} s per state, pointer at {POINTER_HZ} Hz")
    for state, rows in results.items():
        keys = rows[0].keys()
        medians = {k: statistics.median(r[k] for r in rows) for k in keys}
        text = ", ".join(f"{k} {v:.2f}" for k, v in medians.items())
        print(f"inside window {state}: {text}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
