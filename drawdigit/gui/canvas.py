"""The drawing canvas: a sheet of paper a person draws a digit on with a mouse, pen or finger.

What the canvas keeps is the list of strokes, not the pixels, because strokes are what the
recogniser (``drawdigit.preprocess``), a saved file and ``drawdigit predict`` all share.

- Coordinates: strokes are stored in *document* units, the canvas size of the strokes format
  (280 x 280 for a new drawing, or whatever an opened file says). The paper is shown scaled
  to fit the widget, centred. Resizing the window therefore never touches the strokes: the
  drawing looks the same at every size, a saved file round-trips exactly, and the eraser
  (from ``strokes.pen_width`` of the document) keeps its size.
- The ink is shown with the pen the network sees (``preprocess.network_pen``): a small digit
  gets a thin line, not a blob; a big one at most the canvas pen (not a marker). The paper
  is re-rendered when that width moves by more than ``INK_TOLERANCE``.
- Display: a ``QImage`` at the widget's device-pixel size (sharp on High-DPI screens) holds
  the rendered paper; a new pointer position paints one anti-aliased, round-capped segment
  into it and repaints only that segment's rectangle, so a stroke follows the pointer within
  a frame. Everything else (resize, undo, erase) re-renders the whole image from the strokes.
- Recognition sees exactly what is drawn: the pointer is clamped to the paper, tablet
  pressure changes the displayed width only, and the eraser removes the *strokes* under it
  (it splits strokes where it passes, see ``erase_from_stroke``) rather than painting white,
  after which the paper is re-rendered from the strokes. The eraser's circle removes the
  path within its radius plus half the pen, so no ink is left inside the circle.
- An image (dropped or opened) is shown fitted on the paper in place of strokes and
  recognised from its pixels; drawing on it starts a new drawing (Undo brings it back).
- ``drawingChanged`` carries what recognition needs: a ``Drawing`` (throttled to ~60 Hz
  while a stroke is drawn, and at once at pen-up and after every other change), or the
  shown image's grayscale pixels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QInputDevice,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPointingDevice,
    QResizeEvent,
    QTabletEvent,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from drawdigit.strokes import Drawing, pen_width

# A new drawing's canvas: the strokes format's canonical size, the one pen_width was tuned on.
DEFAULT_WIDTH = 280.0
DEFAULT_HEIGHT = 280.0
# Paper and ink are the only fixed colours: a digit is dark ink on white paper in any theme.
PAPER = QColor(255, 255, 255)
INK = QColor(17, 17, 17)
HINT = QColor(160, 160, 160)
# Live updates while a stroke is drawn: at most one per display frame.
EMIT_INTERVAL_S = 1.0 / 60.0
# The ink's width in canvas pens (a first point has no size yet: its network pen is invisible).
MIN_INK_PENS, MAX_INK_PENS = 0.25, 1.0
# A stroke's segments keep the last full render's width until the network's pen moves this much.
INK_TOLERANCE = 0.04
# The eraser's radius, in pens (the circle shown is 2 pens wide).
ERASER_RADIUS_PENS = 1.0
# The eraser walks the strokes it touches in steps this long (document px).
ERASE_STEP = 0.5

# A point as the canvas keeps it: x, y in document px, and the displayed width factor
# (tablet pressure; 1.0 for a mouse). Only x and y reach recognition and files.
Point = tuple[float, float, float]
Stroke = tuple[Point, ...]


@dataclass(frozen=True, eq=False)
class Picture:
    """An image shown on the canvas in place of strokes: dropped or opened from a file."""

    image: QImage  # for display
    pixels: Any  # the grayscale array recognition uses (what ``preprocess`` takes)
    name: str


@dataclass(frozen=True)
class CanvasState:
    """Everything undo/redo restores. Immutable, so a snapshot is just a reference."""

    width: float = DEFAULT_WIDTH
    height: float = DEFAULT_HEIGHT
    strokes: tuple[Stroke, ...] = ()
    picture: Picture | None = None

    @property
    def is_empty(self) -> bool:
        return self.picture is None and not any(self.strokes)


class _StateCommand(QUndoCommand):
    """One undo step: the canvas state before and after a stroke, erase, clear or open."""

    def __init__(self, canvas: DrawingCanvas, before: CanvasState, after: CanvasState, text: str):
        super().__init__(text)
        self._canvas = canvas
        self._before = before
        self._after = after

    def redo(self) -> None:
        self._canvas._set_state(self._after)

    def undo(self) -> None:
        self._canvas._set_state(self._before)


class DrawingCanvas(QWidget):
    """The paper. See the module docstring for how strokes, display and recognition relate."""

    drawingChanged = Signal(object)  # Drawing, or the shown picture's grayscale pixels
    # True at pen-down (drawing or erasing), False at pen-up, after the last drawingChanged
    strokeActiveChanged = Signal(bool)
    firstPainted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.setMouseTracking(True)  # the eraser's circle follows the pointer
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAccessibleName("Drawing canvas")
        self.setToolTip("")
        self._state = CanvasState()
        self._stack = QUndoStack(self)
        self._image: QImage | None = None
        self._image_ink = 0.0  # the ink width (document px) the image was rendered with
        self._painted_once = False
        # The gesture in progress: None, "draw" or "erase", and the button that started it.
        self._gesture: str | None = None
        self._gesture_button = Qt.MouseButton.NoButton
        self._gesture_before = self._state
        self._current: list[Point] = []
        self._erase_last: tuple[float, float] | None = None
        self._eraser_mode = False
        self._hover: QPointF | None = None
        self._last_emit = 0.0
        self._emit_timer = QTimer(self)
        self._emit_timer.setSingleShot(True)
        self._emit_timer.timeout.connect(self._emit_now)

    # ------------------------------------------------------------------ public API

    @property
    def undo_stack(self) -> QUndoStack:
        return self._stack

    def sizeHint(self) -> QSize:
        return QSize(440, 440)

    def state(self) -> CanvasState:
        return self._state

    def drawing(self) -> Drawing:
        """The strokes as drawn so far (the stroke in progress included), for files and
        recognition. With a picture shown this is an empty drawing."""
        strokes = [[(x, y) for x, y, _ in stroke] for stroke in self._state.strokes]
        if self._gesture == "draw" and self._current:
            strokes.append([(x, y) for x, y, _ in self._current])
        return Drawing(self._state.width, self._state.height, strokes)

    def picture(self) -> Picture | None:
        return self._state.picture

    def recognition_input(self) -> Any:
        """What the recogniser should classify: the picture's pixels, or the drawing."""
        picture = self._state.picture
        return picture.pixels if picture is not None else self.drawing()

    def is_empty(self) -> bool:
        return self._state.is_empty and not (self._gesture == "draw" and self._current)

    def pen_width(self) -> float:
        """The canvas pen in document px (the eraser's unit; preprocessing's scale cap)."""
        return pen_width(self._state.width, self._state.height)

    def ink_width(self) -> float:
        """The width in document px the ink is shown with: the network's pen for the
        drawing as it stands (the stroke in progress included), kept within
        ``MIN_INK_PENS`` and ``MAX_INK_PENS`` canvas pens."""
        floor, cap = MIN_INK_PENS * self.pen_width(), MAX_INK_PENS * self.pen_width()
        if not (drawing := self.drawing()).strokes:
            return floor
        from drawdigit.preprocess import network_pen  # numpy: not before the window shows

        pen = network_pen(drawing)
        return floor if pen is None else min(max(pen, floor), cap)

    def set_drawing(self, drawing: Drawing, text: str = "Open Drawing") -> None:
        """Show ``drawing`` (its own canvas size becomes the document's); undoable."""
        self._finish_gesture()
        strokes = tuple(
            tuple((float(x), float(y), 1.0) for x, y in stroke) for stroke in drawing.strokes
        )
        self._push(CanvasState(float(drawing.width), float(drawing.height), strokes), text)

    def set_picture(self, image: QImage, pixels: Any, name: str) -> None:
        """Show an image in place of the strokes; it is recognised from ``pixels``."""
        self._finish_gesture()
        picture = Picture(image, pixels, name)
        self._push(CanvasState(DEFAULT_WIDTH, DEFAULT_HEIGHT, (), picture), "Open Image")

    def clear(self) -> None:
        """Back to a blank default-size sheet (undoable)."""
        self._finish_gesture()
        if self._state == CanvasState():
            return
        self._push(CanvasState(), "Clear")

    def undo(self) -> None:
        self._finish_gesture()
        self._stack.undo()

    def redo(self) -> None:
        self._finish_gesture()
        self._stack.redo()

    def eraser_mode(self) -> bool:
        return self._eraser_mode

    def set_eraser_mode(self, on: bool) -> None:
        """With the eraser on, the left button erases (the right button always does)."""
        self._eraser_mode = bool(on)
        self.update()

    def render_document(self, scale: float = 1.0) -> QImage:
        """The paper at ``scale`` x document size, e.g. to export as PNG."""
        width = max(1, round(self._state.width * scale))
        height = max(1, round(self._state.height * scale))
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(PAPER)
        painter = QPainter(image)
        self._paint_content(painter, QRectF(0, 0, width, height), scale, self.ink_width())
        painter.end()
        return image

    # ------------------------------------------------------------------ geometry

    def _layout(self) -> tuple[float, float, float]:
        """(scale, left, top) of the document's paper fitted and centred in the widget."""
        w, h = self._state.width, self._state.height
        scale = min(self.width() / w, self.height() / h)
        return scale, (self.width() - w * scale) / 2.0, (self.height() - h * scale) / 2.0

    def paper_rect(self) -> QRectF:
        scale, left, top = self._layout()
        return QRectF(left, top, self._state.width * scale, self._state.height * scale)

    def to_document(self, pos: QPointF) -> tuple[float, float]:
        """Widget position -> document px, clamped to the paper (what is seen is recognised)."""
        scale, left, top = self._layout()
        x = (pos.x() - left) / scale
        y = (pos.y() - top) / scale
        return (
            min(max(x, 0.0), self._state.width),
            min(max(y, 0.0), self._state.height),
        )

    def to_widget(self, x: float, y: float) -> QPointF:
        scale, left, top = self._layout()
        return QPointF(left + x * scale, top + y * scale)

    def _eraser_radius(self) -> float:
        return ERASER_RADIUS_PENS * self.pen_width()

    # ------------------------------------------------------------------ state changes

    def _push(self, after: CanvasState, text: str, before: CanvasState | None = None) -> None:
        before = self._state if before is None else before
        if after == before:
            return
        self._stack.push(_StateCommand(self, before, after, text))

    def _set_state(self, state: CanvasState) -> None:
        """Called by undo commands: show ``state`` and tell the recogniser at once."""
        if state is self._state:
            return
        self._state = state
        self._render_all()
        self.update()
        self._emit_now()

    # ------------------------------------------------------------------ pointer input

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._gesture is not None:
            event.accept()  # one gesture at a time; a second button does nothing
            return
        button = event.button()
        if button == Qt.MouseButton.LeftButton and not self._eraser_mode:
            self._begin_stroke(event.position(), 1.0)
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._begin_erase(event.position())
        else:
            event.ignore()
            return
        self._gesture_button = button
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._move_to(event.position(), 1.0)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._gesture is not None and event.button() == self._gesture_button:
            self._move_to(event.position(), 1.0)
            self._finish_gesture()
        event.accept()

    def tabletEvent(self, event: QTabletEvent) -> None:
        """A pen: pressure widens the displayed line only; its eraser end erases."""
        device = event.pointingDevice()
        has_pressure = bool(device.capabilities() & QInputDevice.Capability.Pressure)
        factor = 0.5 + event.pressure() if has_pressure else 1.0
        kind = event.type()
        if kind == QEvent.Type.TabletPress and self._gesture is None:
            eraser_end = device.pointerType() == QPointingDevice.PointerType.Eraser
            if eraser_end or self._eraser_mode:
                self._begin_erase(event.position())
            else:
                self._begin_stroke(event.position(), factor)
            self._gesture_button = Qt.MouseButton.LeftButton
        elif kind == QEvent.Type.TabletMove:
            self._move_to(event.position(), factor)
        elif kind == QEvent.Type.TabletRelease and self._gesture is not None:
            self._move_to(event.position(), factor)
            self._finish_gesture()
        event.accept()  # no synthesised mouse events on top of the pen's own

    def leaveEvent(self, event: QEvent) -> None:
        if self._hover is not None:
            self.update(self._eraser_rect(self._hover))
        self._hover = None
        super().leaveEvent(event)

    def _move_to(self, pos: QPointF, factor: float) -> None:
        previous_hover = self._hover
        self._hover = QPointF(pos)
        if self._gesture == "draw":
            self._extend_stroke(pos, factor)
        elif self._gesture == "erase":
            self._erase_to(pos)
        if self._eraser_mode or self._gesture == "erase":
            if previous_hover is not None:
                self.update(self._eraser_rect(previous_hover))
            self.update(self._eraser_rect(pos))

    def _begin_stroke(self, pos: QPointF, factor: float) -> None:
        self._gesture = "draw"
        self._gesture_before = self._state
        if self._state.picture is not None:
            # Drawing over an image starts a new drawing; one Undo brings the image back.
            self._state = replace(self._state, picture=None, strokes=())
            self._render_all()
            self.update()
        hint_shown = self._state.is_empty
        self.strokeActiveChanged.emit(True)
        x, y = self.to_document(pos)
        self._current = [(x, y, factor)]
        dirty = self._paint_segment(self._current[0], self._current[0])
        if hint_shown:
            self.update()  # the "Draw a digit here" hint goes away
        else:
            self.update(dirty)
        self._emit_throttled()

    def _extend_stroke(self, pos: QPointF, factor: float) -> None:
        x, y = self.to_document(pos)
        last = self._current[-1]
        if (x, y) == (last[0], last[1]):
            # Only repeats are dropped: every distinct point is kept, so the strokes are the
            # pointer's path exactly (preprocess thins them at 28x28 resolution itself).
            return
        point = (x, y, factor)
        self._current.append(point)
        self.update(self._paint_segment(last, point))
        self._emit_throttled()

    def _begin_erase(self, pos: QPointF) -> None:
        self._gesture = "erase"
        self._gesture_before = self._state
        self.strokeActiveChanged.emit(True)
        self._erase_last = self.to_document(pos)
        self._erase_along(self._erase_last, self._erase_last)

    def _erase_to(self, pos: QPointF) -> None:
        point = self.to_document(pos)
        if self._erase_last is not None:
            self._erase_along(self._erase_last, point)
        self._erase_last = point

    def _erase_along(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        """Remove the strokes' path within reach of the eraser moving from a to b."""
        if self._state.picture is not None:
            return  # an image is not strokes; Clear removes it
        reach = self._eraser_radius() + self.ink_width() / 2.0
        kept: list[Stroke] = []
        changed = False
        for stroke in self._state.strokes:
            pieces = erase_from_stroke(stroke, a, b, reach)
            if pieces is None:
                kept.append(stroke)
            else:
                changed = True
                kept.extend(pieces)
        if changed:
            self._state = replace(self._state, strokes=tuple(kept))
            self._render_all()
            self.update()
            self._emit_throttled()

    def _finish_gesture(self) -> None:
        """Pen-up: the stroke or erase becomes one undo step; recognition hears at once."""
        gesture, self._gesture = self._gesture, None
        self._gesture_button = Qt.MouseButton.NoButton
        if gesture == "draw":
            stroke = tuple(self._current)
            self._current = []
            after = replace(self._state, strokes=self._state.strokes + (stroke,))
            self._state = after
            self._push(after, "Stroke", before=self._gesture_before)
            # Segment by segment, anti-aliased edges overlap at the joints; the finished
            # stroke is redrawn as one polyline, exactly as undo/redo/resize will show it.
            self._render_all()
            self.update(self._stroke_rect(stroke))
        elif gesture == "erase":
            self._erase_last = None
            self._push(self._state, "Erase", before=self._gesture_before)
            self.update()
        else:
            return
        self._emit_now()
        self.strokeActiveChanged.emit(False)

    # ------------------------------------------------------------------ change signal

    def _emit_throttled(self) -> None:
        remaining = EMIT_INTERVAL_S - (time.monotonic() - self._last_emit)
        if remaining <= 0:
            self._emit_now()
        elif not self._emit_timer.isActive():
            self._emit_timer.start(max(1, math.ceil(remaining * 1000)))

    def _emit_now(self) -> None:
        self._emit_timer.stop()
        self._last_emit = time.monotonic()
        self.drawingChanged.emit(self.recognition_input())

    # ------------------------------------------------------------------ rendering

    def _render_all(self) -> None:
        """Re-render the whole paper from the state, at the widget's device pixels."""
        dpr = self.devicePixelRatioF()
        size = QSize(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(dpr)
        image.fill(self.palette().window().color())
        painter = QPainter(image)
        paper = self.paper_rect()
        painter.fillRect(paper, PAPER)
        scale = self._layout()[0]
        painter.translate(paper.topLeft())
        self._image_ink = self.ink_width()
        self._paint_content(
            painter, QRectF(0, 0, paper.width(), paper.height()), scale, self._image_ink
        )
        painter.end()
        self._image = image
        if self._gesture == "draw" and self._current:
            self._paint_points(self._current)

    def _paint_content(self, painter: QPainter, paper: QRectF, scale: float, ink: float) -> None:
        """Picture or strokes onto ``paper`` (painter at the paper's origin, px = doc*scale),
        the strokes ``ink`` document px wide."""
        painter.setClipRect(paper)
        picture = self._state.picture
        if picture is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            size = QSize(picture.image.width(), picture.image.height()).scaled(
                paper.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio
            )
            target = QRectF(
                paper.x() + (paper.width() - size.width()) / 2,
                paper.y() + (paper.height() - size.height()) / 2,
                size.width(),
                size.height(),
            )
            painter.drawImage(target, picture.image)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = ink * scale
        for stroke in self._state.strokes:
            _paint_stroke(painter, stroke, scale, pen)

    def _paint_points(self, points: list[Point]) -> None:
        """Paint the stroke in progress into the image (after a full re-render)."""
        if self._image is None:
            return
        painter = self._segment_painter()
        scale = self._layout()[0]
        _paint_stroke(painter, tuple(points), scale, self._image_ink * scale)
        painter.end()

    def _segment_painter(self) -> QPainter:
        assert self._image is not None
        painter = QPainter(self._image)
        paper = self.paper_rect()
        painter.setClipRect(paper)
        painter.translate(paper.topLeft())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        return painter

    def _paint_segment(self, a: Point, b: Point) -> QRect:
        """Paint one segment into the image; returns the widget rectangle to repaint."""
        ink = self.ink_width()
        if self._image is None or not self._image_fits():
            self._render_all()  # includes the current stroke
        elif abs(ink - self._image_ink) > INK_TOLERANCE * self._image_ink:
            self._render_all()  # the digit grew or shrank: every stroke's width changes
            return self.rect()
        else:
            painter = self._segment_painter()
            scale = self._layout()[0]
            _paint_stroke(painter, (a, b), scale, self._image_ink * scale)
            painter.end()
        scale = self._layout()[0]
        reach = self._image_ink * scale * max(a[2], b[2]) / 2.0 + 2.0
        pa, pb = self.to_widget(a[0], a[1]), self.to_widget(b[0], b[1])
        return QRectF(pa, pb).normalized().adjusted(-reach, -reach, reach, reach).toAlignedRect()

    def _stroke_rect(self, stroke: Stroke) -> QRect:
        scale, left, top = self._layout()
        xs = [p[0] for p in stroke]
        ys = [p[1] for p in stroke]
        reach = self._image_ink * scale * max(p[2] for p in stroke) / 2.0 + 2.0
        return QRectF(
            left + min(xs) * scale - reach,
            top + min(ys) * scale - reach,
            (max(xs) - min(xs)) * scale + 2 * reach,
            (max(ys) - min(ys)) * scale + 2 * reach,
        ).toAlignedRect()

    def _image_fits(self) -> bool:
        image = self._image
        if image is None:
            return False
        dpr = self.devicePixelRatioF()
        return image.devicePixelRatio() == dpr and image.width() == max(
            1, round(self.width() * dpr)
        )

    def _eraser_rect(self, pos: QPointF) -> QRect:
        radius = self._eraser_radius() * self._layout()[0] + 3.0
        return QRectF(pos.x() - radius, pos.y() - radius, 2 * radius, 2 * radius).toAlignedRect()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._image = None  # re-rendered at the new size on the next paint
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._image = None
            self.update()
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._image_fits() or self._image is None:
            self._render_all()
        painter = QPainter(self)
        assert self._image is not None
        painter.drawImage(QPointF(0, 0), self._image)  # clipped to the dirty region
        paper = self.paper_rect()
        if self.is_empty() and self._gesture is None:
            self._paint_hint(painter, paper)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.palette().mid().color(), 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(paper.adjusted(0.5, 0.5, -0.5, -0.5))
        if self._hover is not None and (self._eraser_mode or self._gesture == "erase"):
            radius = self._eraser_radius() * self._layout()[0]
            painter.setPen(QPen(QColor(90, 90, 90), 1.5))
            painter.setBrush(QColor(255, 255, 255, 90))
            painter.drawEllipse(self._hover, radius, radius)
        painter.end()
        if not self._painted_once:
            self._painted_once = True
            self.firstPainted.emit()

    def _paint_hint(self, painter: QPainter, paper: QRectF) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(9.0, paper.height() / 26.0))
        painter.setFont(font)
        painter.setPen(HINT)
        painter.drawText(paper, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")


# ---------------------------------------------------------------------- pure helpers


def _paint_stroke(painter: QPainter, stroke: Stroke, scale: float, pen_px: float) -> None:
    """Segments one by one, each as wide as its points' pressure says; round caps join them."""
    pen = QPen(INK, pen_px, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    if len(stroke) == 1:
        x, y, factor = stroke[0]
        pen.setWidthF(pen_px * factor)
        painter.setPen(pen)
        painter.drawPoint(QPointF(x * scale, y * scale))
        return
    uniform = all(p[2] == stroke[0][2] for p in stroke)
    if uniform:
        pen.setWidthF(pen_px * stroke[0][2])
        painter.setPen(pen)
        painter.drawPolyline([QPointF(x * scale, y * scale) for x, y, _ in stroke])
        return
    for a, b in pairwise(stroke):
        pen.setWidthF(pen_px * (a[2] + b[2]) / 2.0)
        painter.setPen(pen)
        painter.drawLine(QPointF(a[0] * scale, a[1] * scale), QPointF(b[0] * scale, b[1] * scale))


def _distance_to_segment(
    px: float, py: float, a: tuple[float, float], b: tuple[float, float]
) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - a[0]) * dx + (py - a[1]) * dy) / length2))
    return math.hypot(px - (a[0] + t * dx), py - (a[1] + t * dy))


