"""The drawing canvas on its own: real Qt mouse events in, strokes and pixels out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QInputDevice, QMouseEvent, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from drawdigit.gui.canvas import DrawingCanvas, erase_from_stroke
from drawdigit.preprocess import network_pen
from drawdigit.strokes import Drawing, pen_width


@pytest.fixture
def canvas(qtbot) -> DrawingCanvas:
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    widget.resize(420, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def draw(canvas: DrawingCanvas, points, button=Qt.MouseButton.LeftButton) -> None:
    """One stroke with QTest mouse events through document points (280 x 280 canvas)."""
    pixels = [canvas.to_widget(x, y).toPoint() for x, y in points]
    QTest.mousePress(canvas, button, Qt.KeyboardModifier.NoModifier, pixels[0])
    for pixel in pixels[1:]:
        QTest.mouseMove(canvas, pixel)
    QTest.mouseRelease(canvas, button, Qt.KeyboardModifier.NoModifier, pixels[-1])


def line(a, b, step=4.0):
    n = max(1, math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / step))
    return [(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(n + 1)]


def ink_at(canvas: DrawingCanvas, x: float, y: float) -> bool:
    """Whether the rendered document is dark at document point (x, y)."""
    image = canvas.render_document()
    return QColor(image.pixel(round(x), round(y))).lightness() < 128


def test_a_stroke_is_recorded_in_document_coordinates(canvas):
    emitted = []
    canvas.drawingChanged.connect(emitted.append)
    draw(canvas, line((140, 40), (140, 240)))
    drawing = canvas.drawing()
    assert (drawing.width, drawing.height) == (280.0, 280.0)
    assert len(drawing.strokes) == 1
    xs = [x for x, _ in drawing.strokes[0]]
    ys = [y for _, y in drawing.strokes[0]]
    # integer widget pixels of a 420 px canvas are 2/3 of a document px apart
    assert max(abs(x - 140) for x in xs) < 1.0
    assert min(ys) == pytest.approx(40, abs=1.0) and max(ys) == pytest.approx(240, abs=1.0)
    # what was drawn is on the paper, in ink; elsewhere is paper
    assert ink_at(canvas, 140, 140)
    assert not ink_at(canvas, 60, 140)
    # the last signal (pen-up) carries the whole stroke
    assert isinstance(emitted[-1], Drawing)
    assert emitted[-1].strokes == drawing.strokes
    assert canvas.pen_width() == pytest.approx(pen_width(280, 280))


def test_live_updates_are_throttled_but_pen_up_is_complete(canvas):
    emitted = []
    canvas.drawingChanged.connect(emitted.append)
    points = line((40, 140), (240, 140), step=1.0)  # ~300 mouse moves in a few ms
    draw(canvas, points)
    assert 1 <= len(emitted) < len(points) / 2
    assert len(emitted[-1].strokes) == 1
    assert len(emitted[-1].strokes[0]) == len(canvas.drawing().strokes[0])


def test_undo_redo_clear_per_stroke(canvas):
    draw(canvas, line((60, 60), (220, 60)))
    draw(canvas, line((140, 60), (140, 230)))
    assert len(canvas.drawing().strokes) == 2
    canvas.undo()
    assert len(canvas.drawing().strokes) == 1
    assert not ink_at(canvas, 140, 200)
    canvas.redo()
    assert len(canvas.drawing().strokes) == 2
    assert ink_at(canvas, 140, 200)
    canvas.clear()
    assert canvas.is_empty() and canvas.drawing().strokes == []
    assert not ink_at(canvas, 140, 200)
    canvas.undo()  # clearing is undoable too
    assert len(canvas.drawing().strokes) == 2


def test_right_drag_erases_the_strokes_under_the_eraser(canvas):
    draw(canvas, line((40, 140), (240, 140)))
    before = canvas.drawing().strokes[0]
    draw(canvas, line((140, 60), (140, 220)), button=Qt.MouseButton.RightButton)
    pieces = canvas.drawing().strokes
    assert len(pieces) == 2, "the eraser splits the line in two"
    reach = 1.5 * canvas.pen_width()  # eraser radius (one pen) + half the pen
    for stroke in pieces:
        assert all(abs(x - 140) > reach - 1.0 for x, _ in stroke)
    # no ink is left where the eraser went; the ends are still there
    assert not ink_at(canvas, 140, 140)
    assert ink_at(canvas, 50, 140) and ink_at(canvas, 230, 140)
    canvas.undo()  # the whole erase gesture is one undo step
    assert canvas.drawing().strokes == [before]
    assert ink_at(canvas, 140, 140)


def test_eraser_toggle_makes_the_left_button_erase(canvas):
    draw(canvas, line((140, 40), (140, 240)))
    canvas.set_eraser_mode(True)
    draw(canvas, line((60, 200), (220, 200)))
    upper, lower = canvas.drawing().strokes  # cut in two where the eraser crossed
    reach = 1.5 * canvas.pen_width()
    assert max(y for _, y in upper) < 200 - reach + 1 and min(y for _, y in lower) > 200 + reach - 1
    canvas.set_eraser_mode(False)
    draw(canvas, line((60, 250), (220, 250)))
    assert len(canvas.drawing().strokes) == 3


def test_erasing_a_whole_stroke_removes_it(canvas):
    draw(canvas, [(140, 140)])  # a dot
    assert len(canvas.drawing().strokes) == 1
    draw(canvas, line((100, 140), (180, 140)), button=Qt.MouseButton.RightButton)
    assert canvas.drawing().strokes == []
    assert canvas.is_empty()


def test_erase_from_stroke_cuts_where_the_eraser_passes():
    stroke = tuple((float(x), 50.0, 1.0) for x in range(0, 101, 25))  # points 25 px apart
    assert erase_from_stroke(stroke, (50.0, 200.0), (50.0, 220.0), 10.0) is None
    pieces = erase_from_stroke(stroke, (50.0, 0.0), (50.0, 100.0), 10.0)
    assert pieces is not None and len(pieces) == 2
    left, right = pieces
    # the cut is at the eraser's reach, not at the recorded points 25 px away
    assert left[0][0] == 0.0 and 39.0 <= left[-1][0] < 40.0
    assert 60.0 < right[0][0] <= 61.0 and right[-1][0] == 100.0
    assert erase_from_stroke(stroke, (0.0, 50.0), (100.0, 50.0), 10.0) == []


def test_resize_keeps_the_drawing(canvas, qtbot):
    draw(canvas, line((80, 60), (200, 60)) + line((200, 60), (120, 230))[1:])
    drawing = canvas.drawing()
    canvas.resize(700, 500)
    qtbot.waitUntil(lambda: canvas.width() == 700)
    assert canvas.drawing() == drawing  # strokes are in document px: untouched
    paper = canvas.paper_rect()
    assert paper.width() == pytest.approx(500) and paper.left() == pytest.approx(100)
    assert ink_at(canvas, 200, 62)


def test_pointer_is_clamped_to_the_paper(canvas):
    canvas.resize(600, 400)  # paper 400 px, centred: 100 px of window on each side
    start = canvas.to_widget(140, 140).toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, QPoint(5, 200))  # beside the paper
    QTest.mouseRelease(
        canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(5, 200)
    )
    xs = [x for x, _ in canvas.drawing().strokes[0]]
    assert min(xs) == 0.0


def test_float_positions_are_kept(canvas):
    """Sub-pixel pointer positions (High-DPI, tablets) reach the strokes unrounded."""
    canvas.resize(280, 280)
    canvas.show()
    for kind, pos, button, buttons in (
        (QMouseEvent.Type.MouseButtonPress, (10.25, 20.5), Qt.MouseButton.LeftButton, True),
        (QMouseEvent.Type.MouseMove, (30.75, 40.125), Qt.MouseButton.NoButton, True),
        (QMouseEvent.Type.MouseButtonRelease, (30.75, 40.125), Qt.MouseButton.LeftButton, False),
    ):
        point = QPointF(*pos)
        held = Qt.MouseButton.LeftButton if buttons else Qt.MouseButton.NoButton
        event = QMouseEvent(
            kind, point, canvas.mapToGlobal(point), button, held, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(canvas, event)
    assert canvas.drawing().strokes == [[(10.25, 20.5), (30.75, 40.125)]]


def test_set_drawing_keeps_the_files_canvas_size(canvas):
    drawing = Drawing(400.0, 200.0, [[(10.0, 20.0), (390.0, 180.0)]])
    canvas.set_drawing(drawing)
    assert canvas.drawing() == drawing
    assert canvas.pen_width() == pytest.approx(pen_width(400, 200))
    paper = canvas.paper_rect()
    assert paper.width() == pytest.approx(2 * paper.height())


# ---------------------------------------------------------------------- a tablet pen


def pen(pointer: QPointingDevice.PointerType, pressure: bool = True) -> QPointingDevice:
    """A stylus as Qt describes one: its tip (``Pen``) or its eraser end (``Eraser``)."""
    caps = QInputDevice.Capability.Position
    if pressure:
        caps |= QInputDevice.Capability.Pressure
    return QPointingDevice("test stylus", 42, QInputDevice.DeviceType.Stylus, pointer, caps, 1, 2)


def tablet_stroke(canvas: DrawingCanvas, device: QPointingDevice, points, pressure: float):
    """One stroke as real QTabletEvents (press, moves, release) through document points."""
    pixels = [canvas.to_widget(x, y) for x, y in points]
    left = Qt.MouseButton.LeftButton
    events = (
        [(QTabletEvent.Type.TabletPress, pixels[0], left, left)]
        + [(QTabletEvent.Type.TabletMove, p, Qt.MouseButton.NoButton, left) for p in pixels[1:]]
        + [(QTabletEvent.Type.TabletRelease, pixels[-1], left, Qt.MouseButton.NoButton)]
    )
    for kind, pixel, button, buttons in events:
        event = QTabletEvent(
            kind,
            device,
            pixel,
            canvas.mapToGlobal(pixel),
            pressure,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            Qt.KeyboardModifier.NoModifier,
            button,
            buttons,
        )
        QApplication.sendEvent(canvas, event)
        assert event.isAccepted(), "the canvas must take the pen's events (no mouse copies)"


def ink_thickness(canvas: DrawingCanvas, x: int, y: int) -> int:
    """Dark pixels in column ``x`` of the rendered document within 40 px of ``y``."""
    image = canvas.render_document()
    return sum(QColor(image.pixel(x, row)).lightness() < 128 for row in range(y - 40, y + 40))


def test_pen_pressure_changes_the_line_on_screen_but_not_the_strokes(canvas):
    tip = pen(QPointingDevice.PointerType.Pen)
    tablet_stroke(canvas, tip, line((40, 70), (240, 70)), pressure=0.1)  # light
    tablet_stroke(canvas, tip, line((40, 210), (240, 210)), pressure=1.0)  # heavy
    width = canvas.ink_width()  # the network's pen; the line is 0.5 + pressure of it wide
    light, heavy = ink_thickness(canvas, 140, 70), ink_thickness(canvas, 140, 210)
    assert light == pytest.approx(0.6 * width, abs=2)
    assert heavy == pytest.approx(1.5 * width, abs=2)
    # Recognition and files get the pointer's path only, whatever the pressure: the same
    # (x, y) points as the mouse gives for the same path, and the same normal-width ink.
    strokes = canvas.drawing().strokes
    expected = [line((40, 70), (240, 70)), line((40, 210), (240, 210))]
    assert [len(stroke) for stroke in strokes] == [len(stroke) for stroke in expected]
    assert np.allclose(np.array(strokes), np.array(expected), atol=1e-6)
    canvas.clear()
    draw(canvas, expected[1])
    assert np.allclose(np.array(canvas.drawing().strokes[0]), np.array(expected[1]), atol=1.0)
    assert ink_thickness(canvas, 140, 210) == pytest.approx(canvas.ink_width(), abs=2)


def test_a_pen_without_pressure_draws_the_normal_line(canvas):
    tablet_stroke(
        canvas,
        pen(QPointingDevice.PointerType.Pen, pressure=False),
        line((40, 140), (240, 140)),
        0.1,
    )
    assert ink_thickness(canvas, 140, 140) == pytest.approx(canvas.ink_width(), abs=2)


def test_the_pens_eraser_end_erases(canvas):
    draw(canvas, line((40, 140), (240, 140)))
    before = canvas.drawing().strokes
    reach = canvas.pen_width() + canvas.ink_width() / 2.0  # eraser radius + half the line
    assert not canvas.eraser_mode()
    tablet_stroke(canvas, pen(QPointingDevice.PointerType.Eraser), line((140, 60), (140, 220)), 1.0)
    pieces = canvas.drawing().strokes
    assert len(pieces) == 2, "the eraser end cuts the line in two"
    assert all(abs(x - 140) > reach - 1.0 for stroke in pieces for x, _ in stroke)
    assert not ink_at(canvas, 140, 140) and ink_at(canvas, 50, 140)
    assert not canvas.eraser_mode()  # turning the pen over does not switch the tool
    canvas.undo()  # one gesture, one undo step
    assert canvas.drawing().strokes == before
    # the tip draws again
    tablet_stroke(canvas, pen(QPointingDevice.PointerType.Pen), line((140, 60), (140, 220)), 0.5)
    assert len(canvas.drawing().strokes) == 2


def test_the_ink_is_shown_with_the_pen_the_network_sees(canvas):
    """Issue 13: a small digit is not a blob drawn with a fat pen. The line on screen is as
    wide, relative to the digit, as the network's input draws it (thin for a small digit),
    up to the canvas pen for a big one, and it follows the digit as a stroke grows it."""
    draw(canvas, line((120, 140), (160, 140)))  # a small dash
    small = canvas.ink_width()
    assert small == pytest.approx(network_pen(canvas.drawing()))
    assert ink_thickness(canvas, 140, 140) == pytest.approx(small, abs=2)
    assert small < 0.5 * canvas.pen_width()  # the fixed canvas pen made it a blob
    canvas.clear()
    draw(canvas, line((90, 140), (190, 140)))  # two and a half times as long
    assert canvas.ink_width() == pytest.approx(2.5 * small, rel=0.05)
    assert canvas.ink_width() == pytest.approx(network_pen(canvas.drawing()))
    assert ink_thickness(canvas, 140, 140) == pytest.approx(canvas.ink_width(), abs=2)
    canvas.clear()
    draw(canvas, line((40, 140), (240, 140)))  # a big digit: the canvas pen, no marker
    assert network_pen(canvas.drawing()) > 1.2 * canvas.pen_width()
    assert canvas.ink_width() == pytest.approx(canvas.pen_width())
    assert ink_thickness(canvas, 140, 140) == pytest.approx(canvas.pen_width(), abs=2)
    canvas.clear()
    draw(canvas, line((40, 140), (240, 140))[:4])  # its first points: a tiny digit so far
    assert canvas.ink_width() < 0.5 * canvas.pen_width()
