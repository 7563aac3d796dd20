"""The main window end to end: real mouse events, the real recogniser thread and model.

Tests that check *which* digit is recognised use the model the app would use
(``load_predictor()``'s default: the bundled ``resources/model/drawdigit.pt``); the others
run against a throwaway model saved as the user's active model, so they exercise the same
loading path without depending on trained weights.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from drawdigit.formatting import percent
from drawdigit.gui.main_window import MainWindow
from drawdigit.gui.window.settings import DEFAULT_SIZE, MINIMUM_SIZE
from drawdigit.inference import Prediction
from drawdigit.model import DigitNet, ModelConfig
from drawdigit.preprocess import preprocess
from drawdigit.store import active_model_path, save_checkpoint
from drawdigit.strokes import Drawing, load_drawing, save_drawing

REPO = Path(__file__).resolve().parents[1]
MODEL_TIMEOUT_MS = 90_000  # the first load imports torch in the worker: slow on 2 busy cores


# ---------------------------------------------------------------------- fixtures, helpers


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    """QSettings (window geometry, last folder) in a temp dir, never the developer's."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def throwaway_model(user_data) -> Path:
    """An untrained (seeded) network saved as the user's active model."""
    torch.manual_seed(0)
    path = active_model_path()
    save_checkpoint(
        path,
        DigitNet().state_dict(),
        ModelConfig(),
        {"created": "2024-05-06T07:08:09", "test_accuracy": 0.1, "recipe": "test"},
    )
    return path


@pytest.fixture
def open_window(qtbot):
    """A shown main window whose model has finished loading (or failed to)."""
    windows = []  # alive until teardown, when qtbot closes them

    def make() -> MainWindow:
        window = MainWindow()
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
        window.activateWindow()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.model_state() != "loading", timeout=MODEL_TIMEOUT_MS)
        return window

    yield make


@pytest.fixture
def window(open_window, throwaway_model) -> MainWindow:
    window = open_window()
    assert window.model_ready(), window.model_label.toolTip()
    return window


@pytest.fixture
def real_window(open_window) -> MainWindow:
    """The window with the model the app ships (no user model in the test's data dir)."""
    window = open_window()
    assert window.model_ready(), (
        "the bundled model could not be loaded (resources/model/drawdigit.pt): "
        + window.model_label.toolTip()
    )
    return window


def draw(window: MainWindow, *strokes, button=Qt.MouseButton.LeftButton) -> None:
    """Draw strokes (document points on the 280 x 280 canvas) with QTest mouse events."""
    canvas = window.canvas
    for points in strokes:
        pixels = [canvas.to_widget(x, y).toPoint() for x, y in points]
        QTest.mousePress(canvas, button, Qt.KeyboardModifier.NoModifier, pixels[0])
        for pixel in pixels[1:]:
            QTest.mouseMove(canvas, pixel)
        QTest.mouseRelease(canvas, button, Qt.KeyboardModifier.NoModifier, pixels[-1])


def polyline(*corners, step=4.0):
    points = [corners[0]]
    for a, b in zip(corners, corners[1:], strict=False):
        n = max(1, math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / step))
        points += [
            (a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(1, n + 1)
        ]
    return points


def arc(cx, cy, rx, ry, start_deg, end_deg, n=40):
    return [
        (
            cx + rx * math.cos(math.radians(start_deg + (end_deg - start_deg) * k / n)),
            cy + ry * math.sin(math.radians(start_deg + (end_deg - start_deg) * k / n)),
        )
        for k in range(n + 1)
    ]


def answer_for(window: MainWindow, qtbot) -> Prediction:
    """Wait until the panel shows the answer for the canvas as it is now."""
    expected = window.canvas.drawing()
    qtbot.waitUntil(
        lambda: (
            window.last_result() is not None
            and window.last_result().prediction is not None
            and window.shows_current_answer()
        ),
        timeout=MODEL_TIMEOUT_MS,
    )
    assert window.canvas.drawing() == expected
    return window.last_result().prediction


def visible_boxes(window: MainWindow) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.isVisible()]


def when_shown(window: MainWindow, kind: type, act, tries: int = 6000) -> None:
    """Call ``act(widget)`` (or ``act()`` for message boxes) once a visible ``kind`` child of
    the window is up: for the dialogs the window opens with their own event loop (static
    QFileDialog and QMessageBox calls), which return only once answered."""

    def look(left: int = tries) -> None:
        shown = [w for w in window.findChildren(kind) if w.isVisible()]
        if shown:
            act() if kind is QMessageBox else act(shown[0])
        elif left:
            QTimer.singleShot(10, lambda: look(left - 1))

    QTimer.singleShot(0, look)


