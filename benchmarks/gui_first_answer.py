"""The child process of ``bench_gui.py``'s launch-to-first-answer figure, and the pointer
events the GUI benchmarks send.

    BENCH_T0=<time.monotonic() just before the spawn> python benchmarks/gui_first_answer.py

It starts the app through ``run_gui`` (the code path of ``drawdigit`` with no command),
draws a "1" with mouse events the moment the window has painted (while the model is still
loading) and, once the answer is on screen, waits ``IDLE_SECONDS``, reads the idle memory
(RSS, before any training) and prints one JSON line of marks (seconds since BENCH_T0).

This module imports nothing but ``os``, ``sys``, ``json`` and ``time`` before ``run_gui``
(Qt is imported inside the functions): what a benchmark harness imports first would count
as start-up time.
"""

from __future__ import annotations

import json
import os
import sys
import time

IDLE_SECONDS = 2  # after the first answer, before the idle memory is read


def send(canvas, kind: str, x: float, y: float) -> None:
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


def stroke(canvas, points) -> None:
    """Press at the first point, move through the others, release at the last."""
    send(canvas, "press", *points[0])
    for point in points[1:]:
        send(canvas, "move", *point)
    send(canvas, "release", *points[-1])


def rss_mb() -> float:
    """This process's resident memory (Linux /proc), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    t0 = float(os.environ["BENCH_T0"])
    marks: dict[str, object] = {"started": time.monotonic() - t0}
    from drawdigit.gui.app import run_gui

    def hooks(app, window) -> None:
        from PySide6.QtCore import QTimer

        def shown() -> None:
            marks["shown"] = time.monotonic() - t0
            marks["numpy_at_shown"] = "numpy" in sys.modules
            stroke(window.canvas, [(140.0, 45.0 + 5 * k) for k in range(39)])
            marks["drawn"] = time.monotonic() - t0

        def ready(*_args) -> None:
            marks["model_ready"] = time.monotonic() - t0

        def idle_then_quit() -> None:
            marks["idle_rss_mb"] = rss_mb()
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

    run_gui([sys.argv[0]], on_window=hooks)
    print(json.dumps(marks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
