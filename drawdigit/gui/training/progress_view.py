"""A run's progress: the status line, the progress bar, the numbers grid and the charts.

Why the charts come later: importing pyqtgraph takes about a second (it materialises every
Qt class PySide6 would create lazily) and building the two plots 0.25-0.4 s more, all on the
GUI thread. Done when the dialog opened, both froze the main window while the user might
be drawing. The dialog imports the module and builds the plots
(:meth:`ProgressView.build_charts`) once the warm-up is done and the user has not drawn for
a second, or when a run starts, whichever comes first. On the GUI thread: pyqtgraph copies
the Qt modules' attributes as it is imported, and imported in the warm-up thread while the
event loop ran it crashed the process (a segmentation fault in CI).

Why a timer: the worker's events come once per batch (tens a second). They are only
recorded as they arrive (``RunState`` keeps the latest, the charts append to buffers), and
a 10 Hz timer redraws the numbers and one of the two charts in turn, so no event-loop turn
is long however fast training goes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from drawdigit.formatting import percent
from drawdigit.gui.training.state import RunState, estimate_of, fmt_time

if TYPE_CHECKING:
    from drawdigit.gui.training.charts import TrainingCharts

CHARTS_MODULE = "drawdigit.gui.training.charts"  # pyqtgraph: imported when the charts are built

REFRESH_HZ = 10  # timer ticks per second; the two charts take turns, 5 redraws/s each
# key, caption, tooltip, the widest value it shows (its label is that wide, fixed)
STATS = (
    ("epoch", "Epoch", "Current epoch and batch", "00/00 · 0000/0000"),
    ("speed", "Images/s", "Training speed, images per second", "00,000"),
    ("elapsed", "Elapsed", "Time since Start, without pauses", "0:00:00"),
    ("eta", "Remaining", "Estimated time left", "0:00:00"),
    ("loss", "Loss", "Training loss, smoothed over recent batches", "0.0000"),
    ("train_acc", "Train acc.", "Accuracy on the training images of this epoch so far", "100.00%"),
    (
        "estimate",
        "Test estimate",
        "Accuracy on a test subset, measured during the epoch",
        "100.00%",
    ),
    ("test_acc", "Test acc.", "Accuracy on the whole test set at the last epoch's end", "100.00%"),
)


class ProgressView(QWidget):
    """The status area above the tabs; ``charts`` is the Progress tab's page."""

    def __init__(self, state: RunState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        area = QVBoxLayout(self)
        area.setContentsMargins(0, 0, 0, 0)
        area.setSpacing(4)
        self.status_label = QLabel(state.status)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        area.addWidget(self.status_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setToolTip("Progress of the whole run")
        area.addWidget(self.progress_bar)

        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        self.stat_labels: dict[str, QLabel] = {}
        for index, (key, title, tip, widest) in enumerate(STATS):
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
            value.setFixedWidth(value.fontMetrics().horizontalAdvance(widest) + 4)
            row, col = divmod(index, 4)
            grid.addWidget(caption, row * 2, col)
            grid.addWidget(value, row * 2 + 1, col)
            self.stat_labels[key] = value
        area.addLayout(grid)

        self.charts: TrainingCharts | None = None
        self.charts_page = QWidget()  # the Progress tab: the charts, once built
        page = QVBoxLayout(self.charts_page)
        page.setContentsMargins(0, 0, 0, 0)
        self._charts_note = QLabel("Loss and accuracy are charted here as training goes.")
        self._charts_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._charts_note.setStyleSheet("color: palette(mid);")
        page.addWidget(self._charts_note)
        self._epochs = 1
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // REFRESH_HZ)
        self._timer.timeout.connect(self.refresh)
        state.statusChanged.connect(self._show_status)
        state.runStarted.connect(self._on_run_started)
        state.batchProgress.connect(self._on_batch)
        state.epochEnded.connect(self._on_epoch)
        state.phaseChanged.connect(self._on_phase)
        state.outcomeChanged.connect(self._on_outcome)
        state.preparingChanged.connect(self._on_preparing)

    def build_charts(self) -> TrainingCharts:
        """Make the charts (once; imports pyqtgraph here if the warm-up has not yet)."""
        if self.charts is None:
            module = importlib.import_module(CHARTS_MODULE)
            charts = module.TrainingCharts()
            charts.setToolTip(
                "Top: loss (lower is better). Bottom: accuracy in percent. "
                "The x axis counts epochs."
            )
            charts.reset(self._epochs)
            self._charts_note.hide()
            self.charts_page.layout().addWidget(charts)
            self.charts = charts
        return self.charts

    def _set_busy(self, busy: bool) -> None:
        """A moving bar (no figure yet: loading PyTorch, reading MNIST) or the run's share."""
        if busy:
            self.progress_bar.setRange(0, 0)
        elif self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)

    @Slot(bool)
    def _on_preparing(self, _preparing: bool) -> None:
        if not self.state.active:
            self._set_busy(self.state.showing_preparation)

    @Slot(str, bool)
    def _show_status(self, text: str, error: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b; font-weight: bold;" if error else "")

    @Slot(int)
    def _on_run_started(self, epochs: int) -> None:
        self._epochs = epochs
        self.build_charts().reset(epochs)
        self._set_busy(True)  # until the first batch
        self.progress_bar.setValue(0)
        for label in self.stat_labels.values():
            label.setText("–")
        self._timer.start()

    @Slot(str)
    def _on_phase(self, _phase: str) -> None:
        if not self.state.active:
            self._set_busy(self.state.showing_preparation)
        if not self.state.active and self._timer.isActive():
            self._timer.stop()
            # The last points, drawn in an event-loop turn of their own (a short stall each).
            QTimer.singleShot(0, self._final_refresh)

    @Slot(object)
    def _on_outcome(self, outcome: Any) -> None:
        if outcome is not None:
            self._set_busy(False)
            self.progress_bar.setValue(1000)

    @Slot(object)
    def _on_batch(self, event: Any) -> None:
        charts = self.build_charts()
        x = (event.epoch - 1) + event.batch / max(1, event.batches)
        charts.add_batch(x, float(event.loss), float(event.accuracy))
        estimate = estimate_of(event)
        if estimate is not None:
            charts.add_estimate(x, estimate)

    @Slot(object)
    def _on_epoch(self, event: Any) -> None:
        self.build_charts().add_epoch(
            float(event.epoch),
            float(event.train_loss),
            getattr(event, "test_loss", None),
            float(event.test_accuracy),
        )

    @Slot()
    def _final_refresh(self) -> None:
        self.refresh(everything=True)

    @Slot()
    def refresh(self, everything: bool = False) -> None:
        """Redraw the charts and numbers with whatever arrived since the last time."""
        if self.charts is not None:
            self.charts.refresh(everything)
        state = self.state
        event = state.last_batch
        if event is None:
            return
        self._set_busy(False)
        if state.outcome is None:
            self.progress_bar.setValue(int(1000 * min(1.0, max(0.0, float(event.fraction)))))
        s = self.stat_labels
        s["epoch"].setText(f"{event.epoch}/{event.epochs} · {event.batch}/{event.batches}")
        s["speed"].setText(f"{event.images_per_second:,.0f}")
        if state.outcome is not None:  # the same time as the status line and the result
            s["elapsed"].setText(fmt_time(state.outcome.done.seconds))
            s["eta"].setText(fmt_time(0))
        else:  # running; or cancelled or failed: what it did stays, nothing remains
            s["elapsed"].setText(fmt_time(event.elapsed))
            s["eta"].setText(fmt_time(event.eta if state.active else None))
        s["loss"].setText(f"{event.loss:.4f}")
        s["train_acc"].setText(percent(event.accuracy, 2))
        s["estimate"].setText(percent(state.last_estimate, 2))
        if state.estimate_images:
            s["estimate"].setToolTip(
                f"Accuracy on {state.estimate_images:,} test images, measured every few "
                "seconds during the epoch"
            )
        if state.last_epoch is not None:
            s["test_acc"].setText(percent(float(state.last_epoch.test_accuracy), 2))