def drop(window: MainWindow, path: Path) -> None:
    """A real drop event with the file's URL, as a file manager sends it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(QPoint(200, 200), *args)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    QApplication.sendEvent(window, QDropEvent(QPointF(200, 200), *args))
    read_all(window)


def read_all(window: MainWindow) -> None:
    """Let the file being read off the GUI thread arrive (shown, asked about or refused)."""
    deadline = time.monotonic() + 30
    while window.document.is_reading() and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.002)
    assert not window.document.is_reading(), "the file was not read within 30 s"


def open_and_wait(window: MainWindow, qtbot, path: Path) -> None:
    """Open a file (read off the GUI thread) and wait until it is shown."""
    with qtbot.waitSignal(window.document.opened, timeout=30_000):
        window.open_path(path)


ONE = [polyline((140, 45), (140, 235))]
ZERO = [arc(140, 140, 58, 92, -90, 270, n=72)]
SEVEN = [polyline((78, 62), (202, 62), (120, 232))]
FOUR = [polyline((165, 45), (78, 170), (212, 170)), polyline((165, 95), (165, 240))]
THREE = [arc(135, 95, 55, 48, 200, 450, n=36)[:-6] + arc(135, 185, 60, 52, -90, 160, n=36)]


# ---------------------------------------------------------------------- real answers


@pytest.mark.parametrize(
    ("strokes", "digit"),
    [(ONE, 1), (ZERO, 0), (SEVEN, 7), (FOUR, 4), (THREE, 3)],
    ids=["vertical line: 1", "closed loop: 0", "seven", "four", "three"],
)
def test_drawn_digits_are_recognised(real_window, qtbot, strokes, digit):
    draw(real_window, *strokes)
    prediction = answer_for(real_window, qtbot)
    assert prediction.digit == digit, prediction.probabilities
    decision = real_window.last_result().decision
    assert decision.kind in ("digit", "unsure") and decision.digit == digit
    panel = real_window.panel
    if decision.kind == "unsure":
        assert panel.shown_digit() == f"{digit}?"
        assert panel.headline_label.text().startswith("Probably ")
    else:
        assert panel.shown_digit() == str(digit)
        assert panel.headline_label.text().endswith("% sure")
    # The bars show the distribution the decision was made from: P(d), P(not a digit).
    assert panel.bars.probabilities() == list(decision.distribution)


@pytest.mark.parametrize("size", [MINIMUM_SIZE, DEFAULT_SIZE], ids=["smallest", "default"])
def test_the_eleven_bars_fit_the_panel_at_every_size(real_window, qtbot, size):
    """Ten digits and "not a digit": at the window's smallest size too, the answer, the bars
    and the 28x28 view each get the room they ask for, one below the other, none cut."""
    real_window.resize(*size)
    open_and_wait(real_window, qtbot, Path(__file__).parent / "data" / "pen-letter-A.json")
    decision_for(real_window, qtbot)
    panel = real_window.panel
    qtbot.waitUntil(lambda: panel.bars.probabilities() is not None, timeout=MODEL_TIMEOUT_MS)
    QApplication.processEvents()
    assert (real_window.width(), real_window.height()) == size
    parts = [
        panel.digit_label,
        panel.headline_label,
        panel.correction_row,
        panel.bars,
        panel.input_title,
        panel.input_view,
    ]
    boxes = [part.geometry() for part in parts]
    for part, box in zip(parts, boxes, strict=True):
        assert panel.rect().contains(box), (type(part).__name__, box, panel.rect())
        assert box.height() >= part.minimumSizeHint().height(), type(part).__name__
    assert all(a.bottom() < b.top() for a, b in zip(boxes, boxes[1:], strict=False)), boxes
    assert panel.headline_label.heightForWidth(panel.width()) <= boxes[1].height()
    assert len(panel.bars.probabilities()) == 11


def test_canvas_and_saved_file_give_the_same_input_and_answer(real_window, qtbot, tmp_path):
    draw(real_window, *SEVEN)
    shown = answer_for(real_window, qtbot)
    path = tmp_path / "seven.json"
    assert real_window.document.save_to(path)
    from_file = preprocess(load_drawing(path))
    assert np.array_equal(real_window.last_result().image28, from_file)
    # ... and the same answer as `drawdigit predict seven.json`
    output = subprocess.run(
        [sys.executable, "-m", "drawdigit", "predict", "--json", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    ).stdout
    assert json.loads(output.splitlines()[-1])["digit"] == shown.digit


def test_restore_bundled_model(open_window, throwaway_model, qtbot):
    window = open_window()
    assert window.model_source().kind == "user"
    assert window.commands.restore_model.isEnabled()
    window.restore_bundled_model(confirm=False)
    assert not throwaway_model.exists()
    kept = list(throwaway_model.parent.glob("set-aside-*.pt"))
    assert len(kept) == 1 and kept[0].with_suffix(".json").is_file()
    qtbot.waitUntil(lambda: window.model_state() != "loading", timeout=MODEL_TIMEOUT_MS)
    assert window.model_ready(), window.model_label.toolTip()
    assert window.model_source().kind == "bundled"
    assert "bundled" in window.model_label.text()
    assert not window.commands.restore_model.isEnabled()


def test_restore_bundled_model_answered_no_changes_nothing(open_window, throwaway_model, qtbot):
    """Model > Restore Bundled Model asks first; "No" keeps the user's model in use."""
    window = open_window()
    before = throwaway_model.read_bytes()
    asked: list[str] = []

    def answer_no() -> None:
        (box,) = visible_boxes(window)
        asked.append(box.text())
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)

    when_shown(window, QMessageBox, answer_no)
    window.commands.restore_model.trigger()  # the question's own event loop runs the answer
    assert asked and asked[0].startswith("Use the model that came with drawdigit again?")
    assert throwaway_model.read_bytes() == before
    assert list(throwaway_model.parent.glob("set-aside-*")) == []
    assert window.model_state() == "ready" and window.model_source().kind == "user"
    assert window.commands.restore_model.isEnabled()
    assert visible_boxes(window) == []


def test_the_models_dialog_brings_a_set_aside_model_back(open_window, throwaway_model, qtbot):
    """Restore Bundled Model sets the user's model aside; Model > Models… lists it with its
    figures and switches back to it, and the window then answers with it."""
    window = open_window()
    window.restore_bundled_model(confirm=False)
    qtbot.waitUntil(lambda: window.model_state() != "loading", timeout=MODEL_TIMEOUT_MS)
    assert window.model_source().kind == "bundled"
    window.commands.models.trigger()
    dialog = window._models_dialog
    qtbot.waitExposed(dialog)
    rows = [dialog.tree.topLevelItem(r).text(0) for r in range(dialog.tree.topLevelItemCount())]
    assert rows == ["Bundled model (in use)", "set-aside-" + rows[1].removeprefix("set-aside-")]
    assert dialog.tree.topLevelItem(1).text(1) == "10.00%"  # the throwaway model's figure
    dialog.select(1)
    assert dialog.use_selected()
    qtbot.waitUntil(lambda: window.model_state() == "ready", timeout=MODEL_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.model_source().kind == "user", timeout=MODEL_TIMEOUT_MS)
    assert "10.00%" in window.model_label.text()
    assert dialog.tree.topLevelItem(1).text(0).endswith("(in use)")


# ---------------------------------------------------------------------- behaviour


def test_empty_canvas_never_shows_a_digit(window, qtbot):
    panel = window.panel
    assert panel.shown_digit() == "" and panel.headline_label.text() == "Draw a digit"
    draw(window, *FOUR)
    answer_for(window, qtbot)
    assert panel.shown_digit() not in ("", "…")
    # Clear right after drawing, without waiting: late answers must not reappear.
    draw(window, *ONE)
    window.commands.clear.trigger()
    assert panel.shown_digit() == "" and panel.headline_label.text() == "Draw a digit"
    qtbot.wait(300)
    assert panel.shown_digit() == "" and panel.bars.probabilities() is None
    assert panel.input_view.image() is None
    assert window.last_result() is None
    # Undo back to an empty canvas: the hint again
    window.commands.undo.trigger()
    answer_for(window, qtbot)
    while window.canvas.undo_stack.canUndo():
        window.commands.undo.trigger()
    qtbot.wait(300)
    assert window.canvas.is_empty()
    assert panel.shown_digit() == "" and panel.headline_label.text() == "Draw a digit"


