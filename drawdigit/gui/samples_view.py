"""The personal samples dialog.

The dialog shows every sample as a thumbnail of the 28x28 input the network learns from, in
a section per digit under a header ("7 — 12 samples"), oldest first, each with its date in
the tooltip ("27 Nov 2026, 14:05"); a sentence above says how many there are and which
digits have none yet. Samples can be deleted, relabelled, exported to a zip and imported
from one (``drawdigit.samples`` does the file work). A damaged sample file is skipped and
named in the dialog, never an exception.

Delete acts at once (no "are you sure?": the answer is always yes until it is not) and can
be undone: Undo or Ctrl+Z puts the files back, each deletion in turn, for as long as the
window is open (the deleted files' bytes are kept in memory: ``samples.remove_samples``).

The sections are one list, not ten: selection, the keyboard and the context menu work
across digits as in any list. A header is a full-width item that cannot be selected, so
the wrapping layout starts each digit on a new row.
Fine-tuning on the samples is run from the main window (``gui/window/finetune.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QAction, QFont, QIcon, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from drawdigit.formatting import human_date
from drawdigit.gui.images import gray_icon
from drawdigit.samples import (
    ImportResult,
    Removed,
    Sample,
    SampleError,
    export_zip,
    import_zip,
    list_samples,
    relabel_sample,
    remove_samples,
    restore_samples,
)

THUMB = 56
ZIP_FILTER = "Sample archives (*.zip);;All files (*)"
SAMPLE_ROLE = Qt.ItemDataRole.UserRole  # a thumbnail's index in ``SamplesDialog.samples()``


def _thumbnail(sample: Sample) -> QIcon:
    image = sample.input28()
    return QIcon() if image is None else gray_icon(image, THUMB)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def count_sentence(counts: dict[int, int]) -> str:
    """The count line: "12 samples of 3 digits; none yet for 0, 2, 5, 6, 8, 9." """
    total = sum(counts.values())
    if total == 0:
        return (
            "No samples yet. Draw a digit in the main window and type the right digit "
            "(0–9) to keep it here."
        )
    have = [d for d in range(10) if counts.get(d)]
    missing = [str(d) for d in range(10) if not counts.get(d)]
    text = f"{_plural(total, 'sample')} of {_plural(len(have), 'digit')}"
    if not missing:
        return f"{text}: every digit has some."
    return f"{text}; none yet for {', '.join(missing)}."


class SampleGrid(QListWidget):
    """Thumbnails that wrap, with full-width header rows (``add_header``) kept as wide as
    the view, so that each header starts a new row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.ListMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(3)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(False)
        self._headers: list[QListWidgetItem] = []

    def clear(self) -> None:
        self._headers = []
        super().clear()

    def add_header(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        font = QFont(self.font())
        font.setBold(True)
        item.setFont(font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # not selectable: a heading, not a sample
        item.setSizeHint(self._header_size())
        self.addItem(item)
        self._headers.append(item)
        return item

    def add_thumbnail(self, icon: QIcon, index: int, tooltip: str) -> QListWidgetItem:
        item = QListWidgetItem(icon, "")
        item.setData(SAMPLE_ROLE, index)
        item.setToolTip(tooltip)
        item.setSizeHint(QSize(THUMB + 6, THUMB + 6))
        self.addItem(item)
        return item

    def headers(self) -> list[str]:
        return [item.text() for item in self._headers]

    def _header_size(self) -> QSize:
        width = self.viewport().width() - 2 * self.spacing() - 1
        return QSize(max(THUMB, width), self.fontMetrics().height() + 10)

    def resizeEvent(self, event: QResizeEvent) -> None:
        size = self._header_size()
        for item in self._headers:
            item.setSizeHint(size)
        super().resizeEvent(event)


class SamplesDialog(QDialog):
    """A grid of the personal samples by label: delete, relabel, export and import."""

    samplesChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("My Samples — drawdigit")
        self.resize(640, 480)
        self._samples: list[Sample] = []
        self._items: list[QListWidgetItem] = []  # the thumbnails, in the order of _samples
        self._deleted: list[Removed] = []  # what Undo puts back, the last deletion last
        # Thumbnails by content hash: rendering is most of a refresh (200 samples: about 0.7
        # of 1 s), and a delete, an undo or a relabel changes few samples.
        self._icons: dict[str, QIcon] = {}
        self.warnings: list[str] = []

        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #a33;")
        self.note_label = QLabel()  # what the last deletion did, and how to undo it
        self.note_label.setWordWrap(True)
        self.list = SampleGrid()
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemSelectionChanged.connect(self._update_buttons)

        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected samples (Del); Undo puts them back")
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button = QPushButton("Undo Delete")
        self.undo_button.setToolTip("Put back the samples deleted last (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo_delete)
        self.addAction(self._shortcut(QKeySequence.StandardKey.Delete, self.delete_selected))
        self.addAction(self._shortcut(QKeySequence.StandardKey.Undo, self.undo_delete))
        self.relabel_button = QPushButton("Relabel…")
        self.relabel_button.clicked.connect(self._ask_relabel)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._ask_export)
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self._ask_import)
        buttons = QHBoxLayout()
        for button in (self.delete_button, self.undo_button, self.relabel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.import_button, self.export_button):
            buttons.addWidget(button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.note_label)
        layout.addLayout(buttons)
        layout.addWidget(close)
        self.refresh()

    # ------------------------------------------------------------------ contents

    def refresh(self) -> None:
        """Read the sample set again (damaged files are listed as warnings)."""
        found = list_samples()
        self._samples = sorted(found.samples, key=lambda s: (s.label, s.created, s.id))
        self.warnings = found.warnings
        self.list.clear()
        self._items = []
        counts = found.counts()
        icons: dict[str, QIcon] = {}
        for index, sample in enumerate(self._samples):
            if index == 0 or self._samples[index - 1].label != sample.label:
                count = counts[sample.label]
                self.list.add_header(f"{sample.label} — {_plural(count, 'sample')}")
            tip = f"A {sample.label}, saved {human_date(sample.created)}"
            icon = self._icons.get(sample.sha256) or _thumbnail(sample)
            icons[sample.sha256] = icon
            self._items.append(self.list.add_thumbnail(icon, index, tip))
        self._icons = icons
        if self._items:  # the keyboard starts on a sample, never on a header
            first = self.list.row(self._items[0])
            self.list.setCurrentRow(first, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.counts_label.setText(count_sentence(counts))
        self.warning_label.setText("\n".join(self.warnings))
        self.warning_label.setVisible(bool(self.warnings))
        self._update_buttons()

    def samples(self) -> list[Sample]:
        """The samples shown, in display order (by label)."""
        return list(self._samples)

    def thumbnails(self) -> list[QListWidgetItem]:
        """The thumbnails' items, in the order of ``samples()`` (the headers left out)."""
        return list(self._items)

    def headers(self) -> list[str]:
        """The section headers shown, e.g. ["1 — 2 samples", "4 — 1 sample"]."""
        return self.list.headers()

    def selected_samples(self) -> list[Sample]:
        rows = sorted(item.data(SAMPLE_ROLE) for item in self.list.selectedItems())
        return [self._samples[row] for row in rows]

    def select_rows(self, rows: list[int]) -> None:
        """Select samples by their index in ``samples()``."""
        self.list.clearSelection()
        for row in rows:
            self._items[row].setSelected(True)

    def _update_buttons(self) -> None:
        has = bool(self.list.selectedItems())
        self.delete_button.setEnabled(has)
        self.relabel_button.setEnabled(has)
        self.undo_button.setEnabled(bool(self._deleted))
        self.export_button.setEnabled(bool(self._samples))

    def _shortcut(self, key: QKeySequence.StandardKey, slot: Any) -> QAction:
        action = QAction(self)
        action.setShortcuts(QKeySequence.keyBindings(key))
        action.triggered.connect(slot)
        return action

    # ------------------------------------------------------------------ actions

    def delete_selected(self) -> int:
        """Delete the selected samples at once; ``undo_delete`` puts them back."""
        chosen = self.selected_samples()
        if not chosen:
            return 0
        removed = remove_samples(chosen)
        count = len(removed.files)
        if count:
            self._deleted.append(removed)
            self.note_label.setText(f"Deleted {_plural(count, 'sample')}. Undo puts them back.")
        if removed.failed:
            QMessageBox.warning(
                self, "Delete", "Could not delete:\n" + "\n".join(removed.failed[:10])
            )
        self.refresh()
        self.samplesChanged.emit()
        return count

    def can_undo(self) -> bool:
        return bool(self._deleted)

    def undo_delete(self) -> int:
        """Put back the samples of the last deletion (each file written atomically)."""
        if not self._deleted:
            return 0
        removed = self._deleted[-1]
        try:
            count = restore_samples(removed)
        except OSError as exc:
            QMessageBox.warning(
                self, "Undo Delete", f"Could not put the samples back: {exc.strerror or exc}"
            )
            count = 0
        else:
            self._deleted.pop()
            self.note_label.setText(f"Put back {_plural(count, 'sample')}.")
        self.refresh()
        self.samplesChanged.emit()
        return count

    def relabel_selected(self, label: int) -> int:
        chosen = self.selected_samples()
        try:
            for sample in chosen:
                relabel_sample(sample, label)
        except (SampleError, OSError) as exc:
            QMessageBox.warning(self, "Relabel", str(exc))
        self.refresh()
        self.samplesChanged.emit()
        return len(chosen)

    def _ask_relabel(self) -> None:
        chosen = self.selected_samples()
        if not chosen:
            return
        label, ok = QInputDialog.getInt(
            self, "Relabel", "This drawing is the digit:", chosen[0].label, 0, 9
        )
        if ok:
            self.relabel_selected(label)

    def _context_menu(self, pos: Any) -> None:
        if not self.list.selectedItems():
            return
        menu = QMenu(self)
        relabel = menu.addMenu("Relabel as")
        for digit in range(10):
            relabel.addAction(str(digit), lambda _=False, d=digit: self.relabel_selected(d))
        menu.addAction("Delete", self.delete_selected)
        if self._deleted:
            menu.addAction("Undo Delete", self.undo_delete)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def export_to(self, path: Path) -> int:
        return export_zip(Path(path), self._samples)

    def import_from(self, path: Path) -> ImportResult:
        """Import a zip; raises ``SampleError`` for a file that is not a samples export."""
        result = import_zip(Path(path))
        self.refresh()
        self.samplesChanged.emit()
        return result

    def _ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export Samples", str(Path.home() / "drawdigit-samples.zip"), ZIP_FILTER
        )
        if not name:
            return
        try:
            count = self.export_to(Path(name))
        except OSError as exc:
            QMessageBox.warning(self, "Export Samples", f"Could not write {name}: {exc}")
            return
        QMessageBox.information(self, "Export Samples", f"Exported {count} samples to {name}.")

    def _ask_import(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import Samples", str(Path.home()), ZIP_FILTER)
        if not name:
            return
        try:
            result = self.import_from(Path(name))
        except SampleError as exc:
            QMessageBox.warning(self, "Import Samples", str(exc))
            return
        text = result.summary()  # says how many were duplicates, damaged or not written
        if result.warnings:
            text += "\n\n" + "\n".join(result.warnings[:10])
        QMessageBox.information(self, "Import Samples", text)
