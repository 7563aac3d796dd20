"""The training settings: a preset, or the options one by one, as a ``TrainConfig``.

The controls show the fields a person chooses (epochs, batch size, learning rate,
optimiser, schedule, augmentation, starting model, device, precision); every other field
comes from
the preset or config last shown (:meth:`SettingsView.config`). Editing a control names the
preset the controls now match, or Custom.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from drawdigit.training.config import PRESET_TIMES, data_summary
from drawdigit.training.precision import describe_auto_on_this_cpu

if TYPE_CHECKING:
    from drawdigit.training import TrainConfig

MINE = "mine"  # the preset for "MNIST + my samples"
CUSTOM = "custom"
# How each optimiser and schedule is named wherever the dialog shows one (never the
# config's lower-case key).
OPTIMIZERS = (("rmsprop", "RMSprop"), ("adam", "Adam"))
OPTIMIZER_NAMES = dict(OPTIMIZERS)
SCHEDULES = (("constant", "Constant"), ("onecycle", "One-cycle"))
PRESET_LABELS = {
    "seed": "Seed notebook",
    "fast": "Fast",
    "best": "Best for drawings",
    MINE: "My samples: 1 epoch from the model in use",
}
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
# What the controls show; two configs that agree on these are the same preset.
SHOWN = ("epochs", "batch_size", "lr", "optimizer", "schedule", "augment", "from_scratch")


def select_data(combo: QComboBox, value: Any, add: bool = False) -> None:
    """Select the item whose data is ``value`` (added first if ``add`` and it is missing)."""
    index = combo.findData(value)
    if index < 0 and add:
        combo.addItem(str(value), value)
        index = combo.count() - 1
    if index >= 0:
        combo.setCurrentIndex(index)


def same_settings(a: Any, b: Any) -> bool:
    """Whether two configs agree on everything the dialog shows."""
    return all(getattr(a, name) == getattr(b, name) for name in SHOWN)


CPU_ONLY = [("auto", "Automatic"), ("cpu", "CPU")]
PRECISIONS = (("auto", "Automatic"), ("fp32", "float32"), ("bf16", "bfloat16"))
PRECISION_NAMES = {"fp32": "float32", "bf16": "bfloat16"}


def preset_label(key: str, config: Any) -> str:
    """``"Fast (1 epoch, Adam, batch 64) · about ½ min on 2 cores"``: the preset's name,
    what it does and how long it takes."""
    if key == MINE:
        return PRESET_LABELS[MINE]
    name = PRESET_LABELS.get(key) or key.replace("_", " ").capitalize()
    optimizer = OPTIMIZER_NAMES.get(config.optimizer, config.optimizer)
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    time = PRESET_TIMES.get(key)
    on_two_cores = f" · {time} on 2 cores" if time else ""
    return f"{name} ({epochs}, {optimizer}, batch {config.batch_size}){on_two_cores}"


def precision_tooltip(auto: str) -> str:
    """The precision control's tooltip, ending with what Automatic picks here (``auto``)."""
    return (
        "The number format of the training steps. bfloat16 can be about twice as fast on "
        "processors with units for it (Intel AMX or AVX512-BF16, recent GPUs); elsewhere "
        "it is emulated and slower than float32. The weights stay float32 either way, and "
        f"the test accuracy is always measured in float32.\n\n{auto}."
    )


