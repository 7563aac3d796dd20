"""A finished run: its accuracy against the model in use, the confusion matrix, the most
confident mistakes, and *Use this model* / *Discard*.

Nothing a run produces touches the model in use until *Use this model*: then the copied
weights are saved atomically as the user's active model (``runs.activate_run``, as
``drawdigit train --activate`` does) and
``modelActivated`` tells the app to reload. *Discard* and a failed save leave the active
model file exactly as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from drawdigit.formatting import percent
from drawdigit.gui.images import gray_icon
from drawdigit.gui.training.data_view import button
from drawdigit.gui.training.settings_view import PRECISION_NAMES
from drawdigit.gui.training.state import RunState, fmt_time

if TYPE_CHECKING:
    from drawdigit.runs import MixedReport, RunReport

GALLERY_ICON = 56  # px: each 28x28 mistake at twice its size, whole pixels


class ResultView(QWidget):
    """The Result tab. Shows ``state.outcome``; ``modelActivated(Path)`` once it is saved."""

    modelActivated = Signal(object)

    def __init__(self, state: RunState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.confirm_box: QMessageBox | None = None  # "Use a less accurate model?"
        layout = QVBoxLayout(self)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.result_label)

        middle = QHBoxLayout()
        matrix_box = QVBoxLayout()
        title = QLabel("Confusion matrix (rows: true digit, columns: guess)")
        title.setWordWrap(True)
        matrix_box.addWidget(title)
        self.confusion_table = _confusion_table()
        matrix_box.addWidget(self.confusion_table)
        _fit_table(self.confusion_table)
        matrix_box.addStretch(1)
        middle.addLayout(matrix_box, 0)

        gallery_box = QVBoxLayout()
        self.gallery_title = QLabel("Misclassified test digits (most confident first)")
        self.gallery_title.setWordWrap(True)
        gallery_box.addWidget(self.gallery_title)
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(GALLERY_ICON, GALLERY_ICON))
        self.gallery.setGridSize(QSize(70, 88))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.gallery.setToolTip(
            "Test digits the new model got wrong: the image as the network sees it, its true "
            "label and the guess"
        )
        gallery_box.addWidget(self.gallery, 1)
        middle.addLayout(gallery_box, 1)
        layout.addLayout(middle, 1)

        buttons = QHBoxLayout()
        self.result_note = QLabel()
        self.result_note.setWordWrap(True)
        buttons.addWidget(self.result_note, 1)
        self.discard_button = button(
            "Discard", "Forget this model; the model in use stays", self.discard_result
        )
        self.use_button = button(
            "Use this model",
            "Save this model as your active model: the drawing window and the command line "
            "use it from now on (Restore bundled model in the main window undoes it)",
            self.use_result,
        )
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.use_button)
        layout.addLayout(buttons)
        state.runStarted.connect(self.clear)
        state.outcomeChanged.connect(self._on_outcome)
        state.phaseChanged.connect(self._update_buttons)
        self._update_buttons()

    @Slot(object)
    def _on_outcome(self, outcome: RunReport | None) -> None:
        """A new outcome is shown; once used (or discarded) it stays until the next run."""
        if outcome is not None:
            self._show(outcome)
        self._update_buttons()

    @Slot()
    def clear(self) -> None:
        self.result_label.clear()
        self.result_note.clear()
        self.gallery.clear()
        self.confusion_table.clearContents()

    def _show(self, outcome: RunReport) -> None:
        self.result_label.setText(_result_text(outcome, used=False))
        self._fill_confusion(outcome.confusion)
        self.gallery.clear()
        # The gallery (60 icons) in a turn of its own, to keep each stall short.
        QTimer.singleShot(0, self._fill_gallery_later)
        self.result_note.setText("")

    def _fill_confusion(self, confusion: Any) -> None:
        totals = confusion.sum(axis=1)
        off = confusion.copy()
        for d in range(10):
            off[d, d] = 0
        worst = max(1, int(off.max()))
        for row in range(10):
            for col in range(10):
                count = int(confusion[row, col])
                item = QTableWidgetItem(str(count) if count else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if row == col:
                    share = count / totals[row] if totals[row] else 0.0
                    item.setBackground(QColor(46, 160, 67, int(40 + 120 * share)))
                    item.setToolTip(f"{count} of {int(totals[row])} {row}s recognised")
                elif count:
                    item.setBackground(QColor(214, 39, 40, int(30 + 200 * count / worst)))
                    item.setToolTip(f"{count} {row}s read as {col}")
                self.confusion_table.setItem(row, col, item)
        _fit_table(self.confusion_table)

    @Slot()
    def _fill_gallery_later(self) -> None:
        outcome = self.state.outcome
        if outcome is not None and self.gallery.count() == 0:
            self._fill_gallery(outcome)

    def _fill_gallery(self, outcome: RunReport) -> None:
        self.gallery.clear()
        count = len(outcome.mistakes)
        wrong = int(outcome.confusion.sum() - outcome.confusion.trace())
        self.gallery_title.setText(
            f"Misclassified test digits: {wrong:,}"
            + (f" (the {count} most confident shown)" if wrong > count else "")
        )
        for image, true, guess, confidence in zip(
            outcome.mistakes,
            outcome.mistake_labels,
            outcome.mistake_guesses,
            outcome.mistake_confidences,
            strict=True,
        ):
            item = QListWidgetItem(gray_icon(image, GALLERY_ICON), f"{int(true)} → {int(guess)}")
            # An MNIST test image through the new network alone, before its head and
            # calibration exist: its raw softmax, not the "% sure" the window shows for
            # a drawing (which is digit-ness x calibrated probability).
            item.setToolTip(
                f"true digit {int(true)}, the network said {int(guess)} "
                f"({percent(float(confidence), 0)} of its raw output)"
            )
            item.setData(Qt.ItemDataRole.UserRole, (int(true), int(guess)))
            self.gallery.addItem(item)

    @Slot()
    def use_result(self) -> bool:
        """Save the new model as the active one (atomically) and tell the app; a model less
        accurate than the one in use is only saved once the user confirms (``confirm_box``).
        True once it is saved."""
        outcome = self.state.outcome
        if outcome is None or self.confirm_box is not None:
            return False
        worse = points_worse(outcome)
        if worse is None:
            return self._activate()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Use a less accurate model?",
            f"The new model is {worse:.2f} points less accurate than the model in use on "
            f"the same {outcome.test_count:,} MNIST test images "
            f"({percent(outcome.test_accuracy, 2)} against "
            f"{percent(outcome.current_accuracy, 2)}).",
            parent=self,
        )
        box.setInformativeText("Use it anyway? Restore Bundled Model undoes it later.")
        use = box.addButton("Use it anyway", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep the model in use", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        use.clicked.connect(self._activate)
        box.finished.connect(self._forget_confirm_box)
        self.confirm_box = box
        box.open()
        return False

    @Slot()
    def _forget_confirm_box(self) -> None:
        self.confirm_box = None

    @Slot()
    def _activate(self) -> bool:
        """Save the outcome as the active model. False on error (said in the note)."""
        outcome = self.state.outcome
        if outcome is None:
            return False
        from drawdigit.runs import activate_run
        from drawdigit.store import active_model_path

        path = active_model_path()
        try:
            path = activate_run(outcome, "drawdigit training dialog")
        except Exception as exc:  # noqa: BLE001 - disk full, read-only folder...: say so, keep it
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._note(
                f"Could not save the model to {path}: {reason}. The model in use is unchanged; "
                "you can try again.",
                "color: #c0392b; font-weight: bold;",
            )
            self.state.set_status(f"Could not save the model: {reason}", error=True)
            return False
        self._note(f"Saved as your active model ({path}).", "color: #2e7d32;")
        self.result_label.setText(_result_text(outcome, used=True))
        self.state.set_outcome(None)
        self.state.set_status("The new model is now in use.")
        self.modelActivated.emit(path)
        return True

    @Slot()
    def discard_result(self) -> None:
        self.clear()
        self.state.set_outcome(None)
        self.state.set_status("Discarded. The model in use is unchanged.")

    def _note(self, text: str, style: str) -> None:
        self.result_note.setText(text)
        self.result_note.setStyleSheet(style)

    @Slot()
    def _update_buttons(self) -> None:
        has_result = self.state.outcome is not None and not self.state.active
        self.use_button.setEnabled(has_result)
        self.discard_button.setEnabled(has_result)


def points_worse(outcome: RunReport) -> float | None:
    """How many percentage points the new model is below the model in use on the same
    test images (None: not worse, or not compared)."""
    old = outcome.current_accuracy
    if old is None:
        return None
    worse = round((old - outcome.test_accuracy) * 100, 2)
    return worse if worse > 0 else None


def _result_text(outcome: RunReport, used: bool) -> str:
    """The new model against the model in use; once ``used``, the new model is in use."""
    new = outcome.test_accuracy
    old = outcome.current_accuracy
    lines = [
        f"<b>New model: {percent(new, 2)}</b> on {outcome.test_count:,} MNIST test images "
        f"(trained in {fmt_time(outcome.done.seconds)}, "
        f"{PRECISION_NAMES.get(outcome.done.precision, outcome.done.precision)})."
    ]
    if used:
        lines.append("<b>Model in use: this new model</b> (saved as your active model).")
    elif old is not None:
        diff = (new - old) * 100
        colour = "#2e7d32" if diff >= 0 else "#c0392b"
        lines.append(
            f"Model in use: {percent(old, 2)} on the same images "
            f"<span style='color:{colour}'>({diff:+.2f} points)</span> "
            f"— {outcome.current_description}."
        )
    else:
        lines.append(f"Model in use: not compared ({outcome.current_description}).")
    return "<br>".join(lines + _personal_lines(outcome.personal))


def _confusion_table() -> QTableWidget:
    table = QTableWidget(10, 10)
    table.setToolTip(
        "How often each true digit (row) was read as each digit (column); the diagonal "
        "holds the correct answers"
    )
    labels = [str(d) for d in range(10)]
    table.setHorizontalHeaderLabels(labels)
    table.setVerticalHeaderLabels(labels)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    for header in (table.horizontalHeader(), table.verticalHeader()):
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setMinimumSectionSize(20)
    table.horizontalHeader().setDefaultSectionSize(38)
    table.verticalHeader().setDefaultSectionSize(24)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return table


def _fit_table(table: QTableWidget) -> None:
    """Exactly the size of its 10x10 cells and headers: no scroll bars, nothing cut."""
    vertical, horizontal = table.verticalHeader(), table.horizontalHeader()
    digit = table.fontMetrics().horizontalAdvance("0")
    vertical.setFixedWidth(digit + 16)
    horizontal.setFixedHeight(table.fontMetrics().height() + 8)
    frame = 2 * table.frameWidth()
    table.setFixedSize(
        vertical.width() + horizontal.length() + frame,
        horizontal.height() + vertical.length() + frame,
    )


def _personal_lines(personal: MixedReport | None) -> list[str]:
    """The result's lines about the personal samples (none for an MNIST-only run)."""
    if personal is None:
        return []
    lines = [
        f"Your samples: trained on {personal.trained} ({personal.copies} varied copies of each "
        f"per epoch), {personal.heldout} kept aside."
    ]
    if personal.heldout:
        lines.append(
            f"<b>Your kept-aside samples: {percent(personal.before, 2)} → "
            f"{percent(personal.after, 2)}</b> (model in use → new model)."
        )
    else:
        lines.append("Too few samples to keep any aside: draw a few more of each digit.")
    if personal.warnings:
        count = len(personal.warnings)
        lines.append(f"{count} damaged or empty sample file{'s' if count > 1 else ''} left out.")
    return lines
