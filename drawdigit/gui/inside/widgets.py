"""The small widgets of the "Look inside" window: a magnified picture, titles, captions.

``ArrayView`` shows the pictures the worker made (28x28 heat, grids of maps, memories) with
whole pixels crisp, as the main window's "What the model sees" does, and gives its height
for its width so a row of grids takes only the height its pictures need.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QWidget


class ArrayView(QWidget):
    """An image magnified to fit its width (aspect kept, at most ``cell`` screen pixels per
    image pixel), whole pixels crisp (no smoothing), at the top of its space. Its height
    follows its width, so a row of grids takes only the height its pictures need."""

    def __init__(
        self,
        cell: int,
        minimum_cell: int = 1,
        *,
        natural: QSize | None = None,
        stretch: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._image = QImage()
        self._stretch = stretch  # fill the whole widget (a legend), aspect not kept
        self._cell = cell
        self._minimum_cell = minimum_cell
        # The image's size, kept while no image is shown so the layout does not jump.
        self._natural = QSize(28, 28) if natural is None else natural
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(not stretch)
        self.setSizePolicy(policy)
        self._update_limits()

    def _update_limits(self) -> None:
        if not self._stretch:
            self.setMinimumSize(self._natural * self._minimum_cell)
            self.setMaximumWidth(self._natural.width() * self._cell)

    def set_image(self, image: QImage | None) -> None:
        self._image = QImage() if image is None else image
        if image is not None and image.size() != self._natural:
            self._natural = image.size()
            self._update_limits()
            self.updateGeometry()
        self.update()

    def image(self) -> QImage:
        return self._image

    def sizeHint(self) -> QSize:
        return self._natural * self._cell

    def minimumSizeHint(self) -> QSize:
        return self._natural * self._minimum_cell

    def hasHeightForWidth(self) -> bool:
        return not self._stretch

    def heightForWidth(self, width: int) -> int:
        natural = self._natural
        return max(
            1, round(min(width, natural.width() * self._cell) * natural.height() / natural.width())
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        mode = (
            Qt.AspectRatioMode.IgnoreAspectRatio
            if self._stretch
            else Qt.AspectRatioMode.KeepAspectRatio
        )
        size = self._natural.scaled(self.size(), mode)
        left = (self.width() - size.width()) // 2
        if self._image.isNull():
            painter.fillRect(left, 0, size.width(), size.height(), QColor(128, 128, 128, 60))
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(left, 0, self._image.scaled(size))
        painter.end()


def title_label(text: str, tip: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    label.setFont(font)
    label.setToolTip(tip)
    return label


def caption(text: str = "", tip: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setToolTip(tip)
    return label


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
