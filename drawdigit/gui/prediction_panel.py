"""The answer side of the window: the digit, how sure the network is, and what it saw.

The panel only displays; the window decides what to show. Its states:
- empty canvas: a hint ("Draw a digit"), never a digit or bars;
- waiting: a drawing but no answer yet ("Loading model…", or why there is no model);
- an answer: the digit large with its confidence, or, when ``Prediction.unsure``, a plain
  "Not sure — 4 or 9?" and a question mark instead of asserting a digit;
- always, once there is ink: the 28x28 input magnified, pixel for pixel, and the bars.
Colours come from the palette (light and dark themes); the 28x28 view is MNIST's own look,
white ink on black, as the network sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from drawdigit.gui.images import gray_to_qimage

if TYPE_CHECKING:
    import numpy as np

    from drawdigit.inference import Prediction


class ModelInputView(QWidget):
    """The 28x28 input magnified with nearest-neighbour sampling, with a faint pixel grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setMinimumSize(112, 112)
        self.setMaximumHeight(28 * 12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("What the model sees")

    def sizeHint(self) -> QSize:
        return QSize(224, 224)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def _square(self) -> QRectF:
        side = min(self.width(), self.height())
        side -= side % 28 if side >= 56 else 0  # whole pixels per input pixel: crisp edges
        return QRectF((self.width() - side) / 2, 0, side, side)  # top: under its title

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        square = self._square()
        painter.fillRect(square, QColor(0, 0, 0))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(square, self._image)
        cell = square.width() / 28.0
        if cell >= 5:
            painter.setPen(QPen(QColor(255, 255, 255, 22), 1))
            for i in range(1, 28):
                x = square.left() + i * cell
                y = square.top() + i * cell
                painter.drawLine(int(x), int(square.top()), int(x), int(square.bottom()) - 1)
                painter.drawLine(int(square.left()), int(y), int(square.right()) - 1, int(y))
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(square.adjusted(0, 0, -1, -1))
        painter.end()


class ProbabilityBars(QWidget):
    """One horizontal bar per digit, 0 to 9, with its probability in percent."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probabilities: list[float] | None = None
        self._top: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Probabilities")

    def sizeHint(self) -> QSize:
        return QSize(240, 10 * (self.fontMetrics().height() + 6))

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 10 * (self.fontMetrics().height() + 2))

    def set_probabilities(self, probabilities: list[float] | None, top: int | None) -> None:
        self._probabilities = probabilities
        self._top = top
        if probabilities is None:
            self.setToolTip("")
        else:
            self.setToolTip("\n".join(f"{d}: {p * 100:.1f}%" for d, p in enumerate(probabilities)))
        self.update()

    def probabilities(self) -> list[float] | None:
        return self._probabilities

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        metrics = self.fontMetrics()
        row = self.height() / 10.0
        label_w = metrics.horizontalAdvance("0") + 10
        value_w = metrics.horizontalAdvance("100%") + 8
        bar_left = label_w
        bar_w = max(10.0, self.width() - label_w - value_w)
        bar_h = max(4.0, min(row * 0.62, metrics.height() * 0.9))
        track = palette.color(QPalette.ColorRole.Midlight)
        if track == palette.color(QPalette.ColorRole.Window):
            track = palette.color(QPalette.ColorRole.Mid)
        active = self.isEnabled() and self._probabilities is not None
        for digit in range(10):
            top = digit * row
            text_rect = QRectF(0, top, label_w - 6, row)
            is_top = active and digit == self._top
            font = QFont(self.font())
            font.setBold(is_top)
            painter.setFont(font)
            role = QPalette.ColorRole.WindowText if active else QPalette.ColorRole.PlaceholderText
            painter.setPen(palette.color(role))
            painter.drawText(
                text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(digit)
            )
            bar = QRectF(bar_left, top + (row - bar_h) / 2, bar_w, bar_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(bar, bar_h / 2, bar_h / 2)
            if active:
                assert self._probabilities is not None
                p = float(self._probabilities[digit])
                if p >= 0.005:  # shown as at least 1%
                    fill = QRectF(bar.left(), bar.top(), max(bar_h, bar_w * p), bar_h)
                    color = palette.color(QPalette.ColorRole.Highlight)
                    if not is_top:
                        color.setAlphaF(0.55)
                    painter.setBrush(color)
                    painter.drawRoundedRect(fill, bar_h / 2, bar_h / 2)
                painter.setPen(palette.color(QPalette.ColorRole.WindowText))
                value_rect = QRectF(bar_left + bar_w + 6, top, value_w - 6, row)
                painter.drawText(
                    value_rect,
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    f"{p * 100:.0f}%",
                )
        painter.end()


class PredictionPanel(QWidget):
    """The digit, a sentence about it, the bars, and the 28x28 view, top to bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)

        self.digit_label = QLabel()
        self.digit_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digit_label.setAccessibleName("Predicted digit")
        font = QFont(self.font())
        font.setPointSizeF(max(48.0, font.pointSizeF() * 6.5))
        font.setBold(True)
        self.digit_label.setFont(font)
        self.digit_label.setMinimumHeight(self.digit_label.fontMetrics().height())

        self.headline_label = QLabel()
        self.headline_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline_label.setWordWrap(True)
        headline_font = QFont(self.font())
        headline_font.setPointSizeF(headline_font.pointSizeF() * 1.25)
        self.headline_label.setFont(headline_font)
        self.headline_label.setAccessibleName("Prediction")

        self.bars = ProbabilityBars()
        self.input_title = QLabel("What the model sees (28 × 28)")
        self.input_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input_view = ModelInputView()

        layout.addWidget(self.digit_label)
        layout.addWidget(self.headline_label)
        layout.addSpacing(6)
        layout.addWidget(self.bars)
        layout.addSpacing(10)
        layout.addWidget(self.input_title)
        layout.addWidget(self.input_view, 1)
        layout.addStretch(0)
        self.setMinimumWidth(230)
        self.show_empty()

    def sizeHint(self) -> QSize:
        return QSize(280, 560)

    # ------------------------------------------------------------------ states

    def show_empty(self) -> None:
        """Empty canvas: a hint, nothing that looks like an answer."""
        self._set_digit("", muted=True)
        self.headline_label.setText("Draw a digit")
        self.bars.set_probabilities(None, None)
        self.input_view.set_image(None)

    def show_waiting(self, message: str) -> None:
        """Ink but no answer yet (model loading, or no model)."""
        self._set_digit("…", muted=True)
        self.headline_label.setText(message)
        self.bars.set_probabilities(None, None)

    def show_prediction(self, prediction: Prediction) -> None:
        probabilities = [float(p) for p in prediction.probabilities]
        if prediction.unsure:
            self._set_digit("?", muted=True)
            self.headline_label.setText(f"Not sure — {prediction.digit} or {prediction.runner_up}?")
        else:
            self._set_digit(str(prediction.digit), muted=False)
            self.headline_label.setText(f"{prediction.confidence * 100:.0f}% sure")
        self.bars.set_probabilities(probabilities, prediction.digit)

    def set_model_input(self, image28: np.ndarray | None) -> None:
        self.input_view.set_image(None if image28 is None else gray_to_qimage(image28))

    def shown_digit(self) -> str:
        """The big glyph as shown: a digit, "?" when unsure, or "" / "…" with no answer."""
        return self.digit_label.text()

    def _set_digit(self, text: str, muted: bool) -> None:
        self.digit_label.setText(text)
        self._muted = muted
        self._apply_digit_colour()

    def _apply_digit_colour(self) -> None:
        muted = getattr(self, "_muted", True)
        role = QPalette.ColorRole.PlaceholderText if muted else QPalette.ColorRole.WindowText
        palette = self.digit_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, self.palette().color(role))
        self.digit_label.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_digit_colour()  # the theme changed: follow it
        super().changeEvent(event)
