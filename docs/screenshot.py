"""Make the README's screenshot: the real main window recognising a drawn digit.

Run it from the checkout whenever the window changes::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshot.py

It opens the app's own ``MainWindow`` (offscreen unless ``QT_QPA_PLATFORM`` says otherwise),
waits for the bundled model, draws a bundled sample drawing on the canvas through real mouse
press, move and release events, as a person would, waits until the panel shows the answer
for the whole drawing, and saves the window (``QWidget.grab``) as ``docs/images/app.png``.

Why this way: a screenshot made by hand goes stale the day the window changes, and one
made from a pixel mock-up would show something the app does not do. Here everything on
the picture is the app's own work. It never touches the user's data: the data folder
(``DRAWDIGIT_DATA_DIR``) and the settings (QSettings, XDG folders) point into a temporary
folder that is removed afterwards, so the bundled model answers and no sample is kept.

The PNG is reduced to a 256-colour palette with Pillow (a dependency of the app already) to
keep the repository small; flat window colours and anti-aliased text survive that unharmed.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "images" / "app.png"
DEFAULT_SAMPLE = "digit-3.json"
WINDOW_SIZE = (940, 640)  # the window's default size (gui/window/settings.DEFAULT_SIZE)
STEP = 3.0  # canvas pixels between two pointer moves, about what a mouse reports
TIMEOUT = 120.0  # seconds for the model to load and the answer to come, on a busy machine


def _isolate(root: Path) -> None:
    """Point every place the app reads or writes per user into ``root`` (before Qt starts)."""
    os.environ["DRAWDIGIT_DATA_DIR"] = str(root / "data")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(root / name.lower())
    os.environ.pop("DRAWDIGIT_MNIST_DIR", None)


def _wait(app, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Run the event loop until ``condition`` holds; a clear error after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting {timeout:.0f} s for {what}")
        app.processEvents()
        time.sleep(0.01)


def _densify(stroke: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """The stroke's points with extra points every ``step`` pixels, like a mouse's moves."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in pairwise(stroke):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        points += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return points


def draw_strokes(app, canvas, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw ``strokes`` (canvas document coordinates) with QTest's mouse events."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for stroke in strokes:
        pixels = [canvas.to_widget(x, y).toPoint() for x, y in _densify(stroke, STEP)]
        QTest.mousePress(canvas, left, none, pixels[0])
        for pixel in pixels[1:]:
            QTest.mouseMove(canvas, pixel)
            app.processEvents()  # as between real events: the live answer may come meanwhile
        QTest.mouseRelease(canvas, left, none, pixels[-1])


def small_png(png: bytes) -> bytes:
    """The PNG reduced to a 256-colour palette and saved with Pillow's optimiser."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    return out.getvalue()


def make_screenshot(out: Path, sample: str = DEFAULT_SAMPLE) -> str:
    """Draw ``sample`` in the real window and save the window as ``out``; returns the
    answer shown. Raises ``RuntimeError`` when the app does not read the sample right."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSettings

    from drawdigit.gui.app import create_application
    from drawdigit.gui.main_window import MainWindow
    from drawdigit.store import resource_path
    from drawdigit.strokes import load_drawing

    drawing = load_drawing(resource_path("samples", sample))
    settings_dir = os.environ["XDG_CONFIG_HOME"]
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, settings_dir)

    app = create_application(["drawdigit"])
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    _wait(app, lambda: window.model_state() != "loading", "the model to load")
    if not window.model_ready():
        raise RuntimeError(f"the bundled model did not load: {window.model_label.toolTip()}")

    draw_strokes(app, window.canvas, [list(s) for s in drawing.strokes])
    _wait(
        app,
        lambda: (
            window.shows_current_answer()
            and window.last_result().decision is not None
            and not window.panel.is_holding()
        ),
        "the answer",
    )
    for _ in range(20):  # let the last repaints (bars, the 28x28 view) reach the widgets
        app.processEvents()
        time.sleep(0.01)

    decision = window.last_result().decision
    found = re.fullmatch(r"digit-(\d)\.json", sample)
    expected = int(found.group(1)) if found else None
    if expected is not None and (decision.kind != "digit" or decision.digit != expected):
        raise RuntimeError(f"{sample} was read as {decision.kind} {decision.digit}, not {expected}")

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not window.grab().save(buffer, "PNG"):
        raise RuntimeError("the window could not be grabbed as a PNG")
    buffer.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(small_png(bytes(data.data())))

    window.canvas.undo_stack.setClean()  # nothing to save: close without asking
    window.close()
    app.processEvents()
    return f"{decision.kind} {decision.digit} ({decision.confidence:.1%})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    parser.add_argument(
        "--sample",
        default=DEFAULT_SAMPLE,
        help="a bundled sample drawing to draw (resources/samples/, default %(default)s)",
    )
    args = parser.parse_args(argv)
    from drawdigit.strokes import StrokesError

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="drawdigit-screenshot-") as tmp:
        _isolate(Path(tmp))
        try:
            answer = make_screenshot(args.out, args.sample)
        except (OSError, RuntimeError, TimeoutError, StrokesError) as exc:
            print(f"screenshot: error: {exc}", file=sys.stderr)
            return 1
    size = args.out.stat().st_size
    print(f"{args.out}: {size / 1024:.0f} KB, the window answering {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
