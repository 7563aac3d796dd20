"""The Models dialog: every model the user has had, with its figures, and a switch between them.

Restore Bundled Model sets the user's model aside; training and fine-tuning replace the model
in use. Nothing is deleted (``store.keep_active_model``, ``store.set_aside_active_model``),
so this dialog can offer them all again: the bundled model, then each file in the data
folder's ``models/`` (trained, fine-tuned, set aside, previous), each with its MNIST test
accuracy, when it was made and how (the recipe). "Use This Model" (or a double click)
copies the chosen file into place (``model_list.activate_model_file``: torch-free, nothing is
trained or imported here) and ``modelActivated`` asks the window to reload.

A file that cannot be used (damaged, foreign, a folder) is listed greyed out with the
reason, and cannot be chosen; reading the folder never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from drawdigit.formatting import human_date, percent
from drawdigit.inference import FINETUNE_SOURCE
from drawdigit.model_list import ModelEntry, activate_model_file, list_models
from drawdigit.store import ModelFileError

COLUMNS = ("Model", "MNIST test", "Made", "Recipe")


def _number(value: Any) -> float | None:
    """A metadata number, or None for anything else (bool, text, NaN: a file can say anything)."""
    if type(value) in (int, float) and value == value:
        return float(value)
    return None


def model_title(entry: ModelEntry) -> str:
    """What the model is, in two or three words: "Bundled model", "Fine-tuned", "Trained"."""
    if entry.kind == "bundled":
        return "Bundled model"
    if not entry.usable:
        return entry.path.name
    source = entry.metadata.get("source")
    if source == FINETUNE_SOURCE:
        return "Fine-tuned"
    if isinstance(source, str) and source.startswith("drawdigit"):
        return "Trained"
    return entry.path.stem


def recipe_text(metadata: Mapping[str, Any]) -> str:
    """How a model was made, short: "adam, lr 0.003, 15 epochs, batch 128" or "on 24 of your
    samples, 80 steps" (fine-tuned); "" when the metadata does not say (values of the wrong type are
    left out, never an error)."""
    if metadata.get("source") == FINETUNE_SOURCE:
        samples = _number(metadata.get("finetune_samples"))
        steps = _number(metadata.get("finetune_steps"))
        parts = ["on your samples" if samples is None else f"on {samples:.0f} of your samples"]
        if steps is not None:
            parts.append(f"{steps:.0f} steps")
        return ", ".join(parts)
    recipe = metadata.get("recipe")
    if isinstance(recipe, str):
        return recipe[:60]
    if not isinstance(recipe, Mapping):
        return ""
    parts = []
    optimizer = recipe.get("optimizer")
    if isinstance(optimizer, str):
        parts.append(optimizer[:20])
    lr = _number(recipe.get("lr"))
    if lr is not None:
        parts.append(f"lr {lr:g}")
    epochs = _number(metadata.get("epochs_completed"))
    if epochs is None:
        epochs = _number(recipe.get("epochs"))
    if epochs is not None:
        parts.append(f"{epochs:.0f} epoch{'' if epochs == 1 else 's'}")
    batch = _number(recipe.get("batch_size"))
    if batch is not None:
        parts.append(f"batch {batch:.0f}")
    return ", ".join(parts)


def accuracy_text(metadata: Mapping[str, Any]) -> str:
    accuracy = _number(metadata.get("test_accuracy"))
    return percent(accuracy, 2) if accuracy is not None and 0 <= accuracy <= 1 else "—"


def _display_order(entry: ModelEntry) -> tuple[int, str, str]:
    """The bundled model, then the user's oldest first, then the files that cannot be used."""
    created = entry.metadata.get("created")
    rank = 0 if entry.kind == "bundled" else 1 if entry.usable else 2
    return rank, created if isinstance(created, str) else "", entry.path.name


class ModelsDialog(QDialog):
    """The models the user has had, the one in use marked; switch with Use This Model."""

    modelActivated = Signal()  # another model is now in use: reload it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models — drawdigit")
        self.resize(720, 360)
        self._entries: list[ModelEntry] = []

        self.intro = QLabel(
            "Every model you have had: the one that came with drawdigit and each one you "
            "trained or fine-tuned. Choose one to use it again; nothing is deleted."
        )
        self.intro.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda _item, _col: self.use_selected())

        self.use_button = QPushButton("Use This Model")
        self.use_button.setToolTip("Answer with the chosen model from now on")
        self.use_button.clicked.connect(self.use_selected)
        self.use_button.setDefault(True)  # Enter uses the model chosen
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.refresh()

    # ------------------------------------------------------------------ contents

    def refresh(self) -> None:
        """Read the models folder again (a training run or a fine-tune may have added one)."""
        self._entries = sorted(list_models(), key=_display_order)
        self.tree.clear()
        muted = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for index, entry in enumerate(self._entries):
            title = model_title(entry) + (" (in use)" if entry.in_use else "")
            if entry.usable:
                made = human_date(entry.metadata.get("created"), "—")
                recipe = recipe_text(entry.metadata)
                if entry.lacks:  # an older file: it answers, but never "not a digit"
                    recipe = (
                        f"{recipe} · cannot say 'not a digit'"
                        if recipe
                        else ("cannot say 'not a digit'")
                    )
                row = [title, accuracy_text(entry.metadata), made, recipe]
            else:
                row = [title, "—", "—", f"Cannot be used: {entry.error}"]
            item = QTreeWidgetItem(row)
            item.setData(0, Qt.ItemDataRole.UserRole, index)
            tip = f"{entry.path}\n{row[3]}" if row[3] else str(entry.path)
            if entry.usable and entry.lacks:
                tip += f"\nIt cannot say 'not a digit': {entry.lacks}. Train or fine-tune it again."
            for column in range(len(COLUMNS)):
                item.setToolTip(column, tip)
                if not entry.usable:
                    item.setForeground(column, muted)
            if entry.in_use:
                font = QFont(self.tree.font())
                font.setBold(True)
                for column in range(len(COLUMNS)):
                    item.setFont(column, font)
            if not entry.usable:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # listed, not selectable
            self.tree.addTopLevelItem(item)
        self._update_buttons()

    def entries(self) -> list[ModelEntry]:
        """The models listed, in display order."""
        return list(self._entries)

    def select(self, index: int) -> None:
        self.tree.setCurrentItem(self.tree.topLevelItem(index))

    def selected(self) -> ModelEntry | None:
        items = self.tree.selectedItems()
        return self._entries[items[0].data(0, Qt.ItemDataRole.UserRole)] if items else None

    def _update_buttons(self) -> None:
        entry = self.selected()
        self.use_button.setEnabled(entry is not None and entry.usable and not entry.in_use)

    # ------------------------------------------------------------------ switching

    def use_selected(self) -> bool:
        """Make the chosen model the one in use; a file that turns out unusable is said so."""
        entry = self.selected()
        if entry is None or not entry.usable or entry.in_use:
            return False
        try:
            activate_model_file(entry.path)
        except (ModelFileError, OSError) as exc:
            text = getattr(exc, "strerror", None) or str(exc)
            QMessageBox.warning(self, "Use This Model", f"This model cannot be used: {text}")
            self.refresh()
            return False
        self.refresh()
        self.modelActivated.emit()
        return True
