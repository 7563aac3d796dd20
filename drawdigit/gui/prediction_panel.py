"""The answer side of the window: the answer, how sure it is, and what the network saw.

The panel only displays; ``decide`` decides. Its states:
- empty canvas: a hint ("Draw a digit"), never a digit or bars;
- waiting: a drawing but no answer yet ("Loading model…", or why there is no model);
- an answer (``show_decision``), said plainly: a sure digit large with "97% sure"; for
  "not sure" the likely digit with a question mark ("7?") and "Probably 7 — or 4" (the
  second may be "not a digit"; their percentages are the bars below, and the tooltip);
  "Not a digit — 93% sure"; a number ("42") with each digit's sureness;
- once there is ink: every 28x28 input the network read (one per digit of a number),
  magnified pixel for pixel, and for ink read as one digit the bars of its distribution
  (``Decision.distribution``): the ten digits and "not a digit", adding up to 100%. Every
  percentage in the words is one of those bars, so the words and the bars tell one story:
  a sure answer needs its bar at the sure threshold, and "not sure" never stands beside a
  bar that high.

No flashing while drawing: the window calls ``set_stroke_active(True)`` at pen down and
``set_stroke_active(False)`` at pen up. While a stroke is being drawn, "not sure" and "not a
digit" answers are held back (a half-drawn digit is often one of them) and the panel keeps
its last answer; at the stroke's end the latest answer is shown, whatever it is. Sure digits
and numbers are shown live. (Chosen over a pause timer: it needs no timer, never shows a
held answer late, and is what a person expects, the answer settling when the pen lifts.)

Corrections are part of the answer, where the eye already is: under it, a line "Wrong?
Type the right digit" with a row of buttons 0-9 (the digit keys do the same), so a user
finds out that correcting is possible and that it keeps the drawing as a sample. Once the
window has kept a correction, ``show_correction`` puts what the user said in the answer's
place ("You said: 1") with an Undo link; ``clear_correction`` brings the network's answer
back. The panel only shows and asks: ``correctionRequested`` and ``undoRequested`` go to the
window, which writes and removes samples (``window/corrections.py``).

Colours come from the palette (light and dark themes); the 28x28 view is MNIST's own look,
white ink on black, as the network sees it. ``show_prediction`` / ``set_model_input`` are
the older single-digit entry points, kept for callers not yet on ``show_decision``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from drawdigit.formatting import percent
from drawdigit.gui.images import gray_to_qimage

if TYPE_CHECKING:
    import numpy as np

    from drawdigit.decide import Decision
    from drawdigit.inference import Prediction


class ModelInputView(QWidget):
    """The 28x28 inputs magnified with nearest-neighbour sampling and a faint pixel grid,
    side by side (one per digit of a number), each as large as the width allows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: list[QImage] = []
        self.setMinimumSize(112, 112)
        self.setMaximumHeight(28 * 12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("What the model sees")

    def sizeHint(self) -> QSize:
        return QSize(224, 224)

    def set_image(self, image: QImage | None) -> None:
        self.set_images([] if image is None else [image])

    def set_images(self, images: list[QImage]) -> None:
        self._images = list(images)
        self.update()

    def image(self) -> QImage | None:
        return self._images[0] if self._images else None

    def images(self) -> list[QImage]:
        return list(self._images)

    def _squares(self) -> list[QRect]:
        """Whole-pixel squares: a fractional left edge or side (an odd width centred, a
        side not a multiple of 28) made the fill and the image round one way and the 1 px
        frame the other, leaving a dark column outside the frame's right edge."""
        count = max(1, len(self._images))
        gap = 6 if count > 1 else 0
        side = min((self.width() - gap * (count - 1)) // count, self.height())
        side -= side % 28 if side >= 56 else 0  # whole pixels per input pixel: crisp edges
        total = side * count + gap * (count - 1)
        left = (self.width() - total) // 2
        return [QRect(left + k * (side + gap), 0, side, side) for k in range(count)]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        images: list[QImage | None] = list(self._images) or [None]
        for square, image in zip(self._squares(), images, strict=True):
            painter.fillRect(square, QColor(0, 0, 0))
            if image is not None:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
                painter.drawImage(square, image)
            cell = square.width() / 28.0
            if cell >= 5:
                painter.setPen(QPen(QColor(255, 255, 255, 22), 1))
                top, bottom = square.top(), square.bottom()  # QRect: the last pixel inside
                left, right = square.left(), square.right()
                for i in range(1, 28):
                    x = left + round(i * cell)
                    y = top + round(i * cell)
                    painter.drawLine(x, top, x, bottom)
                    painter.drawLine(left, y, right, y)
            painter.setPen(QPen(self.palette().mid().color(), 1))
            # An aliased 1 px outline of a QRect covers width() + 1 columns: one less fits.
            painter.drawRect(square.adjusted(0, 0, -1, -1))
        painter.end()


# The label of the last bar: the share of "not a digit" in the answer's distribution (the
# last of its 11 values, ``decide.NOT_A_DIGIT``; not imported from there: it loads numpy,
# which the window must not wait for).
NOT_A_DIGIT_LABEL = "not a digit"


class ProbabilityBars(QWidget):
    """One horizontal bar per outcome of ``Decision.distribution``, with its probability in
    percent: the digits 0 to 9 and, after a small gap, "not a digit". The eleven add up to
    100%, so the bar of the answer is the percentage said above it, and a drawing that is
    probably no digit shows it as one long bar instead of a digit at 100%."""

    ROWS = 11  # 0-9, then "not a digit"
    GAP_ROWS = 0.4  # the space between the digits and "not a digit", in rows

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probabilities: list[float] | None = None
        self._top: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Probabilities")

    def _rows_high(self) -> float:
        return self.ROWS + self.GAP_ROWS

    def sizeHint(self) -> QSize:
        return QSize(240, round(self._rows_high() * (self.fontMetrics().height() + 6)))

    def minimumSizeHint(self) -> QSize:
        return QSize(160, round(self._rows_high() * (self.fontMetrics().height() + 1)))

    def set_probabilities(self, probabilities: list[float] | None, top: int | None) -> None:
        """``probabilities``: the 11 values of a distribution (0-9, then not a digit), or
        None for no bars; ``top``: the index drawn bold and full colour (the answer)."""
        if probabilities is not None and len(probabilities) != self.ROWS:
            raise ValueError(f"expected {self.ROWS} probabilities, got {len(probabilities)}")
        self._probabilities = probabilities
        self._top = top
        if probabilities is None:
            self.setToolTip("")
        else:
            self.setToolTip(
                "\n".join(f"{self.label(k)}: {percent(p)}" for k, p in enumerate(probabilities))
            )
        self.update()

    def probabilities(self) -> list[float] | None:
        return self._probabilities

    def shown_percent(self, index: int) -> str | None:
        """The percentage written beside bar ``index`` (None with no bars)."""
        if self._probabilities is None:
            return None
        return percent(self._probabilities[index], 0)

    @staticmethod
    def label(index: int) -> str:
        return NOT_A_DIGIT_LABEL if index == ProbabilityBars.ROWS - 1 else str(index)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        metrics = self.fontMetrics()
        row = self.height() / self._rows_high()
        bold = QFont(self.font())
        bold.setBold(True)  # the answer's label is bold: the widest it can be
        label_w = max(QFontMetrics(bold).horizontalAdvance(self.label(k)) for k in range(self.ROWS))
        label_w += 8
        value_w = metrics.horizontalAdvance("100%") + 8
        bar_left = label_w
        bar_w = max(10.0, self.width() - label_w - value_w)
        bar_h = max(4.0, min(row * 0.62, metrics.height() * 0.9))
        track = palette.color(QPalette.ColorRole.Midlight)
        if track == palette.color(QPalette.ColorRole.Window):
            track = palette.color(QPalette.ColorRole.Mid)
        active = self.isEnabled() and self._probabilities is not None
        for index in range(self.ROWS):
            top = (index + (self.GAP_ROWS if index == self.ROWS - 1 else 0.0)) * row
            text_rect = QRectF(0, top, label_w - 6, row)
            is_top = active and index == self._top
            font = QFont(self.font())
            font.setBold(is_top)
            painter.setFont(font)
            role = QPalette.ColorRole.WindowText if active else QPalette.ColorRole.PlaceholderText
            painter.setPen(palette.color(role))
            painter.drawText(
                text_rect,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                self.label(index),
            )
            bar = QRectF(bar_left, top + (row - bar_h) / 2, bar_w, bar_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(bar, bar_h / 2, bar_h / 2)
            if active:
                assert self._probabilities is not None
                p = float(self._probabilities[index])
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
                    percent(p, 0),
                )
        painter.end()


# Answers that are held back while a stroke is being drawn (see the module docstring).
HELD_WHILE_DRAWING = ("unsure", "not-a-digit")

CORRECT_HINT = "Wrong? Type the right digit, or click it:"
CORRECT_NUMBER_HINT = "Wrong? Type its digits, or click them:"


class CorrectionRow(QWidget):
    """The hint and the ten digit buttons that say "the right answer is d".

    The buttons never take the keyboard focus: the digit keys keep working on the window.
    """

    digitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.hint = QLabel(CORRECT_HINT)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)  # the Undo link of a correction
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self._number = False
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(2)
        self.buttons: list[QToolButton] = []
        for digit in range(10):
            button = QToolButton()
            button.setText(str(digit))
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(18)
            button.setToolTip(f"It is a {digit}: keep this drawing as a {digit} in My Samples")
            button.setAccessibleName(f"Correct to {digit}")
            button.clicked.connect(lambda _=False, d=digit: self.digitClicked.emit(d))
            grid.addWidget(button, 0, digit)
            self.buttons.append(button)
        layout.addWidget(self.hint)
        layout.addLayout(grid)

    def set_number(self, number: bool) -> None:
        """A number is corrected digit by digit: the hint says so."""
        self._number = number
        self.show_hint()

    def show_hint(self) -> None:
        """The hint for the answer shown (after a correction's note)."""
        self.hint.setText(CORRECT_NUMBER_HINT if self._number else CORRECT_HINT)
        self.hint.setToolTip("Keeps this drawing, with the right digit, in My Samples")

    def show_note(self, note: str) -> None:
        """A correction was kept: ``note`` and an Undo link in the hint's place."""
        self.hint.setText(f'{note} · <a href="undo">Undo</a>')
        self.hint.setToolTip("Remove this correction from My Samples (Ctrl+Z)")


class PredictionPanel(QWidget):
    """The digit, a sentence about it, the correction row, the bars, and the 28x28 view, top
    to bottom."""

    correctionRequested = Signal(int)  # a digit button: "the right answer is this digit"
    undoRequested = Signal()  # the Undo link of a correction shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)

        self.digit_label = QLabel()
        self.digit_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digit_label.setAccessibleName("Predicted digit")
        self._compact: bool | None = None

        self.headline_label = QLabel()
        self.headline_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline_label.setWordWrap(True)
        headline_font = QFont(self.font())
        headline_font.setPointSizeF(headline_font.pointSizeF() * 1.25)
        self.headline_label.setFont(headline_font)
        self.headline_label.setAccessibleName("Prediction")

        self.correction_row = CorrectionRow()
        self.correction_row.digitClicked.connect(self.correctionRequested)
        self.correction_row.hint.linkActivated.connect(lambda _link: self.undoRequested.emit())
        # Its place is kept while it is hidden: the bars do not jump when an answer comes.
        policy = self.correction_row.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.correction_row.setSizePolicy(policy)

        self.bars = ProbabilityBars()
        self.input_title = QLabel("What the model sees (28 × 28)")
        self.input_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input_title.setWordWrap(True)  # narrow windows: wrap rather than clip
        self.input_view = ModelInputView()

        layout.addWidget(self.digit_label)
        layout.addWidget(self.headline_label)
        layout.addWidget(self.correction_row)
        layout.addSpacing(6)
        layout.addWidget(self.bars)
        layout.addSpacing(10)
        layout.addWidget(self.input_title)
        layout.addWidget(self.input_view, 1)
        layout.addStretch(0)
        self.setMinimumWidth(230)
        self._set_compact(False)
        self._stroke_active = False
        self._held: Decision | None = None
        self._answer: Decision | None = None  # the network's answer shown (or under a correction)
        self._said = ""  # what the user said, while a correction is shown
        self.show_empty()

    def sizeHint(self) -> QSize:
        return QSize(280, 560)

    # ------------------------------------------------------------------ states

    def show_empty(self) -> None:
        """Empty canvas: a hint, nothing that looks like an answer."""
        self._held = None
        self._answer = None
        self._end_correction()
        self.correction_row.hide()
        self._set_digit("", muted=True)
        self._say("Draw a digit")
        self.bars.set_probabilities(None, None)
        self.input_view.set_image(None)
        self._set_input_title(1)

    def show_waiting(self, message: str) -> None:
        """Ink but no answer yet (model loading, or no model)."""
        self._held = None
        self._answer = None
        self._end_correction()
        self.correction_row.hide()
        self._set_digit("…", muted=True)
        self._say(message)
        self.bars.set_probabilities(None, None)

    def show_prediction(self, prediction: Prediction) -> None:
        """The older single-digit answer (no "number" or "not a digit"): its probabilities
        as the distribution, with nothing for "not a digit"."""
        self._end_correction()
        self.correction_row.set_number(False)
        self.correction_row.show()
        distribution = [float(p) for p in prediction.probabilities] + [0.0]
        self._show_single("unsure" if prediction.unsure else "digit", distribution)

    def set_model_input(self, image28: np.ndarray | None) -> None:
        self.input_view.set_image(None if image28 is None else gray_to_qimage(image28))
        self._set_input_title(1)

    # ------------------------------------------------------------------ decisions

    def show_decision(self, decision: Decision) -> None:
        """THE entry point: show any answer of ``decide`` (see the module docstring).

        While a stroke is active an unsure or not-a-digit answer is held back until
        ``set_stroke_active(False)``; what the network sees is always updated.
        """
        images = decision.images
        self.input_view.set_images([gray_to_qimage(im) for im in images])
        self._set_input_title(len(images))
        if self._stroke_active and decision.kind in HELD_WHILE_DRAWING:
            self._held = decision
            return
        self._held = None
        if self._said:  # what the user said stays until the drawing changes or is undone
            self._answer = decision
            return
        self._show_answer(decision)

    def set_stroke_active(self, active: bool) -> None:
        """Pen down (True) / pen up (False): an answer held back while drawing shows at pen up."""
        self._stroke_active = active
        if not active and self._held is not None:
            held, self._held = self._held, None
            self._show_answer(held)

    def is_holding(self) -> bool:
        """True while an answer is held back until the stroke ends."""
        return self._held is not None

    def headline(self) -> str:
        """The sentence under the big glyph, as shown."""
        return self.headline_label.text()

    # ------------------------------------------------------------------ corrections

    def show_correction(self, said: str, note: str) -> None:
        """The user's answer in place of the network's: the big glyph shows ``said``, the
        headline "You said: …", and ``note`` (e.g. "Saved to My Samples") with an Undo link."""
        self._said = said
        self._set_digit(said, muted=False)
        self._say(f"You said: {said}")
        self.correction_row.show_note(note)
        self.correction_row.show()

    def show_typing(self, typed: str, count: int) -> None:
        """Some digits of a number typed: they show, muted, and the headline says what is
        still expected. ``typed`` empty: the typing was given up; what was shown returns."""
        if not typed:
            if self._said:
                self._set_digit(self._said, muted=False)
                self._say(f"You said: {self._said}")
            elif self._answer is not None:
                self._show_answer(self._answer)
            return
        left = count - len(typed)
        more = "one more digit" if left == 1 else f"{left} more digits"
        self._set_digit(f"{typed}…", muted=True)
        self._say(f"You said: {typed}… type {more}")

    def clear_correction(self) -> None:
        """Back to the network's answer (the correction was undone)."""
        if not self._said:
            return
        self._end_correction()
        if self._answer is not None:
            self._show_answer(self._answer)

    def correction(self) -> str:
        """What the user said, while a correction is shown ("" otherwise)."""
        return self._said

    def _end_correction(self) -> None:
        self._said = ""
        self.correction_row.show_hint()

    def _show_answer(self, decision: Decision) -> None:
        kind = decision.kind
        distribution = decision.distribution
        if kind == "empty" or distribution is None:
            self.show_empty()
            return
        self._answer = decision
        self._end_correction()
        self.correction_row.set_number(kind == "number")
        self.correction_row.show()
        if kind == "number":
            self._set_digit(decision.number or "", muted=False)
            each = " · ".join(f"{p.digit}: {percent(p.sureness, 0)}" for p in decision.parts)
            self._say(f"A number: {each}")
            self.bars.set_probabilities(None, None)  # the bars are for one digit
            return
        self._show_single(kind, [float(p) for p in distribution])

    def _show_single(self, kind: str, distribution: list[float]) -> None:
        """A digit, "not sure" or "not a digit" for ink read as one digit: the words and
        the bars from the one ``distribution`` (11 values, the last "not a digit"), so
        every percentage said is the height of a bar."""
        from drawdigit.decide import NOT_A_DIGIT, likeliest, outcome_name

        digit = max(range(NOT_A_DIGIT), key=lambda d: distribution[d])
        if kind == "digit":
            self._set_digit(str(digit), muted=False)
            self._say(f"{percent(distribution[digit], 0)} sure")
            self.bars.set_probabilities(distribution, digit)
        elif kind == "unsure":  # the likely digit stays in sight, with a question mark
            (first, p_first), (second, p_second) = likeliest(distribution, 2)
            # the likeliest of the eleven, as the words below say it: "×?" when that is
            # "not a digit" (a letter the head doubts), else the digit
            self._set_digit("×?" if first == NOT_A_DIGIT else f"{digit}?", muted=True)
            # Their percentages are the bars right below (and the tooltip): in the words
            # too, the line wrapped and squeezed the bars at the window's smallest size.
            self._say(
                f"Probably {outcome_name(first)} — or {outcome_name(second)}",
                f"{outcome_name(first)}: {percent(p_first, 0)}, "
                f"{outcome_name(second)}: {percent(p_second, 0)}",
            )
            self.bars.set_probabilities(distribution, digit)
        else:  # not-a-digit
            self._set_digit("×", muted=True)
            self._say(f"Not a digit — {percent(distribution[NOT_A_DIGIT], 0)} sure")
            self.bars.set_probabilities(distribution, NOT_A_DIGIT)

    def _set_input_title(self, count: int) -> None:
        if count > 1:
            self.input_title.setText(f"What the model sees ({count} digits)")
        else:
            self.input_title.setText("What the model sees (28 × 28)")

    def _say(self, text: str, tip: str = "") -> None:
        """The headline and its tooltip (``tip``: the details the words leave to the bars)."""
        self.headline_label.setText(text)
        self.headline_label.setToolTip(tip)

    def shown_digit(self) -> str:
        """The big glyph as shown: a digit, the likely digit and "?" ("7?") when unsure, "×"
        for not a digit, a number, or "" / "…" with no answer."""
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

    # ------------------------------------------------------------------ size

    # Below this height the big glyph, the bars and the 28x28 view are smaller and the rows
    # closer: at the window's minimum size (640x500) the full-size ones left the bars too
    # little room to read.
    COMPACT_HEIGHT = 520

    def _set_compact(self, compact: bool) -> None:
        if compact == self._compact:
            return
        self._compact = compact
        font = QFont(self.font())
        base = font.pointSizeF()
        font.setPointSizeF(max(28.0, base * 3.5) if compact else max(48.0, base * 6.5))
        font.setBold(True)
        self.digit_label.setFont(font)
        self.digit_label.setMinimumHeight(self.digit_label.fontMetrics().height())
        # Eleven bars and the 28x28 view share what is left: smaller rows and a 3x (not 4x)
        # view at the smallest size, so neither is cut.
        bars_font = QFont(self.font())
        if compact:
            bars_font.setPointSizeF(base * 0.85)
        self.bars.setFont(bars_font)
        side = 28 * (3 if compact else 4)
        self.input_view.setMinimumSize(side, side)
        layout = self.layout()
        if layout is not None:
            layout.setSpacing(2 if compact else 6)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._set_compact(self.height() < self.COMPACT_HEIGHT)
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_digit_colour()  # the theme changed: follow it
        super().changeEvent(event)