def test_the_panel_shows_what_the_model_sees(window, qtbot):
    draw(window, *ZERO)
    answer_for(window, qtbot)
    shown = window.panel.input_view.image()
    assert shown is not None and (shown.width(), shown.height()) == (28, 28)
    expected = np.rint(np.clip(window.last_result().image28, 0, 1) * 255).astype(np.uint8)
    pixels = np.array([[shown.pixelColor(x, y).red() for x in range(28)] for y in range(28)])
    assert np.array_equal(pixels, expected)


def test_unsure_answers_say_so():
    probabilities = np.zeros(10)
    probabilities[4], probabilities[9], probabilities[7] = 0.48, 0.42, 0.10
    prediction = Prediction.from_probabilities(probabilities)
    assert prediction.unsure
    from drawdigit.gui.prediction_panel import PredictionPanel

    panel = PredictionPanel()
    panel.show_prediction(prediction)
    assert panel.shown_digit() == "4?"
    assert panel.headline_label.text() == "Probably 4 — or 9"
    panel.show_empty()
    assert panel.shown_digit() == "" and panel.bars.probabilities() is None


def test_keyboard_undo_redo_clear_and_eraser(window, qtbot):
    canvas = window.canvas
    draw(window, *FOUR)
    assert len(canvas.drawing().strokes) == 2
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(canvas.drawing().strokes) == 1
    QTest.keyClick(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert len(canvas.drawing().strokes) == 2
    QTest.keyClick(window, Qt.Key.Key_E)
    assert window.commands.eraser.isChecked() and canvas.eraser_mode()
    draw(window, polyline((60, 170), (230, 170)))  # erases across the 4's bar
    assert all(
        abs(y - 170) > canvas.pen_width() for stroke in canvas.drawing().strokes for _, y in stroke
    )
    QTest.keyClick(window, Qt.Key.Key_E)
    assert not canvas.eraser_mode()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert canvas.is_empty()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not canvas.is_empty()
    QTest.keyClick(window, Qt.Key.Key_Delete)
    assert canvas.is_empty()


def test_save_then_reopen_gives_the_same_strokes(window, qtbot, tmp_path):
    draw(window, *FOUR)
    drawing = window.canvas.drawing()
    path = tmp_path / "four.json"
    assert window.document.save_to(path)
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("four.json")
    assert load_drawing(path) == drawing
    window.commands.clear.trigger()
    open_and_wait(window, qtbot, path)
    assert window.canvas.drawing() == drawing
    qtbot.waitUntil(lambda: window.last_result() is not None)
    assert np.array_equal(window.last_result().image28, preprocess(drawing))
    # a strokes file under another name is recognised by its content
    renamed = tmp_path / "four.txt"
    renamed.write_bytes(path.read_bytes())
    window.commands.clear.trigger()
    open_and_wait(window, qtbot, renamed)
    assert window.canvas.drawing() == drawing


def test_opening_a_file_with_another_canvas_size_keeps_it(window, qtbot, tmp_path):
    drawing = Drawing(560.0, 400.0, [[(200.0, 80.0), (200.0, 330.0)]])
    path = tmp_path / "tall.json"
    save_drawing(path, drawing)
    open_and_wait(window, qtbot, path)
    assert window.canvas.drawing() == drawing
    answer_for(window, qtbot)
    assert np.array_equal(window.last_result().image28, preprocess(drawing))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.png", b"\x89PNG\r\n\x1a\n this is not really a PNG"),
        ("notes.txt", b"hello, I am not a drawing"),
        ("bad.json", b'{"width": 280, "height": 280, "strokes": [[[1, "x"]]]}'),
        ("empty.json", b""),
    ],
)
def test_dropping_a_bad_file_shows_an_error_and_keeps_the_drawing(
    window, qtbot, tmp_path, name, content
):
    draw(window, *SEVEN)
    before = window.canvas.drawing()
    answer_for(window, qtbot)
    digit_before = window.panel.shown_digit()
    bad = tmp_path / name
    bad.write_bytes(content)
    drop(window, bad)
    qtbot.waitUntil(lambda: len(visible_boxes(window)) == 1)
    box = visible_boxes(window)[0]
    assert name in box.text() and name in box.informativeText()
    assert window.canvas.drawing() == before
    assert window.panel.shown_digit() == digit_before
    box.accept()
    qtbot.waitUntil(lambda: not visible_boxes(window))
    assert window.canvas.drawing() == before


def test_dropping_an_image_shows_and_classifies_it(window, qtbot, tmp_path):
    draw(window, *ZERO)
    answer_for(window, qtbot)
    png = tmp_path / "zero.png"
    assert window.document.export_drawing_png(png)
    strokes = window.canvas.drawing()
    window.commands.clear.trigger()
    drop(window, png)
    picture = window.canvas.picture()
    assert picture is not None and picture.name == "zero.png"
    assert window.windowTitle().startswith("zero.png")
    answer_for(window, qtbot)
    from drawdigit.preprocess import load_image

    assert np.array_equal(window.last_result().image28, preprocess(load_image(png)))
    assert not window.commands.save.isEnabled()  # an image is not strokes
    # Drawing on the image starts a new drawing; Undo brings the image back.
    draw(window, *ONE)
    assert window.canvas.picture() is None and len(window.canvas.drawing().strokes) == 1
    window.commands.undo.trigger()
    assert window.canvas.picture() is picture
    # A dropped strokes file replaces the image with its strokes.
    saved = tmp_path / "zero.json"
    save_drawing(saved, strokes)
    drop(window, saved)
    assert window.canvas.picture() is None and window.canvas.drawing() == strokes


def test_a_picture_is_read_off_the_gui_thread_and_a_later_open_wins(window, qtbot, tmp_path):
    """Opening returns before the picture is decoded (the window goes on meanwhile and says
    what it is opening); a file opened while another is read replaces it, and the first is
    never shown."""
    from test_picture_reading import write_huge_png  # (from the large-picture bench)

    large = tmp_path / "large.png"
    write_huge_png(large, 4000, 3)
    four = tmp_path / "four.json"
    save_drawing(four, Drawing(280.0, 280.0, FOUR))
    shown: list[Path] = []
    window.document.opened.connect(shown.append)
    window.open_path(large)
    assert window.document.is_reading() and window.canvas.picture() is None
    assert window.statusBar().currentMessage() == "Opening large.png…"
    open_and_wait(window, qtbot, four)
    assert shown == [four] and window.canvas.drawing() == load_drawing(four)
    from drawdigit.gui.workers import live_workers

    readers = lambda: [w for w in live_workers() if w.thread_name == "drawdigit-open"]  # noqa: E731
    qtbot.waitUntil(lambda: not readers(), timeout=30_000)  # the first reader has ended...
    QApplication.processEvents()  # ...and whatever it sent has arrived: dropped
    assert shown == [four] and window.canvas.picture() is None
    open_and_wait(window, qtbot, large)
    assert window.canvas.picture() is not None and window.canvas.picture().name == "large.png"


