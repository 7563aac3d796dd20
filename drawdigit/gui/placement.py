"""Where the main window's companions open (the training dialog, Look Inside): beside
the main window, not over the canvas.

Both say "keep drawing": they must leave the canvas visible. ``place_beside`` is pure
geometry (QRect in screen pixels, frames included), so it can be checked without a screen;
``place_beside_parent`` applies it to a widget.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QWidget

GAP = 8  # pixels between the main window and the dialog


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _fit(area: QRect, size: QSize, minimum: QSize, anchor: QPoint) -> QRect | None:
    """``size`` shrunk to ``area`` (not below ``minimum``), as near ``anchor`` as it goes."""
    width, height = min(size.width(), area.width()), min(size.height(), area.height())
    if width < minimum.width() or height < minimum.height():
        return None
    x = _clamp(anchor.x(), area.left(), area.right() + 1 - width)
    y = _clamp(anchor.y(), area.top(), area.bottom() + 1 - height)
    return QRect(x, y, width, height)


def _covered(rect: QRect, other: QRect) -> int:
    common = rect.intersected(other)
    return 0 if common.isEmpty() else common.width() * common.height()


def place_beside(window: QRect, canvas: QRect, size: QSize, minimum: QSize, screen: QRect) -> QRect:
    """Where the dialog goes (its frame), given the main window's frame, its canvas and
    the screen's free area.

    The first of right of, left of, below and above the window where the dialog fits at
    ``size``, or shrunk towards ``minimum``; where none has room, the screen corner at
    which it covers the least of the canvas (then of the window).
    """
    right = QRect(
        window.right() + 1 + GAP,
        screen.top(),
        screen.right() - window.right() - GAP,
        screen.height(),
    )
    left = QRect(screen.left(), screen.top(), window.left() - GAP - screen.left(), screen.height())
    below = QRect(
        screen.left(),
        window.bottom() + 1 + GAP,
        screen.width(),
        screen.bottom() - window.bottom() - GAP,
    )
    above = QRect(screen.left(), screen.top(), screen.width(), window.top() - GAP - screen.top())
    for area, anchor in (
        (right, QPoint(right.left(), window.top())),
        (left, QPoint(left.right() + 1 - size.width(), window.top())),
        (below, QPoint(window.left(), below.top())),
        (above, QPoint(window.left(), above.bottom() + 1 - size.height())),
    ):
        if area.width() > 0 and area.height() > 0:
            rect = _fit(area, size, minimum, anchor)
            if rect is not None:
                return rect
    width, height = min(size.width(), screen.width()), min(size.height(), screen.height())
    corners = [
        QRect(x, y, width, height)
        for x in (screen.left(), screen.right() + 1 - width)
        for y in (screen.top(), screen.bottom() + 1 - height)
    ]
    return min(corners, key=lambda rect: (_covered(rect, canvas), _covered(rect, window)))


def place_beside_parent(widget: QWidget) -> None:
    """Move and size ``widget`` (a top-level window with a parent) beside its parent's
    window where the screen has room, else where it covers the least of the canvas."""
    parent = widget.parentWidget()
    if parent is None:
        return
    window = parent.window()
    screen = window.screen() or widget.screen()
    canvas = getattr(window, "canvas", None)
    canvas_rect = (
        QRect(canvas.mapToGlobal(QPoint(0, 0)), canvas.size())
        if isinstance(canvas, QWidget)
        else window.frameGeometry()
    )
    frame = window.frameGeometry().size() - window.geometry().size()
    rect = place_beside(
        window.frameGeometry(),
        canvas_rect,
        widget.size() + frame,
        widget.minimumSizeHint().expandedTo(widget.minimumSize()) + frame,
        screen.availableGeometry(),
    )
    widget.resize(rect.size() - frame)
    widget.move(rect.topLeft())
