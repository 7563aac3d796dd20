"""The training dialog: retrain the network on MNIST in the background, with live charts.

The dialog is non-modal: the user keeps drawing and the model in use keeps answering while
a run goes on in a worker thread (``training_worker``). The GUI thread only does small
things: events from the worker are appended to buffers as they come, and a 10 Hz timer
redraws the numbers and one of the two charts in turn, so no event-loop turn is long.
Everything slow happens ahead of Start, in the background (torch's lazy imports, reading
MNIST), and the result is shown in small steps.

Nothing a run produces touches the model in use until *Use this model*: then the copied
weights are saved atomically as the user's active model (``training.save_trained``) and
``modelActivated`` tells the main window to reload. Cancel, close, errors and *Discard*
leave the active model file exactly as it was.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QCloseEvent, QColor, QIcon, QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from drawdigit.gui.charts import TrainingCharts
from drawdigit.gui.training_worker import (
    DownloadStatus,
    DownloadWorker,
    TrainingJob,
    TrainingOutcome,
    TrainingWorker,
    WarmUpWorker,
    WorkerThread,
    drawing_threads,
    stop_all_workers,
    training_threads,
    with_threads,
)

if TYPE_CHECKING:
    from drawdigit.finetune import MixedReport
    from drawdigit.training import TrainConfig


SETTINGS_DATA_DIR = "training/mnist_dir"
SWITCH_INTERVAL = 0.001  # seconds; see _use_short_switch_interval
# The live test estimate (1,000 test images) as often as every second of training, where
# that is cheap; fit() spaces estimates further apart on slow machines (<= ~5 % of the time).
QUICK_EVAL_SECONDS = 1.0
REFRESH_HZ = 10  # timer ticks per second; the two charts take turns, 5 redraws/s each
DRAWING_PAUSE_MS = 1000  # no drawing for this long: training takes all its threads again
LAG_PROBE_MS = 20  # during a run, how often the event loop's lateness is measured
LAG_LIMIT = 0.025  # seconds late while the user draws: training gives a core back
# Compressed size of the four files, for "Download (about 11 MB)".
DOWNLOAD_MB = 11.4

MINE = "mine"  # the preset for "MNIST + my samples"
PRESET_LABELS = {
    "seed": "Seed notebook (5 epochs, RMSprop, batch 64)",
    "best": "Best for drawings",
    MINE: "My samples: 1 epoch from the model in use",
}
CUSTOM = "custom"
OPTIMIZERS = (("rmsprop", "RMSprop"), ("adam", "Adam"))
SCHEDULES = (("constant", "Constant"), ("onecycle", "One-cycle (warm up, then anneal)"))
BATCH_SIZES = (16, 32, 64, 128, 256, 512)


def _settings() -> QSettings:
    return QSettings("drawdigit", "drawdigit")


def _fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


class TrainingDialog(QDialog):
    """Settings, live progress and the result of one training run at a time.

    ``data_dir`` forces the MNIST folder (else: the remembered one, then the usual places);
    ``train_limit``/``test_limit`` train and test on the first N images only (tests and
    benchmarks); ``mirrors`` replaces the download mirrors (tests use a loopback server);
    ``settings`` replaces the app's QSettings.
    """

    modelActivated = Signal(object)  # Path of the new active model file
    runStarted = Signal()
    runEnded = Signal(str)  # "done", "cancelled" or "error"

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        data_dir: Path | str | None = None,
        train_limit: int | None = None,
        test_limit: int | None = None,
        mirrors: tuple[str, ...] | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train the Network")
        self.setModal(False)
        self.setSizeGripEnabled(True)
        self.setMinimumSize(940, 600)
        self.resize(1080, 720)
        self.train_limit = train_limit
        self.test_limit = test_limit
        self.mirrors = mirrors
        self.threads: int | None = training_threads()
        self.drawing_threads: int = drawing_threads()
        self._settings = settings if settings is not None else _settings()
        self._data_dir: Path | None = None
        self._data_problem = ""
        self._run: WorkerThread | None = None
        self._download: WorkerThread | None = None
        self._warm: WorkerThread | None = None
        self._warm_done = False
        self._cached_data: tuple[Path, Any] | None = None  # MNIST, loaded ahead of Start
        self._saved_switch_interval: float | None = None
        self._control: Any = None
        self._paused = False
        self._outcome: TrainingOutcome | None = None
        self._last_batch: Any = None
        self._last_epoch: Any = None
        self._last_estimate: float | None = None
        self._estimate_images = 0
        self._run_summary = ""
        self._stage = ""
        self._applying_preset = False
        # Counters, for tests and benchmarks.
        self.batch_events = 0
        self.epoch_events = 0

        from drawdigit.finetune import MIXED_RECIPE
        from drawdigit.training import PRESETS

        self._presets: dict[str, TrainConfig] = {**PRESETS, MINE: MIXED_RECIPE}
        self._base: TrainConfig = next(iter(self._presets.values()))
        self._build()
        self._choose_initial_data_dir(data_dir)
        self._apply_preset("seed" if "seed" in self._presets else next(iter(self._presets)))
        # While the user draws in the main window and the event loop lags, training gives a
        # core back to the app; it takes it again once they have stopped for a moment.
        self.lag_limit = LAG_LIMIT
        self._drawing_timer = QTimer(self)
        self._drawing_timer.setSingleShot(True)
        self._drawing_timer.setInterval(DRAWING_PAUSE_MS)
        self._drawing_timer.timeout.connect(self._drawing_stopped)
        self._lag_timer = QTimer(self)
        self._lag_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._lag_timer.setInterval(LAG_PROBE_MS)
        self._lag_timer.timeout.connect(self._probe_lag)
        self._last_probe = 0.0
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(1000 // REFRESH_HZ)
        self._refresh_timer.timeout.connect(self._refresh)
        self._watch_parent()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
            app.aboutToQuit.connect(stop_all_workers)
        self._update_controls()

    # ================================================================== construction

    def _build(self) -> None:
        root = QHBoxLayout(self)
        root.setContentsMargins(12, 12, 12, 12)
        root.setSpacing(14)

        left = QVBoxLayout()
        left.setSpacing(10)
        left.addWidget(self._build_data_box())
        left.addWidget(self._build_settings_box())
        left.addLayout(self._build_run_buttons())
        hint = QLabel(
            "You can keep drawing while training runs: the model in use keeps answering "
            "until you choose “Use this model”."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        left.addWidget(hint)
        left.addStretch(1)
        close = QPushButton("Close")
        close.setToolTip("Close this window (a run in progress is cancelled)")
        close.clicked.connect(self.close)
        close.setAutoDefault(False)
        self.close_button = close
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        left.addLayout(row)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setFixedWidth(360)
        root.addWidget(left_widget, 0)

        right = QVBoxLayout()
        right.setSpacing(8)
        right.addLayout(self._build_status_area())
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_live_tab(), "Progress")
        self.tabs.addTab(self._build_result_tab(), "Result")
        self.tabs.setTabEnabled(1, False)
        self.tabs.setTabToolTip(0, "Loss and accuracy as training goes")
        self.tabs.setTabToolTip(1, "The finished model: accuracy, confusions, mistakes")
        right.addWidget(self.tabs, 1)
        root.addLayout(right, 1)

    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox("Data")
        layout = QVBoxLayout(box)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.data_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.data_label)
        buttons = QHBoxLayout()
        self.download_button = QPushButton(f"Download ({DOWNLOAD_MB:.0f} MB)")
        self.download_button.setToolTip(
            "Download the four MNIST files into your data folder; each file's checksum is "
            "verified, and a broken transfer is resumed"
        )
        self.download_button.clicked.connect(self.start_download)
        self.download_button.setAutoDefault(False)
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setToolTip(
            "Use a folder that already holds the four MNIST files (.gz or unpacked)"
        )
        self.choose_button.clicked.connect(self.choose_folder)
        self.choose_button.setAutoDefault(False)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        progress_row = QHBoxLayout()
        self.download_progress = QProgressBar()
        self.download_progress.setToolTip("Download progress of the current file")
        self.download_progress.setTextVisible(True)
        self.download_cancel_button = QPushButton("Cancel")
        self.download_cancel_button.setToolTip("Stop the download (finished files are kept)")
        self.download_cancel_button.clicked.connect(self.cancel_download)
        self.download_cancel_button.setAutoDefault(False)
        progress_row.addWidget(self.download_progress, 1)
        progress_row.addWidget(self.download_cancel_button)
        self.download_row = QWidget()
        self.download_row.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.download_row.hide()
        layout.addWidget(self.download_row)
        self.download_label = QLabel()
        self.download_label.setWordWrap(True)
        self.download_label.hide()
        layout.addWidget(self.download_label)
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Train on:"))
        self.source_combo = QComboBox()
        self.source_combo.addItem("MNIST", False)
        self.source_combo.addItem("MNIST + my samples", True)
        self.source_combo.setToolTip(
            "“MNIST + my samples” mixes in the digits you corrected or confirmed in the main "
            "window (3% of every epoch, each copy varied by augmentation) and starts "
            "from the model in use; a quarter of your samples is kept aside to show how "
            "much the new model learnt your handwriting"
        )
        self.source_combo.activated.connect(self._on_source_chosen)
        source_row.addWidget(self.source_combo, 1)
        layout.addLayout(source_row)
        return box

    def _build_settings_box(self) -> QGroupBox:
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.preset_combo = QComboBox()
        for key, config in self._presets.items():
            self.preset_combo.addItem(self._preset_label(key, config), key)
        self.preset_combo.addItem("Custom", CUSTOM)
        self.preset_combo.setToolTip(
            "Ready-made settings. The seed notebook's recipe reproduces the original Keras "
            "training; “Best for drawings” adds augmentation so hand-drawn digits are "
            "recognised better. Changing any setting below switches to Custom."
        )
        self.preset_combo.activated.connect(self._on_preset_chosen)
        # On a row of its own, full width: the seed preset's name is long.
        form.addRow(QLabel("Preset:"))
        form.addRow(self.preset_combo)

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
            "notebook), or one-cycle: a short warm-up, then a slow decrease"
        )
        form.addRow("Schedule:", self.schedule_combo)

        self.augment_check = QCheckBox("Augment the training images")
        self.augment_check.setToolTip(
            "Randomly shift, rotate, scale and thicken the training digits each batch, so "
            "the network copes with digits drawn with a mouse or a pen, not only scanned "
            "ones. Slower to reach a given MNIST accuracy."
        )
        form.addRow("", self.augment_check)

        self.start_combo = QComboBox()
        self.start_combo.addItem("The model in use", False)
        self.start_combo.addItem("Scratch (random weights)", True)
        self.start_combo.setToolTip(
            "Fine-tune the model that answers now, or train a new one from random weights"
        )
        form.addRow("Start from:", self.start_combo)

        self.device_combo = QComboBox()
        self.device_combo.setToolTip("Where to train: the CPU, or a graphics card")
        for key, label in self._devices():
            self.device_combo.addItem(label, key)
        self.device_label = QLabel("Device:")
        form.addRow(self.device_label, self.device_combo)
        has_gpu = self.device_combo.count() > 2
        self.device_combo.setVisible(has_gpu)
        self.device_label.setVisible(has_gpu)

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
        self.settings_box = box
        return box

    def _build_run_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start training with these settings (Ctrl+Return)")
        self.start_button.setShortcut("Ctrl+Return")
        self.start_button.clicked.connect(self.start_training)
        self.start_button.setAutoDefault(False)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause after the current batch; Resume carries on")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.pause_button.setAutoDefault(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop after the current batch and drop the partly trained model; the model in "
            "use stays as it is"
        )
        self.cancel_button.clicked.connect(self.cancel_training)
        self.cancel_button.setAutoDefault(False)
        for button in (self.start_button, self.pause_button, self.cancel_button):
            row.addWidget(button)
        return row

    def _build_status_area(self) -> QVBoxLayout:
        area = QVBoxLayout()
        area.setSpacing(4)
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        area.addWidget(self.status_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p %")
        self.progress_bar.setToolTip("Progress of the whole run")
        area.addWidget(self.progress_bar)

        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        self.stat_labels: dict[str, QLabel] = {}
        stats = (
            ("epoch", "Epoch", "Current epoch and batch"),
            ("speed", "Images/s", "Training speed, images per second"),
            ("elapsed", "Elapsed", "Time since Start, without pauses"),
            ("eta", "Remaining", "Estimated time left"),
            ("loss", "Loss", "Training loss, smoothed over recent batches"),
            ("train_acc", "Train acc.", "Accuracy on the training images of this epoch so far"),
            ("estimate", "Test estimate", "Accuracy on a test subset, measured during the epoch"),
            ("test_acc", "Test acc.", "Accuracy on the whole test set at the last epoch's end"),
        )
        for index, (key, title, tip) in enumerate(stats):
            caption = QLabel(title)
            caption.setToolTip(tip)
            caption.setStyleSheet("color: palette(mid);")
            value = QLabel("–")
            value.setToolTip(tip)
            font = value.font()
            font.setBold(True)
            value.setFont(font)
            # A fixed width: changing numbers must never re-lay out the dialog (and so
            # resize and fully redraw the charts) several times a second.
            value.setFixedWidth(value.fontMetrics().horizontalAdvance("00/00 · 0000/0000"))
            row, col = divmod(index, 4)
            grid.addWidget(caption, row * 2, col)
            grid.addWidget(value, row * 2 + 1, col)
            self.stat_labels[key] = value
        area.addLayout(grid)
        return area

    def _build_live_tab(self) -> QWidget:
        self.charts = TrainingCharts()
        self.charts.setToolTip(
            "Top: loss (lower is better). Bottom: accuracy in percent. The x axis counts epochs."
        )
        return self.charts

    def _build_result_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.result_label)

        middle = QHBoxLayout()
        matrix_box = QVBoxLayout()
        title = QLabel("Confusion matrix (rows: true digit, columns: guess)")
        title.setWordWrap(True)
        matrix_box.addWidget(title)
        self.confusion_table = QTableWidget(10, 10)
        self.confusion_table.setToolTip(
            "How often each true digit (row) was read as each digit (column); the diagonal "
            "holds the correct answers"
        )
        labels = [str(d) for d in range(10)]
        self.confusion_table.setHorizontalHeaderLabels(labels)
        self.confusion_table.setVerticalHeaderLabels(labels)
        self.confusion_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.confusion_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for header in (
            self.confusion_table.horizontalHeader(),
            self.confusion_table.verticalHeader(),
        ):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setMinimumSectionSize(20)
        self.confusion_table.horizontalHeader().setDefaultSectionSize(38)
        self.confusion_table.verticalHeader().setDefaultSectionSize(24)
        self.confusion_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.confusion_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        matrix_box.addWidget(self.confusion_table)
        self._fit_confusion_table()
        matrix_box.addStretch(1)
        middle.addLayout(matrix_box, 0)

        gallery_box = QVBoxLayout()
        self.gallery_title = QLabel("Misclassified test digits (most confident first)")
        self.gallery_title.setWordWrap(True)
        gallery_box.addWidget(self.gallery_title)
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(56, 56))
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
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Forget this model; the model in use stays")
        self.discard_button.clicked.connect(self.discard_result)
        self.discard_button.setAutoDefault(False)
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip(
            "Save this model as your active model: the drawing window and the command line "
            "use it from now on (Restore bundled model in the main window undoes it)"
        )
        self.use_button.clicked.connect(self.use_result)
        self.use_button.setAutoDefault(False)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.use_button)
        layout.addLayout(buttons)
        return page

    @staticmethod
    def _preset_label(key: str, config: Any) -> str:
        if key in PRESET_LABELS:
            return PRESET_LABELS[key]
        name = key.replace("_", " ").capitalize()
        return f"{name} ({config.epochs} epochs, {config.optimizer}, batch {config.batch_size})"

    @staticmethod
    def _devices() -> list[tuple[str, str]]:
        """Choices for the device box: always auto and CPU, plus each kind of GPU found."""
        devices = [("auto", "Automatic"), ("cpu", "CPU")]
        try:
            import torch

            if torch.cuda.is_available():
                devices.append(("cuda", f"GPU ({torch.cuda.get_device_name(0)})"))
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                devices.append(("mps", "GPU (Apple Metal)"))
        except Exception:  # noqa: BLE001 - no GPU support at all: CPU only
            pass
        return devices

    # ================================================================== settings

    def _apply_preset(self, key: str) -> None:
        self._show_config(self._presets[key])
        self._select_data(self.preset_combo, key)

    def _show_config(self, config: TrainConfig) -> None:
        """Put ``config`` in the controls; it is also the base for what they do not show."""
        self._applying_preset = True
        try:
            self.epochs_spin.setValue(int(config.epochs))
            self._select_data(self.batch_combo, int(config.batch_size), add=True)
            self.lr_spin.setValue(float(config.lr))
            self._select_data(self.optimizer_combo, config.optimizer)
            self._select_data(self.schedule_combo, config.schedule)
            self.augment_check.setChecked(bool(config.augment))
            self._select_data(self.start_combo, bool(config.from_scratch))
            self._select_data(self.device_combo, config.device)
        finally:
            self._applying_preset = False
        self._base = config

    @staticmethod
    def _select_data(combo: QComboBox, value: Any, add: bool = False) -> None:
        index = combo.findData(value)
        if index < 0 and add:
            combo.addItem(str(value), value)
            index = combo.count() - 1
        if index >= 0:
            combo.setCurrentIndex(index)

    @Slot(int)
    def _on_preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if key != CUSTOM:
            self._apply_preset(key)
        if key == MINE:
            self._select_data(self.source_combo, True)

    @Slot(int)
    def _on_source_chosen(self, index: int) -> None:
        """Choosing "MNIST + my samples" also chooses the settings measured for it."""
        if self.source_combo.itemData(index):
            self._apply_preset(MINE)

    def with_my_samples(self) -> bool:
        """Whether the next run mixes the personal samples in."""
        return bool(self.source_combo.currentData())

    def set_with_my_samples(self, on: bool) -> None:
        index = self.source_combo.findData(bool(on))
        self.source_combo.setCurrentIndex(index)
        self._on_source_chosen(index)

    def _refresh_sample_count(self) -> None:
        """Name how many personal samples there are in the source choice."""
        from drawdigit.samples import count_samples

        count = count_samples()
        self.source_combo.setItemText(
            1, f"MNIST + my samples ({count})" if count else "MNIST + my samples (none yet)"
        )

    @Slot()
    def _on_setting_edited(self) -> None:
        """Name the preset the controls now match, or say Custom."""
        if self._applying_preset:
            return
        current = self.config()
        matching = [key for key, preset in self._presets.items() if _same(current, preset)]
        self._select_data(self.preset_combo, matching[0] if matching else CUSTOM)

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
        )

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in the controls and train with it (tests, benchmarks)."""
        self._show_config(config)
        self._on_setting_edited()

    # ================================================================== data

    def _choose_initial_data_dir(self, explicit: Path | str | None) -> None:
        """Explicit folder, else the remembered one, else the usual places."""
        from drawdigit.mnist import MnistError, find_data_dir, has_all_files

        if explicit is not None:
            self._set_data_dir(Path(explicit), remember=False)
            return
        remembered = self._settings.value(SETTINGS_DATA_DIR)
        if remembered and has_all_files(Path(str(remembered))):
            self._set_data_dir(Path(str(remembered)), remember=False)
            return
        try:
            found = find_data_dir()
        except MnistError:
            found = None
        self._data_dir = found
        self._data_problem = "" if found else self._not_found_text()
        self._show_data_state()

    @staticmethod
    def _not_found_text() -> str:
        from drawdigit.mnist import data_dir_candidates

        places = ", ".join(str(path) for _name, path in data_dir_candidates())
        return (
            "MNIST was not found (looked in: "
            f"{places}). Download it (about {DOWNLOAD_MB:.0f} MB), or choose a folder that "
            "holds the four files."
        )

    def data_dir(self) -> Path | None:
        """The MNIST folder the next run reads, or None when there is none yet."""
        return self._data_dir

    def set_data_dir(self, path: Path | str) -> bool:
        """Use ``path`` for MNIST if it holds the four files; remember it. False if not."""
        return self._set_data_dir(Path(path), remember=True)

    def _set_data_dir(self, path: Path, remember: bool) -> bool:
        from drawdigit.mnist import missing_files

        if not path.is_dir():
            self._data_problem = f"{path}: no such folder."
            ok = False
        else:
            missing = missing_files(path)
            ok = not missing
            self._data_problem = (
                ""
                if ok
                else f"{path} does not hold the MNIST files; missing: "
                + ", ".join(f"{name}[.gz]" for name in missing)
                + "."
            )
        if ok:
            self._data_dir = path
            QTimer.singleShot(0, self._start_warm_up)  # load it ahead of Start
            if remember:
                self._settings.setValue(SETTINGS_DATA_DIR, str(path))
                self._settings.sync()
        elif self._data_dir is not None and self._data_dir == path:
            self._data_dir = None
        self._show_data_state()
        self._update_controls()
        return ok

    def _show_data_state(self) -> None:
        if self._data_dir is not None:
            text = f"MNIST: {self._data_dir}"
            if self._data_problem:
                text += f"\n{self._data_problem}"
            self.data_label.setText(text)
            self.data_label.setStyleSheet("")
            self.download_button.hide()
            self.choose_button.setText("Change folder…")
        else:
            self.data_label.setText(self._data_problem or self._not_found_text())
            self.data_label.setStyleSheet("color: palette(highlight);")
            self.download_button.show()
            self.choose_button.setText("Choose folder…")

    @Slot()
    def choose_folder(self) -> None:
        """Ask for the folder holding MNIST (window-modal, the app keeps running)."""
        start = str(self._data_dir or Path.home())
        dialog = QFileDialog(self, "Folder with the MNIST files", start)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.set_data_dir)
        dialog.finished.connect(dialog.deleteLater)
        self.folder_dialog = dialog
        dialog.open()

    @Slot()
    def start_download(self) -> None:
        """Fetch MNIST into the user's cache in a worker thread, with progress and cancel."""
        from drawdigit.mnist import mnist_cache_dir

        if self._download is not None:
            return
        worker = DownloadWorker(mnist_cache_dir(), self.mirrors)
        worker.progress.connect(self._on_download_progress)
        worker.succeeded.connect(self._on_download_succeeded)
        worker.cancelled.connect(self._on_download_cancelled)
        worker.errored.connect(self._on_download_error)
        worker.finished.connect(self._on_download_finished)
        self._download = WorkerThread(worker, worker.cancel, "drawdigit-download")
        self.download_progress.setRange(0, 0)
        self.download_row.show()
        self.download_label.setText("Connecting…")
        self.download_label.setStyleSheet("")
        self.download_label.show()
        self._update_controls()
        self._download.start()

    @Slot()
    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.stop_request()
            self.download_label.setText("Cancelling…")

    def downloading(self) -> bool:
        return self._download is not None

    @Slot(object)
    def _on_download_progress(self, status: DownloadStatus) -> None:
        total = status.bytes_total
        if total:
            self.download_progress.setRange(0, 1000)
            self.download_progress.setValue(int(1000 * status.bytes_done / total))
            size = f"{status.bytes_done / 1e6:.1f} of {total / 1e6:.1f} MB"
        else:
            self.download_progress.setRange(0, 0)
            size = f"{status.bytes_done / 1e6:.1f} MB"
        self.download_label.setText(
            f"{status.file}: {size} (file {status.files_done + 1} of {status.files_total})"
        )

    @Slot(str)
    def _on_download_succeeded(self, folder: str) -> None:
        self.download_label.setText("Downloaded and verified.")
        self.set_data_dir(folder)

    @Slot()
    def _on_download_cancelled(self) -> None:
        self.download_label.setText("Download cancelled. Finished files are kept.")
        self.download_button.setText("Resume download")

    @Slot(str)
    def _on_download_error(self, message: str) -> None:
        self.download_label.setText(f"Download failed: {message}")
        self.download_label.setStyleSheet("color: #c0392b;")
        self.download_button.setText("Retry download")

    @Slot()
    def _on_download_finished(self) -> None:
        if self._download is not None:
            self._download.join()
            self._download = None
        self.download_row.hide()
        self._update_controls()

    # ================================================================== running

    @Slot()
    def _start_warm_up(self) -> None:
        """Get the next run ready in the background (see ``WarmUpWorker``)."""
        if self._warm is not None or self._run is not None or not self.isVisible():
            return
        config = None if self._warm_done else with_threads(self.config(), self.threads)
        data_dir = self._data_dir
        if self._cached_data is not None and self._cached_data[0] == data_dir:
            data_dir = None
        if config is None and data_dir is None:
            return
        worker = WarmUpWorker(config, data_dir)
        worker.dataReady.connect(self._on_data_ready)
        worker.finished.connect(self._on_warm_up_finished)
        self._warm = WorkerThread(worker, lambda: None, "drawdigit-warm-up")
        self._warm.start()

    @Slot(str, object)
    def _on_data_ready(self, folder: str, data: Any) -> None:
        if self.isVisible() and self._data_dir is not None and Path(folder) == self._data_dir:
            self._cached_data = (self._data_dir, data)

    @Slot()
    def _on_warm_up_finished(self) -> None:
        if self._warm is not None:
            self._warm.join()
            self._warm_done = True
            self._warm = None
            if self._data_dir is not None and (
                self._cached_data is None or self._cached_data[0] != self._data_dir
            ):
                QTimer.singleShot(0, self._start_warm_up)  # the folder changed meanwhile

    def warmed_up(self) -> bool:
        """Whether torch is warmed up and the data (if any) is loaded, ready for Start."""
        ready = self._data_dir is None or (
            self._cached_data is not None and self._cached_data[0] == self._data_dir
        )
        return self._warm_done and self._warm is None and ready

    def running(self) -> bool:
        return self._run is not None

    def paused(self) -> bool:
        return self._paused

    def outcome(self) -> TrainingOutcome | None:
        return self._outcome

    @Slot()
    def start_training(self) -> None:
        """Start a run with the settings shown (ignored while one runs or without data)."""
        if self._run is not None or self._data_dir is None or self._download is not None:
            return
        from drawdigit.training import TrainControl

        config = with_threads(self.config(), self.threads)
        if config.quick_eval_seconds > QUICK_EVAL_SECONDS:
            config = replace(config, quick_eval_seconds=QUICK_EVAL_SECONDS)
        cached = self._cached_data
        job = TrainingJob(
            config=config,
            data_dir=self._data_dir,
            data=cached[1] if cached is not None and cached[0] == self._data_dir else None,
            train_limit=self.train_limit,
            test_limit=self.test_limit,
            with_my_samples=self.with_my_samples(),
        )
        self._control = TrainControl()
        worker = TrainingWorker(job, self._control)
        worker.stage.connect(self._on_stage)
        worker.started.connect(self._on_started)
        worker.batchProgress.connect(self._on_batch)
        worker.epochEnded.connect(self._on_epoch)
        worker.resultReady.connect(self._on_result)
        worker.cancelled.connect(self._on_cancelled)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._run = WorkerThread(worker, self._control.cancel, "drawdigit-training")
        self._paused = False
        self._outcome = None
        self._last_batch = None
        self._last_epoch = None
        self._last_estimate = None
        self._run_summary = ""
        self.batch_events = 0
        self.epoch_events = 0
        self.charts.reset(config.epochs)
        self._clear_result()
        self.tabs.setCurrentIndex(0)
        self.progress_bar.setValue(0)
        for label in self.stat_labels.values():
            label.setText("–")
        self._set_status("Starting…")
        self._update_controls()
        self._use_short_switch_interval(True)
        self._run.start()
        self._refresh_timer.start()
        self._last_probe = time.perf_counter()
        self._lag_timer.start()
        self.runStarted.emit()

    @Slot()
    def toggle_pause(self) -> None:
        if self._run is None or self._control is None or self._control.cancelled:
            return
        if self._paused:
            self._control.resume()
            self._paused = False
            self._set_status(f"Training {self._run_summary}…" if self._run_summary else "Training…")
        else:
            self._control.pause()
            self._paused = True
            self._set_status("Paused. Resume carries on where it stopped.")
        self._update_controls()

    @Slot()
    def cancel_training(self) -> None:
        if self._run is None or self._control is None:
            return
        self._control.cancel()
        self._paused = False
        self._set_status("Cancelling…")
        self._update_controls()

    @Slot()
    def user_is_drawing(self) -> None:
        """The main window's canvas changed: the user is drawing (for the next second)."""
        if self._control is not None:
            self._drawing_timer.start()

    @Slot()
    def _probe_lag(self) -> None:
        """Give a core back when the event loop runs late while the user draws.

        Measured on the quiet 2-core machine while drawing, two training threads left the
        app responsive (longest stall 26 ms, 48 recognitions/s) and trained 22% faster than
        one, so the app keeps both unless the lag shows that the machine cannot spare them
        (with other work running, two threads gave 27-35 recognitions/s against 40-47 for
        one). It keeps the lower count until the user stops drawing.
        """
        now = time.perf_counter()
        late = now - self._last_probe - LAG_PROBE_MS / 1000
        self._last_probe = now
        if (
            late > self.lag_limit
            and self._drawing_timer.isActive()
            and self._control is not None
            and self._control.threads_limit is None
        ):
            self._control.limit_threads(self.drawing_threads)

    @Slot()
    def _drawing_stopped(self) -> None:
        if self._control is not None:
            self._control.limit_threads(None)

    def training_threads_now(self) -> int | None:
        """The thread limit the run has at this moment (None: all it was started with)."""
        return None if self._control is None else self._control.threads_limit

    def _from_current_run(self) -> bool:
        """True when the signal being handled comes from the run in progress (not a stale one)."""
        return self._run is not None and self.sender() is self._run.worker

    @Slot(str)
    def _on_stage(self, text: str) -> None:
        if self._from_current_run() and not self._paused:
            self._stage = text
            if text == "Training…" and self._run_summary:
                text = f"Training {self._run_summary}…"
            self._set_status(text)

    @Slot(object)
    def _on_started(self, event: Any) -> None:
        if not self._from_current_run():
            return
        threads = f", {event.threads} thread{'s' if event.threads != 1 else ''}"
        where = "the CPU" + threads if event.device == "cpu" else event.device.upper()
        self._run_summary = (
            f"on {event.train_images:,} images, {event.batches:,} batches per epoch, on {where}"
        )
        self._set_status(f"Training {self._run_summary}…")

    @Slot(object)
    def _on_batch(self, event: Any) -> None:
        if not self._from_current_run():
            return
        self.batch_events += 1
        self._last_batch = event
        x = (event.epoch - 1) + event.batch / max(1, event.batches)
        self.charts.add_batch(x, float(event.loss), float(event.accuracy))
        estimate = _estimate_of(event)
        if estimate is not None:
            self._last_estimate = estimate
            self._estimate_images = event.quick_test_images
            self.charts.add_estimate(x, estimate)

    @Slot(object)
    def _on_epoch(self, event: Any) -> None:
        if not self._from_current_run():
            return
        self.epoch_events += 1
        self._last_epoch = event
        self.charts.add_epoch(
            float(event.epoch),
            float(event.train_loss),
            getattr(event, "test_loss", None),
            float(event.test_accuracy),
        )

    @Slot()
    @Slot()
    def _final_refresh(self) -> None:
        self._refresh(everything=True)

    def _refresh(self, everything: bool = False) -> None:
        """Timer tick: redraw the charts and numbers with whatever arrived since the last."""
        self.charts.refresh(everything)
        event = self._last_batch
        if event is None:
            return
        self.progress_bar.setValue(int(1000 * min(1.0, max(0.0, float(event.fraction)))))
        s = self.stat_labels
        s["epoch"].setText(f"{event.epoch}/{event.epochs} · {event.batch}/{event.batches}")
        s["speed"].setText(f"{event.images_per_second:,.0f}")
        s["elapsed"].setText(_fmt_time(event.elapsed))
        s["eta"].setText(_fmt_time(event.eta))
        s["loss"].setText(f"{event.loss:.4f}")
        s["train_acc"].setText(_pct(event.accuracy))
        s["estimate"].setText(_pct(self._last_estimate))
        if self._estimate_images:
            s["estimate"].setToolTip(
                f"Accuracy on {self._estimate_images:,} test images, measured every few "
                "seconds during the epoch"
            )
        if self._last_epoch is not None:
            s["test_acc"].setText(_pct(float(self._last_epoch.test_accuracy)))

    @Slot(object)
    def _on_result(self, outcome: TrainingOutcome) -> None:
        if not self._from_current_run():
            return
        self._outcome = outcome
        self.progress_bar.setValue(1000)
        self._show_result(outcome)
        self._set_status(
            f"Done: test accuracy {_pct(outcome.test_accuracy)} after "
            f"{_fmt_time(outcome.done.seconds)}. Use this model, or discard it."
        )
        self.runEnded.emit("done")

    @Slot()
    def _on_cancelled(self) -> None:
        if not self._from_current_run():
            return
        self._set_status("Cancelled. The model in use is unchanged.")
        self.runEnded.emit("cancelled")

    @Slot(str)
    def _on_error(self, message: str) -> None:
        if not self._from_current_run():
            return
        self._set_status(message + " The model in use is unchanged.", error=True)
        self.runEnded.emit("error")

    @Slot()
    def _on_finished(self) -> None:
        if not self._from_current_run():
            return
        run = self._run
        self._run = None
        self._control = None
        self._paused = False
        self._drawing_timer.stop()
        self._lag_timer.stop()
        self._refresh_timer.stop()
        self._use_short_switch_interval(False)
        # The last points, drawn in an event-loop turn of their own (a short stall each).
        QTimer.singleShot(0, self._final_refresh)
        assert run is not None
        run.join()  # the thread is only leaving its (empty) event loop now
        self._update_controls()

    def _use_short_switch_interval(self, on: bool) -> None:
        """While a run is active, hand the GIL over every 1 ms instead of Python's 5 ms.

        The training thread runs Python between its torch calls; each time the GUI thread
        needs the GIL (every Qt event handled in Python, every chart redraw step) it may wait
        a whole switch interval for it. Measured during a run on the 2-core machine: 99th
        percentile event-loop gap 41-47 ms at 5 ms, 21 ms at 1 ms. Put back afterwards.
        """
        if on and self._saved_switch_interval is None:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch_interval, SWITCH_INTERVAL))
        elif not on and self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b; font-weight: bold;" if error else "")

    def status_text(self) -> str:
        return self.status_label.text()

    # ================================================================== result

    def _clear_result(self) -> None:
        self._outcome = None
        self.result_label.clear()
        self.result_note.clear()
        self.gallery.clear()
        self.confusion_table.clearContents()
        self.tabs.setTabEnabled(1, False)

    def _show_result(self, outcome: TrainingOutcome) -> None:
        new = outcome.test_accuracy
        old = outcome.current_accuracy
        lines = [
            f"<b>New model: {_pct(new)}</b> on {outcome.test_count:,} MNIST test images "
            f"({outcome.done.seconds:.0f} s of training)."
        ]
        if old is not None:
            diff = (new - old) * 100
            colour = "#2e7d32" if diff >= 0 else "#c0392b"
            lines.append(
                f"Model in use: {_pct(old)} on the same images "
                f"<span style='color:{colour}'>({diff:+.2f} points)</span> "
                f"— {outcome.current_description}."
            )
        else:
            lines.append(f"Model in use: not compared ({outcome.current_description}).")
        lines += _personal_lines(outcome.personal)
        self.result_label.setText("<br>".join(lines))
        self._fill_confusion(outcome.confusion)
        self.gallery.clear()
        # The gallery (60 icons) in a turn of its own, to keep each stall short.
        QTimer.singleShot(0, self._fill_gallery_later)
        self.result_note.setText("")
        self.tabs.setTabEnabled(1, True)
        self.tabs.setCurrentIndex(1)
        self._update_controls()

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
        self._fit_confusion_table()

    def _fit_confusion_table(self) -> None:
        """Exactly the size of its 10x10 cells and headers: no scroll bars, nothing cut."""
        table = self.confusion_table
        vertical, horizontal = table.verticalHeader(), table.horizontalHeader()
        digit = table.fontMetrics().horizontalAdvance("0")
        vertical.setFixedWidth(digit + 16)
        horizontal.setFixedHeight(table.fontMetrics().height() + 8)
        frame = 2 * table.frameWidth()
        table.setFixedSize(
            vertical.width() + horizontal.length() + frame,
            horizontal.height() + vertical.length() + frame,
        )

    @Slot()
    def _fill_gallery_later(self) -> None:
        if self._outcome is not None and self.gallery.count() == 0:
            self._fill_gallery(self._outcome)

    def _fill_gallery(self, outcome: TrainingOutcome) -> None:
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
            item = QListWidgetItem(_digit_icon(image), f"{int(true)} → {int(guess)}")
            item.setToolTip(
                f"true digit {int(true)}, the model said {int(guess)} "
                f"({float(confidence) * 100:.0f} % sure)"
            )
            item.setData(Qt.ItemDataRole.UserRole, (int(true), int(guess)))
            self.gallery.addItem(item)

    @Slot()
    def use_result(self) -> bool:
        """Save the new model as the active one (atomically) and tell the app. False on error."""
        if self._outcome is None:
            return False
        from drawdigit.store import active_model_path
        from drawdigit.training import save_trained

        path = active_model_path()
        personal = self._outcome.personal
        try:
            save_trained(
                path,
                self._outcome.done,
                {
                    "source": "drawdigit training dialog",
                    "test_images": self._outcome.test_count,
                    **(personal.metadata() if personal is not None else {}),
                },
            )
        except Exception as exc:  # noqa: BLE001 - disk full, read-only folder...: say so, keep it
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.result_note.setText(
                f"Could not save the model to {path}: {reason}. The model in use is unchanged; "
                "you can try again."
            )
            self.result_note.setStyleSheet("color: #c0392b; font-weight: bold;")
            self._set_status(f"Could not save the model: {reason}", error=True)
            return False
        self._outcome = None
        self.result_note.setText(f"Saved as your active model ({path}).")
        self.result_note.setStyleSheet("color: #2e7d32;")
        self._set_status("The new model is now in use.")
        self._update_controls()
        self.modelActivated.emit(path)
        return True

    @Slot()
    def discard_result(self) -> None:
        self._clear_result()
        self.tabs.setCurrentIndex(0)
        self._set_status("Discarded. The model in use is unchanged.")
        self._update_controls()

    # ================================================================== state, closing

    def _update_controls(self) -> None:
        running = self._run is not None
        downloading = self._download is not None
        cancelling = running and self._control is not None and self._control.cancelled
        self.start_button.setEnabled(not running and not downloading and self._data_dir is not None)
        self.pause_button.setEnabled(running and not cancelling)
        self.pause_button.setText("Resume" if self._paused else "Pause")
        self.cancel_button.setEnabled(running and not cancelling)
        self.settings_box.setEnabled(not running)
        self.source_combo.setEnabled(not running)
        self.download_button.setEnabled(not downloading and not running)
        self.choose_button.setEnabled(not downloading and not running)
        has_result = self._outcome is not None
        self.use_button.setEnabled(has_result and not running)
        self.discard_button.setEnabled(has_result and not running)

    def shutdown(self) -> None:
        """Stop any run or download and wait for their threads (at most about one batch)."""
        self._refresh_timer.stop()
        self._drawing_timer.stop()
        self._lag_timer.stop()
        self._use_short_switch_interval(False)
        for attr in ("_run", "_download", "_warm"):
            handle: WorkerThread | None = getattr(self, attr)
            if handle is not None:
                handle.stop()
                setattr(self, attr, None)
        self._control = None
        self._paused = False
        self._update_controls()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh_sample_count()
        QTimer.singleShot(0, self._start_warm_up)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.reject()
        event.accept()

    def reject(self) -> None:
        """Esc (and QDialog's own close handling) hide the dialog: stop any run first."""
        if self._run is not None:
            self._set_status("Cancelled (the window was closed). The model in use is unchanged.")
            self.runEnded.emit("cancelled")
        self.shutdown()
        self._cached_data = None  # ~55 MB: not kept while the dialog is closed
        super().reject()

    def _watch_parent(self) -> None:
        """Close with the parent window, so no run outlives the window it belongs to."""
        parent = self.parentWidget()
        if parent is not None:
            parent.window().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        parent = self.parentWidget()
        if event.type() == QEvent.Type.Close and parent is not None and watched is parent.window():
            self.close()
        return super().eventFilter(watched, event)


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
            f"<b>Your kept-aside samples: {_pct(personal.before)} → {_pct(personal.after)}</b> "
            "(model in use → new model)."
        )
    else:
        lines.append("Too few samples to keep any aside: draw a few more of each digit.")
    if personal.warnings:
        count = len(personal.warnings)
        lines.append(f"{count} damaged or empty sample file{'s' if count > 1 else ''} left out.")
    return lines


def _same(a: Any, b: Any) -> bool:
    """Whether two configs agree on everything the dialog shows."""
    names = ("epochs", "batch_size", "lr", "optimizer", "schedule", "augment", "from_scratch")
    return all(getattr(a, name) == getattr(b, name) for name in names)


def _estimate_of(event: Any) -> float | None:
    """The quick test-subset accuracy a BatchProgress carries right after one was measured."""
    value = event.quick_test_accuracy
    return None if value is None else float(value)


def _digit_icon(image: Any) -> QIcon:
    """A 28x28 uint8 image (ink bright, as the network sees it) as a crisp 56x56 icon."""
    import numpy as np

    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    qimage = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
    pixmap = QPixmap.fromImage(qimage).scaled(
        56, 56, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation
    )
    return QIcon(pixmap)