class SettingsView(QGroupBox):
    """The "Settings" box. ``presetChosen(key)`` when the user picks a preset."""

    presetChosen = Signal(str)

    def __init__(
        self,
        presets: dict[str, TrainConfig],
        devices: list[tuple[str, str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Settings", parent)
        self.presets = presets
        self._base: TrainConfig = next(iter(presets.values()))
        self._applying = False
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.preset_combo = QComboBox()
        for key, config in presets.items():
            self.preset_combo.addItem(preset_label(key, config), key)
        self.preset_combo.addItem("Custom", CUSTOM)
        self.preset_combo.setToolTip(
            "Ready-made settings. “Fast” reaches about 99% on MNIST's test digits in one "
            "epoch, well under a minute on two cores; the seed notebook's recipe reproduces "
            "the original Keras training; “Best for drawings” (the bundled model's recipe, "
            "several minutes) adds augmentation and more of the pen ink, so drawn digits are "
            "recognised better. "
            "Changing any setting below switches to Custom."
        )
        self.preset_combo.activated.connect(self._on_preset_chosen)
        form.addRow("Preset:", self.preset_combo)
        # What the chosen settings train on, and how long a preset takes.
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.data_label.setToolTip(
            "MNIST: 60,000 handwritten digits. The pen ink (shipped with the app): 6,209 "
            "digits and 22,765 letters and symbols drawn with a pen by 94 people (UNIPEN, "
            "CC BY 4.0); the letters teach the network what is not a digit. ×N: copies "
            "in each epoch. A preset that keeps a fifth of the writers out sets the new "
            "model's sure threshold on their ink."
        )
        form.addRow(self.data_label)

        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100)
        self.epochs_spin.setToolTip("Passes over the 60,000 training images")
        form.addRow("Epochs:", self.epochs_spin)

        self.batch_combo = QComboBox()
        for size in BATCH_SIZES:
            self.batch_combo.addItem(str(size), size)
        self.batch_combo.setToolTip(
            "Images per optimisation step. Smaller batches take more steps per epoch; larger "
            "ones run faster per image but may need a higher learning rate"
        )
        form.addRow("Batch size:", self.batch_combo)

        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.00001, 1.0)
        self.lr_spin.setSingleStep(0.0001)
        self.lr_spin.setToolTip(
            "Step size of the optimiser (the peak rate with the one-cycle schedule); "
            "0.001 is the usual value for RMSprop and Adam"
        )
        form.addRow("Learning rate:", self.lr_spin)

        self.optimizer_combo = QComboBox()
        for key, label in OPTIMIZERS:
            self.optimizer_combo.addItem(label, key)
        self.optimizer_combo.setToolTip(
            "RMSprop is what the seed notebook used; Adam often converges a little faster"
        )
        form.addRow("Optimiser:", self.optimizer_combo)

        self.schedule_combo = QComboBox()
        for key, label in SCHEDULES:
            self.schedule_combo.addItem(label, key)
        self.schedule_combo.setToolTip(
            "How the learning rate changes during the run: constant (as in the seed "
            "notebook), or one-cycle: a short warm-up to the rate above, then a slow "
            "decrease (anneal) to nearly zero"
        )
        form.addRow("Schedule:", self.schedule_combo)

        self.augment_check = QCheckBox("Augment the training images")
        self.augment_check.setToolTip(
            "Randomly shift, rotate, scale and thicken the training digits each batch, so "
            "the network copes with digits drawn with a mouse or a pen, not only scanned "
            "ones. Slower to reach a given MNIST accuracy."
        )
        # Precision shares the augmentation's row: the dialog stays within 640 pixels' height.
        self.precision_combo = QComboBox()
        for key, label in PRECISIONS:
            self.precision_combo.addItem(label, key)
        self.precision_combo.setToolTip(precision_tooltip(describe_auto_on_this_cpu()))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.augment_check)
        row.addStretch(1)
        row.addWidget(QLabel("Precision:"))
        row.addWidget(self.precision_combo)
        form.addRow("", row)

        self.start_combo = QComboBox()
        self.start_combo.addItem("The model in use", False)
        self.start_combo.addItem("Scratch (random weights)", True)
        self.start_combo.setToolTip(
            "Fine-tune the model that answers now, or train a new one from random weights"
        )
        form.addRow("Start from:", self.start_combo)

        self.device_combo = QComboBox()
        self.device_combo.setToolTip("Where to train: the CPU, or a graphics card")
        self.device_label = QLabel("Device:")
        form.addRow(self.device_label, self.device_combo)
        self.set_devices(devices if devices is not None else CPU_ONLY)

        for signal in (
            self.epochs_spin.valueChanged,
            self.batch_combo.currentIndexChanged,
            self.lr_spin.valueChanged,
            self.optimizer_combo.currentIndexChanged,
            self.schedule_combo.currentIndexChanged,
            self.augment_check.toggled,
            self.start_combo.currentIndexChanged,
        ):
            signal.connect(self._on_setting_edited)

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """The devices to offer (``training_worker.available_devices``, found once torch is
        loaded in the background: asking torch on the GUI thread would import it there).
        The box shows only when there is a GPU to choose; the choice made is kept."""
        chosen = self.device_combo.currentData() or self._base.device
        self.device_combo.clear()
        for key, label in devices:
            self.device_combo.addItem(label, key)
        select_data(self.device_combo, chosen)
        has_gpu = self.device_combo.count() > 2
        self.device_combo.setVisible(has_gpu)
        self.device_label.setVisible(has_gpu)

    def preset(self) -> str:
        """The preset the controls match, or ``"custom"``."""
        return self.preset_combo.currentData()

    def apply_preset(self, key: str) -> None:
        """Show the preset ``key`` in the controls."""
        select_data(self.preset_combo, key)
        self._show_config(self.presets[key])

    def config(self) -> TrainConfig:
        """The settings shown, as a ``TrainConfig`` (other fields from the preset or config
        they started from)."""
        return replace(
            self._base,
            epochs=self.epochs_spin.value(),
            batch_size=int(self.batch_combo.currentData()),
            lr=round(self.lr_spin.value(), 6),
            optimizer=self.optimizer_combo.currentData(),
            schedule=self.schedule_combo.currentData(),
            augment=self.augment_check.isChecked(),
            from_scratch=bool(self.start_combo.currentData()),
            device=self.device_combo.currentData(),
            precision=self.precision_combo.currentData(),
        )

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in the controls and train with it (tests, benchmarks)."""
        self._show_config(config)
        self._on_setting_edited()

    def _show_config(self, config: TrainConfig) -> None:
        """Put ``config`` in the controls; it is also the base for what they do not show."""
        self._applying = True
        try:
            self.epochs_spin.setValue(int(config.epochs))
            select_data(self.batch_combo, int(config.batch_size), add=True)
            self.lr_spin.setValue(float(config.lr))
            select_data(self.optimizer_combo, config.optimizer)
            select_data(self.schedule_combo, config.schedule)
            self.augment_check.setChecked(bool(config.augment))
            select_data(self.start_combo, bool(config.from_scratch))
            select_data(self.device_combo, config.device)
            select_data(self.precision_combo, config.precision)
        finally:
            self._applying = False
        self._base = config
        self._show_note()

    def _show_note(self) -> None:
        """What the shown settings train on (the preset's name says its time)."""
        key = self.preset_combo.currentData()
        config = self.config()
        if key == MINE:
            self.data_label.setText("Trains on MNIST + your samples, from the model in use")
        else:
            self.data_label.setText(f"Trains on {data_summary(config)}")

    @Slot(int)
    def _on_preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if key != CUSTOM:
            self.apply_preset(key)
        self.presetChosen.emit(key)

    @Slot()
    def _on_setting_edited(self) -> None:
        """Name the preset the controls now match, or say Custom."""
        if self._applying:
            return
        current = self.config()
        matching = [key for key, preset in self.presets.items() if same_settings(current, preset)]
        select_data(self.preset_combo, matching[0] if matching else CUSTOM)
        self._show_note()