def test_export_drawing_and_model_input_as_png(window, qtbot, tmp_path):
    draw(window, *SEVEN)
    answer_for(window, qtbot)
    drawing_png = tmp_path / "drawing.png"
    input_png = tmp_path / "input.png"
    assert window.document.export_drawing_png(drawing_png)
    assert window.document.export_input_png(input_png)
    exported = QImage(str(drawing_png))
    assert (exported.width(), exported.height()) == (280, 280)
    assert exported.pixelColor(140, 62).lightness() < 100  # ink on the 7's bar
    assert exported.pixelColor(20, 250).lightness() > 250  # paper
    small = QImage(str(input_png))
    assert (small.width(), small.height()) == (28, 28)
    expected = np.rint(np.clip(window.last_result().image28, 0, 1) * 255).astype(np.uint8)
    pixels = np.array([[small.pixelColor(x, y).red() for x in range(28)] for y in range(28)])
    assert np.array_equal(pixels, expected)


def test_model_status_and_about_box(window):
    assert window.model_source().kind == "user"
    assert "retrained model on 2024-05-06" in window.model_label.text()
    about = window.about_text()
    import PySide6
    from PySide6.QtCore import qVersion

    from drawdigit import __version__

    for text in (__version__, qVersion(), PySide6.__version__, torch.__version__, "2024-05-06"):
        assert text in about
    assert "MIT licence" in about and "THIRD-PARTY-NOTICES.md" in about  # what ships with it
    # the data the network learnt from, credited as their licences ask
    assert "UNIPEN" in about and "CC BY 4.0" in about and "ICPR 1994" in about
    assert "MNIST" in about and "CC BY-SA 3.0" in about


def test_a_damaged_user_model_falls_back_to_the_bundled_one_with_a_warning(open_window, qtbot):
    """A damaged active model must not leave the user without recognition: the bundled
    model is loaded instead, and a box says the user's model could not be used."""
    path = active_model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a model")
    window = open_window()
    assert window.model_ready(), window.model_label.toolTip()
    assert window.model_source().kind == "bundled"
    assert "bundled" in window.model_label.text()
    qtbot.waitUntil(lambda: len(visible_boxes(window)) == 1)
    box = visible_boxes(window)[0]
    assert "could not be used" in box.text() and str(path) in box.text()
    box.accept()
    assert path.read_bytes() == b"not a model"  # the user's file is left for them to see
    draw(window, *ONE)
    assert answer_for(window, qtbot).digit == 1


def test_a_drawing_made_before_the_model_is_ready_is_recognised(qtbot):
    """Strokes drawn while the model loads are answered as soon as it is ready, by the model
    the app ships: a 1 is read as a 1."""
    window = MainWindow()
    qtbot.addWidget(window)
    canvas = window.canvas
    canvas.resize(420, 420)
    # The window is not shown yet, so the recogniser has not started: deliver real mouse
    # events to the canvas directly.
    points = [canvas.to_widget(x, y) for x, y in ONE[0]]
    held = Qt.MouseButton.LeftButton
    for kind, point, button, buttons in (
        [(QMouseEvent.Type.MouseButtonPress, points[0], held, held)]
        + [(QMouseEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, held) for p in points[1:]]
        + [(QMouseEvent.Type.MouseButtonRelease, points[-1], held, Qt.MouseButton.NoButton)]
    ):
        event = QMouseEvent(kind, point, point, button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, event)
    assert len(canvas.drawing().strokes) == 1
    assert not window.recognizer.started
    assert window.model_state() == "loading"
    # No answer yet: the panel says it is waiting for the model and asserts no digit.
    assert window.last_result() is None
    assert window.panel.shown_digit() == "…"
    assert window.panel.headline_label.text() == "Loading model…"
    window.show()
    qtbot.waitExposed(window)
    prediction = answer_for(window, qtbot)
    assert window.model_source().kind == "bundled"
    assert window.shows_current_answer()
    assert prediction.digit == 1 and window.last_result().decision.kind == "digit"
    assert window.panel.shown_digit() == "1"


def test_geometry_is_remembered(open_window, throwaway_model, qtbot):
    window = open_window()
    window.resize(760, 560)  # within the offscreen platform's 800 x 600 screen
    qtbot.waitUntil(lambda: window.width() == 760)
    window.close()
    again = open_window()
    assert (again.width(), again.height()) == (760, 560)
    assert again.minimumWidth() >= 600 and again.minimumHeight() >= 480


def test_importing_the_gui_does_not_import_torch():
    """`drawdigit` with no command must show its window before torch is loaded."""
    code = (
        "import sys; import drawdigit.cli, drawdigit.gui.app, drawdigit.gui.main_window; "
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert "torch" not in result.stdout, result.stdout


def test_pointer_events_reach_the_canvas_at_any_position(window):
    """A click is a dot; the canvas keeps its point even at the paper's corner."""
    canvas = window.canvas
    corner = canvas.to_widget(0, 0).toPoint() + QPoint(1, 1)
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corner)
    (stroke,) = canvas.drawing().strokes
    assert len(stroke) == 1 and stroke[0][0] < 3 and stroke[0][1] < 3