def erase_from_stroke(
    stroke: Stroke, a: tuple[float, float], b: tuple[float, float], reach: float
) -> list[Stroke] | None:
    """What is left of ``stroke`` after removing its path within ``reach`` of segment a-b.

    Returns None when the eraser misses the stroke (keep it as it is), else the remaining
    pieces (possibly none). Segments near the eraser are walked in ``ERASE_STEP`` steps so
    the cut lands where the eraser's edge is, not at the nearest recorded point (pointer
    points can be far apart when the pointer moves fast).
    """
    low_x, high_x = min(a[0], b[0]) - reach, max(a[0], b[0]) + reach
    low_y, high_y = min(a[1], b[1]) - reach, max(a[1], b[1]) + reach

    def near_box(p: Point, q: Point) -> bool:
        return not (
            max(p[0], q[0]) < low_x
            or min(p[0], q[0]) > high_x
            or max(p[1], q[1]) < low_y
            or min(p[1], q[1]) > high_y
        )

    if not any(
        near_box(p, q)
        for p, q in (pairwise(stroke) if len(stroke) > 1 else [(stroke[0], stroke[0])])
    ):
        return None
    pieces: list[Stroke] = []
    run: list[Point] = []
    erased = False

    def visit(point: Point) -> None:
        nonlocal run, erased
        if _distance_to_segment(point[0], point[1], a, b) <= reach:
            erased = True
            if run:
                pieces.append(tuple(run))
                run = []
        else:
            run.append(point)

    visit(stroke[0])
    for p, q in pairwise(stroke):
        if not near_box(p, q):
            visit(q)
            continue
        steps = max(1, math.ceil(math.hypot(q[0] - p[0], q[1] - p[1]) / ERASE_STEP))
        for k in range(1, steps + 1):
            t = k / steps
            visit(
                q
                if k == steps
                else (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]), p[2] + t * (q[2] - p[2]))
            )
    if run:
        pieces.append(tuple(run))
    return pieces if erased else None
