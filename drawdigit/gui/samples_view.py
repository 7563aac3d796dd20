"""The personal samples dialog.

The dialog shows every sample as a thumbnail of the 28x28 input the network learns from,
sorted by label, with counts per digit; samples can be deleted, relabelled, exported to a
zip and imported from one (``drawdigit.samples`` does the file work). A damaged sample file
is skipped and named in the dialog, never an exception.
Fine-tuning on the samples is run from the main window (``gui/window/finetune.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
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

from drawdigit.gui.images import gray_icon
from drawdigit.samples import (
    Sample,
    SampleError,
    delete_sample,
    export_zip,
    import_zip,
    list_samples,
    relabel_sample,
)

THUMB = 56
ZIP_FILTER = "Sample archives (*.zip);;All files (*)"


def _thumbnail(sample: Sample) -> QIcon:
    image = sample.input28()
    return QIcon() if image is None else gray_icon(image, THUMB)


class SamplesDialog(QDialog):
    """A grid of the personal samples by label: delete, relabel, export and import."""

    samplesChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("My Samples — drawdigit")
        self.resize(640, 480)
        self._samples: list[Sample] = []
        self.warnings: list[str] = []

        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #a33;")
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 16, THUMB + 24))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemSelectionChanged.connect(self._update_buttons)

        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.relabel_button = QPushButton("Relabel…")
        self.relabel_button.clicked.connect(self._ask_relabel)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._ask_export)
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self._ask_import)
        buttons = QHBoxLayout()
        for button in (self.delete_button, self.relabel_button):
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
        for sample in self._samples:
            item = QListWidgetItem(_thumbnail(sample), str(sample.label))
            item.setData(Qt.ItemDataRole.UserRole, sample.id)
            item.setToolTip(f"{sample.label} — {sample.created or 'unknown date'}")
            self.list.addItem(item)
        counts = found.counts()
        total = sum(counts.values())
        per_digit = "   ".join(f"<b>{d}</b>: {counts[d]}" for d in range(10))
        self.counts_label.setText(f"{total} samples &nbsp;&nbsp; {per_digit}")
        self.warning_label.setText("\n".join(self.warnings))
        self.warning_label.setVisible(bool(self.warnings))
        self._update_buttons()

    def samples(self) -> list[Sample]:
        """The samples shown, in display order (by label)."""
        return list(self._samples)

    def selected_samples(self) -> list[Sample]:
        rows = sorted(self.list.row(item) for item in self.list.selectedItems())
        return [self._samples[row] for row in rows]

    def select_rows(self, rows: list[int]) -> None:
        self.list.clearSelection()
        for row in rows:
            self.list.item(row).setSelected(True)

    def _update_buttons(self) -> None:
        has = bool(self.list.selectedItems())
        self.delete_button.setEnabled(has)
        self.relabel_button.setEnabled(has)
        self.export_button.setEnabled(bool(self._samples))

    # ------------------------------------------------------------------ actions

    def delete_selected(self) -> int:
        chosen = self.selected_samples()
        for sample in chosen:
            delete_sample(sample)
        if chosen:
            self.refresh()
            self.samplesChanged.emit()
        return len(chosen)

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
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def export_to(self, path: Path) -> int:
        return export_zip(Path(path), self._samples)

    def import_from(self, path: Path) -> tuple[int, list[str]]:
        """Import a zip; raises ``SampleError`` for a file that is not a samples export."""
        result = import_zip(Path(path))
        self.refresh()
        self.samplesChanged.emit()
        return result.imported, result.warnings

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
            count, warnings = self.import_from(Path(name))
        except SampleError as exc:
            QMessageBox.warning(self, "Import Samples", str(exc))
            return
        text = f"Imported {count} samples."
        if warnings:
            text += "\n\n" + "\n".join(warnings[:10])
        QMessageBox.information(self, "Import Samples", text)