def test_only_one_local_file_can_be_dropped(window, tmp_path):
    """Several files, or a web address, are refused at drag-enter: nothing opens."""
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        save_drawing(path, Drawing(280.0, 280.0, [[(140.0, 40.0), (140.0, 240.0)]]))
    for urls in (
        [QUrl.fromLocalFile(str(path)) for path in paths],
        [QUrl("https://example.com/seven.json")],
    ):
        mime = QMimeData()
        mime.setUrls(urls)
        enter = QDragEnterEvent(
            QPoint(200, 200),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(window, enter)
        assert not enter.isAccepted()
    assert window.canvas.is_empty() and window.document.path() is None


def test_modified_follows_the_undo_stack(window, tmp_path):
    """The title's modified mark: set by a stroke, cleared by Save, and by undoing back to
    the saved drawing."""
    draw(window, *ONE)
    assert window.isWindowModified() and window.windowTitle().startswith("Untitled")
    path = tmp_path / "one.json"
    assert window.document.save_to(path)
    assert not window.isWindowModified() and window.document.path() == path
    draw(window, *SEVEN)
    assert window.isWindowModified() and window.document.is_modified()
    window.commands.undo.trigger()
    assert not window.isWindowModified()
    assert window.windowTitle() == "one.json[*] — drawdigit"


# ---------------------------------------------------------------------- honest answers


def decision_for(window: MainWindow, qtbot):
    """Wait until the panel shows the decision for the canvas as it is now."""
    qtbot.waitUntil(
        lambda: (
            window.last_result() is not None
            and window.last_result().decision is not None
            and window.shows_current_answer()
        ),
        timeout=MODEL_TIMEOUT_MS,
    )
    return window.last_result().decision


def test_a_number_is_read_shown_and_corrected_digit_by_digit(real_window, qtbot) -> None:
    from test_decide import side_by_side

    from drawdigit.samples import list_samples

    number = side_by_side("42")
    draw(real_window, *number.strokes)
    decision = decision_for(real_window, qtbot)
    assert (decision.kind, decision.number) == ("number", "42")
    panel = real_window.panel
    assert panel.shown_digit() == "42"
    assert len(panel.input_view.images()) == 2  # "What the model sees": both digits
    assert "2 digits" in panel.input_title.text()

    # The user says it is "47": each digit's own strokes become a sample of its own.
    assert real_window.correct(4)
    assert real_window.corrections.typed() == "4"  # waits for the second digit
    assert list_samples().samples == []
    assert real_window.correct(7)
    samples = sorted(list_samples().samples, key=lambda s: s.label)
    assert [s.label for s in samples] == [4, 7]
    four_strokes = len(side_by_side("4").strokes)
    assert [len(s.drawing.strokes) for s in samples] == [
        four_strokes,
        len(number.strokes) - four_strokes,
    ]


def test_one_digit_typed_for_a_number_means_it_is_one_digit(real_window, qtbot) -> None:
    from test_decide import side_by_side

    from drawdigit.gui.window.corrections import TYPING_PAUSE_MS
    from drawdigit.samples import list_samples

    draw(real_window, *side_by_side("11").strokes)
    assert decision_for(real_window, qtbot).kind == "number"
    assert real_window.correct(4)
    qtbot.wait(TYPING_PAUSE_MS + 300)
    samples = list_samples().samples
    assert [s.label for s in samples] == [4]
    assert samples[0].drawing == real_window.canvas.drawing()  # the whole ink


def test_unsure_and_not_a_digit_are_held_until_the_pen_lifts(real_window, qtbot) -> None:
    """Half a stroke is no answer: while the pen is down, "not a digit" waits; once it lifts,
    it is said. The zigzag reads as not a digit (test_decide's scribble, drawn as one
    stroke); the answer for it all arrives while the pen is still down."""
    canvas = real_window.canvas
    panel = real_window.panel
    zigzag = polyline(*[(40 + 8 * k, 60 + 40 * (k % 2)) for k in range(25)], step=6)
    pixels = [canvas.to_widget(x, y).toPoint() for x, y in zigzag]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixels[0])
    for pixel in pixels[1:]:
        QTest.mouseMove(canvas, pixel)
    decision = decision_for(real_window, qtbot)  # the answer with the pen down
    assert decision.kind == "not-a-digit", decision.kind
    assert panel.is_holding()
    assert "Not" not in panel.headline()  # nothing of it shown yet
    QTest.mouseRelease(
        canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixels[-1]
    )
    final = decision_for(real_window, qtbot)
    qtbot.waitUntil(lambda: not panel.is_holding(), timeout=MODEL_TIMEOUT_MS)
    assert final.kind == "not-a-digit"
    assert panel.headline() == f"Not a digit — {percent(final.confidence, 0)} sure"


def test_a_strokes_file_opens_whatever_its_name(window, qtbot, tmp_path) -> None:
    """One loader for the window and the CLI: content decides, not the suffix."""
    path = tmp_path / "four.txt"
    save_drawing(tmp_path / "four.json", Drawing(280, 280, FOUR))
    path.write_bytes((tmp_path / "four.json").read_bytes())
    open_and_wait(window, qtbot, path)
    assert window.canvas.picture() is None
    assert window.canvas.drawing().strokes == [list(s) for s in load_drawing(path).strokes]


def test_typing_the_same_correction_twice_keeps_one_sample(window, qtbot) -> None:
    from drawdigit.samples import list_samples

    draw(window, *SEVEN)
    answer_for(window, qtbot)
    assert window.correct(1)
    assert window.correct(1)
    assert [s.label for s in list_samples().samples] == [1]
    assert window.statusBar().currentMessage().startswith("Already in your samples")


def test_a_correction_shows_in_the_panel_and_ctrl_z_takes_it_back(window, qtbot) -> None:
    """Typing a digit: the big answer reads what the user said; Ctrl+Z right after removes
    the sample and the network's answer returns; then Ctrl+Z undoes strokes again."""
    from drawdigit.samples import list_samples

    draw(window, *SEVEN)
    answer_for(window, qtbot)
    panel = window.panel
    shown = (panel.shown_digit(), panel.headline())
    QTest.keyClick(window, Qt.Key.Key_1)
    assert (panel.shown_digit(), panel.headline()) == ("1", "You said: 1")
    assert [s.label for s in list_samples().samples] == [1]
    assert "correction" in window.commands.undo.toolTip()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert list_samples().samples == [] and not list((window_samples_dir()).rglob("*.json"))
    assert (panel.shown_digit(), panel.headline()) == shown
    assert not window.canvas.is_empty()  # the drawing is untouched
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.is_empty()  # now the stroke


def test_a_second_digit_replaces_a_mistyped_correction(window, qtbot) -> None:
    """Typing 1 then 2 for one drawing keeps it once, as a 2; the panel's digit buttons do
    what the keys do; the panel's Undo link removes it."""
    from drawdigit.samples import list_samples

    draw(window, *SEVEN)
    answer_for(window, qtbot)
    qtbot.mouseClick(window.panel.correction_row.buttons[1], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.panel.correction_row.buttons[2], Qt.MouseButton.LeftButton)
    assert [s.label for s in list_samples().samples] == [2]
    assert window.panel.headline() == "You said: 2"
    window.commands.save_confirmed.trigger()  # Enter keeps the answer shown as a sample...
    assert window.commands.save_confirmed.isChecked()
    assert not window.confirm()  # ... but not the network's 7 over what the user said
    assert [s.label for s in list_samples().samples] == [2]
    window.panel.correction_row.hint.linkActivated.emit("undo")
    assert list_samples().samples == []
    # A correction that found the sample already there leaves it there when undone.
    assert window.correct(3)
    window.canvas.undo()
    draw(window, *SEVEN)
    answer_for(window, qtbot)
    assert window.correct(3) and window.panel.correction_row.hint.text().startswith("Already")
    window.undo()
    assert [s.label for s in list_samples().samples] == [3]


def window_samples_dir() -> Path:
    from drawdigit.samples import samples_dir

    return samples_dir()


def test_a_model_without_the_not_a_digit_head_says_so(window, qtbot) -> None:
    """A retrained model has no digit-ness head of its own: the window says what it lacks
    (status bar and the model's tooltip), once, without a box."""
    qtbot.waitUntil(lambda: "not a digit" in window.model_label.toolTip(), timeout=10_000)
    assert visible_boxes(window) == []


# ---------------------------------------------------------------------- unsaved drawings


def save_question(window: MainWindow, qtbot) -> QMessageBox:
    """The one visible "save the changes?" box, once it is up."""
    qtbot.waitUntil(lambda: len(visible_boxes(window)) == 1)
    box = visible_boxes(window)[0]
    assert box.windowTitle() == "Unsaved Drawing" and "Save the changes" in box.text()
    return box


def answer(window: MainWindow, qtbot, choice: QMessageBox.StandardButton) -> None:
    """Click one of the question's buttons with the mouse, as a user would."""
    box = save_question(window, qtbot)
    qtbot.mouseClick(box.button(choice), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not visible_boxes(window))


def test_undoing_an_open_gives_back_the_file_before_it(window, qtbot, tmp_path):
    """After Open then Undo, the title names the file the drawing came from and Ctrl+S
    writes there: never the earlier drawing over the file that was opened."""
    opened = tmp_path / "opened.json"
    save_drawing(opened, Drawing(280.0, 280.0, ZERO))
    opened_bytes = opened.read_bytes()
    draw(window, *ONE)
    open_and_wait(window, qtbot, opened)
    window.commands.undo.trigger()
    assert window.windowTitle().startswith("Untitled") and window.document.path() is None
    window.commands.redo.trigger()
    assert window.windowTitle() == "opened.json[*] — drawdigit"
    assert not window.isWindowModified()

    window.commands.undo.trigger()
    before = tmp_path / "before.json"
    assert window.document.save_to(before)
    draw(window, *SEVEN)
    open_and_wait(window, qtbot, opened)
    window.commands.undo.trigger()  # back to ONE + SEVEN, which came from before.json
    assert window.windowTitle() == "before.json[*] — drawdigit" and window.isWindowModified()
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert opened.read_bytes() == opened_bytes
    assert len(load_drawing(before).strokes) == 2
    assert not window.isWindowModified()
    window.commands.redo.trigger()  # the opened file, as it still is on disk: unchanged
    assert window.document.path() == opened and not window.isWindowModified()


def test_dropping_a_file_on_a_changed_drawing_asks_to_save_first(window, qtbot, tmp_path):
    opened = tmp_path / "zero.json"
    save_drawing(opened, Drawing(280.0, 280.0, ZERO))
    draw(window, *ONE)
    drawing = window.canvas.drawing()
    drop(window, opened)
    answer(window, qtbot, QMessageBox.StandardButton.Cancel)
    assert window.canvas.drawing() == drawing and window.document.path() is None
    drop(window, opened)
    answer(window, qtbot, QMessageBox.StandardButton.Discard)
    assert window.document.path() == opened and not window.isWindowModified()
    assert len(window.canvas.drawing().strokes) == len(ZERO)
    # An unchanged drawing is replaced without a question.
    drop(window, opened)
    assert visible_boxes(window) == [] and window.document.path() == opened


def test_open_sample_over_changed_drawing_can_save_it_first(window, qtbot, tmp_path):
    path = tmp_path / "one.json"
    draw(window, *ONE)
    assert window.document.save_to(path)
    draw(window, *SEVEN)
    menu = window.commands.samples_menu
    window.document.fill_samples_menu(menu)
    menu.actions()[0].trigger()
    answer(window, qtbot, QMessageBox.StandardButton.Save)
    read_all(window)
    assert len(load_drawing(path).strokes) == 2  # saved to the file it came from
    assert window.document.path() is None  # a sample opens untitled
    assert window.windowTitle().startswith("Untitled") and not window.isWindowModified()


def test_file_new_asks_then_starts_an_untitled_drawing(window, qtbot, tmp_path):
    assert "&New" in [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    path = tmp_path / "one.json"
    draw(window, *ONE)
    assert window.document.save_to(path)
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert visible_boxes(window) == []  # saved: nothing to ask
    assert window.canvas.is_empty() and window.windowTitle().startswith("Untitled")
    window.commands.undo.trigger()  # New is an undo step: the drawing and its file return
    assert window.document.path() == path and not window.isWindowModified()
    draw(window, *SEVEN)
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    answer(window, qtbot, QMessageBox.StandardButton.Cancel)
    assert len(window.canvas.drawing().strokes) == 2
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    answer(window, qtbot, QMessageBox.StandardButton.Discard)
    assert window.canvas.is_empty() and window.document.path() is None
    assert not window.isWindowModified()
    assert len(load_drawing(path).strokes) == 1  # discarded, not saved


def test_quitting_with_a_changed_drawing_asks(window, qtbot, tmp_path):
    path = tmp_path / "one.json"
    draw(window, *ONE)
    assert window.document.save_to(path)
    draw(window, *SEVEN)
    window.commands.quit.trigger()
    answer(window, qtbot, QMessageBox.StandardButton.Cancel)
    assert window.isVisible()
    window.close()
    answer(window, qtbot, QMessageBox.StandardButton.Save)
    qtbot.waitUntil(lambda: not window.isVisible())
    assert len(load_drawing(path).strokes) == 2


def test_quitting_can_discard_the_changes(window, qtbot):
    draw(window, *ONE)
    window.close()
    answer(window, qtbot, QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: not window.isVisible())


def test_finetune_is_offered_only_when_there_are_samples(window, qtbot) -> None:
    """No samples: Fine-tune is greyed out and says how to add one; a correction enables it,
    deleting the last sample in My Samples greys it out again."""
    action = window.commands.finetune
    assert not action.isEnabled()
    assert "type the right digit" in action.toolTip()
    assert action.statusTip() == action.toolTip()
    draw(window, *SEVEN)
    answer_for(window, qtbot)
    assert window.correct(1)
    assert action.isEnabled() and "type the right digit" not in action.toolTip()
    window.open_samples_dialog()
    dialog = window._samples_dialog
    qtbot.waitExposed(dialog)
    dialog.select_rows([0])
    assert dialog.delete_selected() == 1
    assert not action.isEnabled() and "type the right digit" in action.toolTip()


def test_finetune_with_too_few_samples_says_what_it_needs(window, qtbot) -> None:
    """One sample: a box says what fine-tuning does and that more samples help, and no run
    starts. Two of the same digit (one is kept aside): the run's refusal reads the same,
    not "Fine-tuning failed"."""
    from drawdigit.gui.window.finetune import FEW_SAMPLES_TITLE

    draw(window, *SEVEN)
    answer_for(window, qtbot)
    assert window.correct(1)
    window.commands.finetune.trigger()
    assert not window.finetune.is_running()
    box = visible_boxes(window)[0]
    assert box.windowTitle() == FEW_SAMPLES_TITLE
    assert "teaches the model your handwriting" in box.text() and "You have 1." in box.text()
    assert "The more samples, the more it learns" in box.informativeText()
    box.close()
    qtbot.waitUntil(lambda: not visible_boxes(window))

    window.canvas.clear()
    draw(window, *ONE)
    answer_for(window, qtbot)
    assert window.correct(1)
    assert window.panel.headline() == "You said: 1"  # saved: a whole digit, not a number
    ended = qtbot.waitSignal(
        window.finetune.runningChanged, timeout=120_000, check_params_cb=lambda on: not on
    )
    with ended:
        window.commands.finetune.trigger()
    qtbot.waitUntil(lambda: len(visible_boxes(window)) == 1)
    box = visible_boxes(window)[0]
    assert box.windowTitle() == FEW_SAMPLES_TITLE and "You have 2: too few" in box.text()


def test_finetune_progress_has_a_label_while_it_runs(window, qtbot) -> None:
    """The status bar says what the bar measures, and the action stays off during the run."""
    for strokes, label in ((SEVEN, 1), (FOUR, 9)):
        window.canvas.clear()
        draw(window, *strokes)
        answer_for(window, qtbot)
        assert window.correct(label)
    controller = window.finetune
    assert not controller.label.isVisible()
    ended = qtbot.waitSignal(
        controller.runningChanged, timeout=120_000, check_params_cb=lambda on: not on
    )
    with ended:
        window.commands.finetune.trigger()
        assert controller.label.isVisible() and controller.bar.isVisible()
        assert controller.label.text() == "Fine-tuning on your samples…"
        assert not window.commands.finetune.isEnabled()
        controller.cancel()
    assert not controller.label.isVisible() and window.commands.finetune.isEnabled()


def test_a_fine_tuned_model_is_called_fine_tuned(open_window, user_data) -> None:
    """The status line names the model from the metadata fine-tuning writes, not "retrained"."""
    from datetime import datetime, timezone

    from drawdigit.finetune import FinetuneResult
    from drawdigit.store import activate_model

    torch.manual_seed(0)
    result = FinetuneResult(
        state_dict=DigitNet().state_dict(),
        model_config=ModelConfig(),
        heldout_before=0.5,
        heldout_after=0.75,
        mnist_before=0.99,
        mnist_after=0.9875,
        train_count=12,
        heldout_count=4,
        steps_done=80,
        seconds=3.0,
        train_seconds=2.0,
    )
    activate_model(result.state_dict, result.model_config, result.metadata())
    window = open_window()
    assert window.model_ready(), window.model_label.toolTip()
    today = datetime.now(timezone.utc).date().isoformat()
    text = window.model_label.text()
    assert f"fine-tuned model on {today}" in text and "retrained" not in text
    assert "98.75%" in text


def test_a_model_with_metadata_of_the_wrong_type_gets_ready_and_answers(open_window, qtbot):
    """Metadata like "test_accuracy": "high" only describes the model: the window must not
    stay at "Model: loading…", it becomes ready and answers with that model."""
    torch.manual_seed(0)
    meta = {"test_accuracy": "high", "created": ["2024"], "recipe": "test"}
    save_checkpoint(active_model_path(), DigitNet().state_dict(), ModelConfig(), meta)
    window = open_window()
    assert window.model_ready(), window.model_label.toolTip()
    assert window.model_source().kind == "user"
    assert "high" not in window.model_label.text()
    draw(window, *ONE)
    assert answer_for(window, qtbot).digit in range(10)
    assert "loading" not in window.about_text()


# ---------------------------------------------------------------------- file dialogs, failures


@pytest.fixture
def qt_file_dialogs() -> Iterator[None]:
    """The app's file dialogs as Qt's own QFileDialog widget, which a test can fill in, not
    the desktop's native one (the offscreen platform has none anyway; this makes it sure)."""
    attribute = Qt.ApplicationAttribute.AA_DontUseNativeDialogs
    before = QApplication.testAttribute(attribute)
    QApplication.setAttribute(attribute, True)
    yield
    QApplication.setAttribute(attribute, before)


def answer_file_dialog(window: MainWindow, path: Path | None, seen: list[dict]) -> None:
    """When the window's next file dialog is up: note what it offers, then choose ``path``
    as a person would (None: Cancel)."""

    def fill(dialog: QFileDialog) -> None:
        seen.append(
            {
                "title": dialog.windowTitle(),
                "folder": Path(dialog.directory().absolutePath()),
                "name": Path(dialog.selectedFiles()[0]).name if dialog.selectedFiles() else "",
                "saving": dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave,
            }
        )
        if path is None:
            dialog.reject()
        else:
            dialog.selectFile(str(path))
            dialog.accept()

    when_shown(window, QFileDialog, fill)


def test_open_save_as_and_export_through_the_file_dialogs(window, qtbot, tmp_path, qt_file_dialogs):
    """File > Open, Save As, Export Drawing and Export Model Input, each through the real
    file dialog: what it offers (title, folder, name) and what the chosen file then holds."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    four = tmp_path / "in" / "four.json"
    save_drawing(four, Drawing(280.0, 280.0, FOUR))
    seen: list[dict] = []

    answer_file_dialog(window, four, seen)
    window.commands.open.trigger()
    read_all(window)
    assert seen[-1]["title"] == "Open Drawing or Image" and not seen[-1]["saving"]
    assert window.document.path() == four and window.windowTitle() == "four.json[*] — drawdigit"
    assert window.canvas.drawing() == load_drawing(four)

    answer_file_dialog(window, None, seen)  # Open again, cancelled: nothing changes
    window.commands.open.trigger()
    assert len(seen) == 2 and window.document.path() == four

    draw(window, *ONE)
    answer_file_dialog(window, tmp_path / "out" / "copy", seen)  # the suffix is added
    window.commands.save_as.trigger()
    assert seen[-1]["saving"] and seen[-1]["title"] == "Save Drawing"
    assert (seen[-1]["folder"], seen[-1]["name"]) == (tmp_path / "in", "four.json")
    copy = tmp_path / "out" / "copy.json"
    assert load_drawing(copy) == window.canvas.drawing() and len(load_drawing(copy).strokes) == 3
    assert window.document.path() == copy and not window.isWindowModified()
    assert load_drawing(four) == Drawing(280.0, 280.0, FOUR)  # the opened file is untouched

    answer_file_dialog(window, tmp_path / "out" / "picture", seen)
    window.commands.export_drawing.trigger()
    assert seen[-1]["title"] == "Export Drawing as PNG"
    assert (seen[-1]["folder"], seen[-1]["name"]) == (tmp_path / "out", "copy-drawing.png")
    exported = QImage(str(tmp_path / "out" / "picture.png"))
    assert (exported.width(), exported.height()) == (280, 280)

    answer_for(window, qtbot)  # the model input exists once there is an answer
    answer_file_dialog(window, tmp_path / "out" / "input.png", seen)
    window.commands.export_input.trigger()
    assert seen[-1]["name"] == "copy-model-input-28x28.png"
    small = QImage(str(tmp_path / "out" / "input.png"))
    assert (small.width(), small.height()) == (28, 28)
    assert len(seen) == 5 and visible_boxes(window) == []


@pytest.fixture
def unwritable_folder(tmp_path) -> Iterator[Path]:
    """A folder where no file may be made: read-only (mode 555) for a user; for root, whom
    the mode does not stop, /sys, where the kernel refuses every new file."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif Path("/sys").is_dir():
        yield Path("/sys")
    else:
        pytest.skip("root on a system without /sys: no folder refuses root's files")


@contextlib.contextmanager
def disk_that_takes(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail, as on a full disk: the kernel's file-size limit
    (RLIMIT_FSIZE) makes write() fail (EFBIG where a full disk gives ENOSPC; the app's path
    is the same OSError), for this process only and only inside the block."""
    import resource  # POSIX only

    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the error, not the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def quit_and_save(window: MainWindow, qtbot, save_as: Path | None, seen: list[dict]) -> None:
    """Quit with a changed drawing and answer Save (then the Save As dialog, if it asks)."""
    window.close()
    box = save_question(window, qtbot)
    if save_as is not None:
        answer_file_dialog(window, save_as, seen)
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Save), Qt.MouseButton.LeftButton)


def cannot_save_box(window: MainWindow, qtbot) -> QMessageBox:
    qtbot.waitUntil(lambda: any(b.windowTitle() == "Cannot Save" for b in visible_boxes(window)))
    (box,) = [b for b in visible_boxes(window) if b.windowTitle() == "Cannot Save"]
    return box


@pytest.mark.parametrize("where", ["a file in the folder's place", "a read-only folder"])
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX folders and modes")
def test_a_save_that_fails_keeps_the_drawing_and_the_window(
    window, qtbot, tmp_path, qt_file_dialogs, unwritable_folder, where
):
    """Quit -> Save -> Save As into a place that cannot take the file: a box says why; the
    window stays open with the drawing, still unsaved, and quitting asks again."""
    if where == "a file in the folder's place":
        (tmp_path / "notes.txt").write_text("not a folder")
        target, reason = tmp_path / "notes.txt" / "digit.json", "Not a directory"
    else:
        target, reason = unwritable_folder / "digit.json", "Permission denied"
    before = sorted(target.parent.iterdir()) if target.parent.is_dir() else None
    draw(window, *ONE)
    drawing = window.canvas.drawing()
    seen: list[dict] = []
    quit_and_save(window, qtbot, target, seen)
    box = cannot_save_box(window, qtbot)
    assert str(target) in box.text() and box.informativeText() == reason
    assert len(seen) == 1 and seen[0]["saving"]
    box.accept()
    qtbot.waitUntil(lambda: not visible_boxes(window))
    assert window.isVisible() and window.canvas.drawing() == drawing
    assert window.isWindowModified() and window.document.needs_saving()
    assert window.document.path() is None and not target.exists()
    if before is not None:
        assert sorted(target.parent.iterdir()) == before  # no temp file left either
    window.close()  # still asks: nothing was saved
    answer(window, qtbot, QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: not window.isVisible())


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_keeps_the_saved_file_the_drawing_and_the_window(window, qtbot, tmp_path):
    """Save over the drawing's own file when the disk takes no more: the file keeps what was
    saved before, no temp file is left, the window stays open with the changes unsaved."""
    (tmp_path / "drawings").mkdir()
    path = tmp_path / "drawings" / "one.json"
    draw(window, *ONE)
    assert window.document.save_to(path)
    saved = path.read_bytes()
    draw(window, *SEVEN)
    drawing = window.canvas.drawing()
    with disk_that_takes(len(saved) // 2):
        quit_and_save(window, qtbot, None, [])  # Save writes to one.json, no dialog
    box = cannot_save_box(window, qtbot)
    assert str(path) in box.text() and box.informativeText() == os.strerror(errno.EFBIG)
    box.accept()
    assert path.read_bytes() == saved and list(path.parent.iterdir()) == [path]
    assert window.isVisible() and window.canvas.drawing() == drawing
    assert window.isWindowModified() and window.document.path() == path
    assert window.document.save()  # room again: the same Save works
    assert load_drawing(path) == drawing and not window.isWindowModified()


def test_a_data_folder_that_is_a_file_is_said_once_at_start(open_window, user_data, qtbot):
    """Nothing was said at start, and a correction then said "[Errno 20] Not a directory".
    One box at start names the folder; a correction says the same, not an error number."""
    user_data.rmdir()
    user_data.write_text("a file where the data folder should be")
    window = open_window()
    qtbot.waitUntil(lambda: len(visible_boxes(window)) == 1)
    box = visible_boxes(window)[0]
    assert box.windowTitle() == "Data Folder"
    assert box.text().startswith(f"The data folder {user_data} cannot be used (it is a file)")
    box.accept()
    qtbot.waitUntil(lambda: not visible_boxes(window))
    assert window.model_ready()
    draw(window, *SEVEN)
    answer_for(window, qtbot)
    assert not window.correct(7)
    (box,) = visible_boxes(window)
    assert box.text().startswith(f"Not saved: The data folder {user_data} cannot be used")
    assert "Errno" not in box.text()
