"""The training dialog: retrain the network on MNIST in the background, with live charts.

The dialog is non-modal: the user keeps drawing and the model in use keeps answering while
a run goes on in a worker thread (``workers.GeneratorWorker`` running
``training_worker.train_run``). The GUI thread only does small things: the worker's events
go into the run-state model (``training.state.RunState``) as they come, and the views in
``drawdigit.gui.training`` read it (the progress view redraws at 10 Hz). Everything slow
happens ahead of Start, in the background (torch's lazy imports, reading MNIST), and the
result is shown in small steps.

This module composes the views and owns start, pause and cancel. Nothing a run produces
touches the model in use until *Use this model* (``training.result_view``); cancel,
close, errors and *Discard* leave the active model file exactly as it was.
"""

from __future__ import annotations

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
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from drawdigit.gui.placement import place_beside_parent
from drawdigit.gui.training.data_view import DataView, button
from drawdigit.gui.training.progress_view import ProgressView
from drawdigit.gui.training.responsiveness import Responsiveness
from drawdigit.gui.training.result_view import ResultView
from drawdigit.gui.training.settings_view import MINE, SettingsView
from drawdigit.gui.training.state import RunState
from drawdigit.gui.training_worker import (
    DevicesFound,
    RunControl,
    Stage,
    prepare_ahead,
    save_folder_problem,
    train_run,
    training_threads,
    with_threads,
)
from drawdigit.gui.workers import GeneratorWorker
from drawdigit.runs import MIXED_RECIPE, RunReport, TrainingJob, describe_error
from drawdigit.store import active_model_path
from drawdigit.training import PRESETS
from drawdigit.training.config import DEFAULT_PRESET

if TYPE_CHECKING:
    from drawdigit.training import TrainConfig

# The live test estimate (1,000 test images) as often as every second of training, where
# that is cheap; fit() spaces estimates further apart on slow machines (<= ~5 % of the time).
QUICK_EVAL_SECONDS = 1.0
SETTINGS_TAB, PROGRESS_TAB, RESULT_TAB = 0, 1, 2
IDLE_BEFORE_CHARTS = 1.0  # seconds without drawing before the charts are built
# Smaller than the main window (940x640): beside it on a 1280-pixel screen next to a
# 640-pixel window. The least it can be is what its layout needs (nothing cut off).
DEFAULT_SIZE = (600, 640)


def _settings() -> QSettings:
    return QSettings("drawdigit", "drawdigit")


class TrainingDialog(QDialog):
    """Settings, live progress and the result of one training run at a time.

    ``data_dir`` forces the MNIST folder (else: the remembered one, then the usual places);
    ``train_limit``/``test_limit`` train and test on the first N images only (tests and
    benchmarks); ``mirrors`` replaces the download mirrors (tests use a loopback server);
    ``settings`` replaces the app's QSettings. ``state`` is the run-state model; the views
    are ``data_view``, ``settings_view``, ``progress_view`` and ``result_view``.
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
        self._placed = False
        self._last_drawn = 0.0  # time.monotonic() of the last canvas change
        self.train_limit = train_limit
        self.test_limit = test_limit
        self.threads: int | None = training_threads()
        self._run: GeneratorWorker | None = None
        self._warm: GeneratorWorker | None = None
        self._warm_done = False
        self._cached_data: tuple[Path, Any] | None = None  # MNIST, loaded ahead of Start

        self.state = RunState(self)
        self.responsiveness = Responsiveness(self)
        self.data_view = DataView(settings if settings is not None else _settings(), mirrors)
        self.settings_view = SettingsView({**PRESETS, MINE: MIXED_RECIPE})
        self.progress_view = ProgressView(self.state)
        self.result_view = ResultView(self.state)
        self._build()
        self.resize(QSize(*DEFAULT_SIZE).expandedTo(self.minimumSizeHint()))
        self._connect()
        self.data_view.choose_initial(data_dir)
        self.settings_view.apply_preset(DEFAULT_PRESET)
        self._watch_parent()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._update_controls()

    # ================================================================== composition

    def _build(self) -> None:
        """Status and numbers on top, then tabs (Settings, Progress, Result), then the
        buttons: one column, so the dialog can stand beside the main window rather than
        over it (see ``gui.placement``)."""
        root = QVBoxLayout(self)
        root.setContentsMargins(12, 12, 12, 12)
        root.setSpacing(8)
        root.addWidget(self.progress_view)

        settings_page = QWidget()
        page = QVBoxLayout(settings_page)
        page.addWidget(self.data_view)
        page.addWidget(self.settings_view)
        page.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.addTab(settings_page, "Settings")
        self.tabs.addTab(self.progress_view.charts_page, "Progress")
        self.tabs.addTab(self.result_view, "Result")
        self.tabs.setTabEnabled(RESULT_TAB, False)
        self.tabs.setTabToolTip(SETTINGS_TAB, "Where the data comes from, and how to train")
        self.tabs.setTabToolTip(PROGRESS_TAB, "Loss and accuracy as training goes")
        self.tabs.setTabToolTip(RESULT_TAB, "The finished model: accuracy, confusions, mistakes")
        root.addWidget(self.tabs, 1)

        hint = QLabel(
            "You can keep drawing while training runs: the model in use keeps answering "
            "until you choose “Use this model”."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        root.addWidget(hint)
        row = QHBoxLayout()
        self.start_button = button(
            "Start", "Start training with these settings (Ctrl+Return)", self.start_training
        )
        self.start_button.setShortcut("Ctrl+Return")
        self.pause_button = button(
            "Pause", "Pause after the current batch; Resume carries on", self.toggle_pause
        )
        self.cancel_button = button(
            "Cancel",
            "Stop after the current batch and drop the partly trained model; the model in "
            "use stays as it is",
            self.cancel_training,
        )
        self.close_button: QPushButton = button(
            "Close", "Close this window (a run in progress is cancelled)", self.close
        )
        for widget in (self.start_button, self.pause_button, self.cancel_button):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.close_button)
        root.addLayout(row)

    def _connect(self) -> None:
        state = self.state
        state.phaseChanged.connect(self._update_controls)
        state.outcomeChanged.connect(self._on_outcome_changed)
        state.runEnded.connect(self.runEnded)
        self.result_view.modelActivated.connect(self.modelActivated)
        self.result_view.discard_button.clicked.connect(self._show_progress_tab)
        self.data_view.dataDirChanged.connect(self._on_data_dir_changed)
        self.data_view.downloadingChanged.connect(self._update_controls)
        self.data_view.sourceChosen.connect(self._on_source_chosen)
        self.settings_view.presetChosen.connect(self._on_preset_chosen)

    @Slot(bool)
    def _on_source_chosen(self, with_samples: bool) -> None:
        """Choosing "MNIST + my samples" also chooses the settings measured for it."""
        if with_samples:
            self.settings_view.apply_preset(MINE)

    @Slot(str)
    def _on_preset_chosen(self, key: str) -> None:
        if key == MINE:
            self.data_view.set_with_my_samples(True, announce=False)

    @Slot(object)
    def _on_outcome_changed(self, outcome: RunReport | None) -> None:
        if outcome is not None:
            self.tabs.setTabEnabled(RESULT_TAB, True)
            self.tabs.setCurrentIndex(RESULT_TAB)

    @Slot()
    def _show_progress_tab(self) -> None:
        self.tabs.setCurrentIndex(PROGRESS_TAB)
        self.tabs.setTabEnabled(RESULT_TAB, False)

    @Slot(object)
    def _on_data_dir_changed(self, folder: Path | None) -> None:
        if folder is not None:
            QTimer.singleShot(0, self._start_warm_up)  # load it ahead of Start
        self._update_controls()

    # ================================================================== the views' API

    def config(self) -> TrainConfig:
        """The settings shown, as a ``TrainConfig``."""
        return self.settings_view.config()

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in the controls and train with it (tests, benchmarks)."""
        self.settings_view.set_config(config)

    def data_dir(self) -> Path | None:
        return self.data_view.data_dir()

    def set_data_dir(self, path: Path | str) -> bool:
        return self.data_view.set_data_dir(path)

    def with_my_samples(self) -> bool:
        return self.data_view.with_my_samples()

    def set_with_my_samples(self, on: bool) -> None:
        self.data_view.set_with_my_samples(on)

    def downloading(self) -> bool:
        return self.data_view.downloading()

    def running(self) -> bool:
        """From Start until the run's thread has ended."""
        return self._run is not None

    def paused(self) -> bool:
        return self.state.paused

    def outcome(self) -> RunReport | None:
        return self.state.outcome

    def status_text(self) -> str:
        return self.state.status

    @property
    def batch_events(self) -> int:
        return self.state.batch_events

    @property
    def epoch_events(self) -> int:
        return self.state.epoch_events

    @property
    def lag_limit(self) -> float:
        return self.responsiveness.lag_limit

    @lag_limit.setter
    def lag_limit(self, seconds: float) -> None:
        self.responsiveness.lag_limit = seconds

    @property
    def drawing_threads(self) -> int:
        return self.responsiveness.drawing_threads

    @drawing_threads.setter
    def drawing_threads(self, count: int) -> None:
        self.responsiveness.drawing_threads = count

    @Slot()
    def user_is_drawing(self) -> None:
        """The main window's canvas changed: the user is drawing (for the next second)."""
        self._last_drawn = time.monotonic()
        self.responsiveness.user_is_drawing()

    def training_threads_now(self) -> int | None:
        """The thread limit the run has at this moment (None: all it was started with)."""
        return self.responsiveness.threads_now()

    # ================================================================== ahead of Start

    @Slot()
    def _start_warm_up(self) -> None:
        """Get the next run ready in the background (see ``training_worker.prepare_ahead``)."""
        if self._warm is not None or self._run is not None or not self.isVisible():
            return
        config = None if self._warm_done else with_threads(self.config(), self.threads)
        data_dir = self.data_dir()
        if self._cached_data is not None and self._cached_data[0] == data_dir:
            data_dir = None
        if config is None and data_dir is None:
            return
        worker = GeneratorWorker(prepare_ahead, config, data_dir, name="drawdigit-warm-up")
        worker.yielded.connect(self._on_warm_up_step)
        worker.returned.connect(lambda data: self._on_data_ready(data_dir, data))
        worker.finished.connect(self._on_warm_up_finished)
        self._warm = worker
        worker.start()

    @Slot(object)
    def _on_warm_up_step(self, step: Stage | DevicesFound) -> None:
        """ "Loading PyTorch…", then what comes next; the devices torch found."""
        if self.sender() is not self._warm:
            return
        if isinstance(step, DevicesFound):
            self.settings_view.set_devices(list(step.devices))
        else:
            self.state.prepare(step.text, step.error)

    def _on_data_ready(self, folder: Path | None, data: Any) -> None:
        if data is not None and self.isVisible() and folder == self.data_dir():
            self._cached_data = (folder, data)

    @Slot()
    def _on_warm_up_finished(self) -> None:
        if self.sender() is not self._warm:
            return
        self._warm_done = True
        self._warm = None
        self.state.prepare(None)
        QTimer.singleShot(0, self._build_charts_when_idle)
        folder = self.data_dir()
        if folder is not None and (self._cached_data is None or self._cached_data[0] != folder):
            QTimer.singleShot(0, self._start_warm_up)  # the folder changed meanwhile

    @Slot()
    def _build_charts_when_idle(self) -> None:
        """Build the charts (0.1-0.4 s of GUI-thread work: ``ProgressView.build_charts``)
        once the user has not drawn for ``IDLE_BEFORE_CHARTS`` s, so that neither a stroke
        nor Start waits for them; a run started first builds them itself."""
        if self.progress_view.charts is not None or not self.isVisible():
            return
        idle = time.monotonic() - self._last_drawn
        if idle < IDLE_BEFORE_CHARTS:
            QTimer.singleShot(
                int((IDLE_BEFORE_CHARTS - idle) * 1000) + 50, self._build_charts_when_idle
            )
            return
        self.progress_view.build_charts()

    def warmed_up(self) -> bool:
        """Whether torch is warmed up and the data (if any) is loaded, ready for Start."""
        folder = self.data_dir()
        ready = folder is None or (self._cached_data is not None and self._cached_data[0] == folder)
        return self._warm_done and self._warm is None and ready

    # ================================================================== start, pause, cancel

    @Slot()
    def start_training(self) -> None:
        """Start a run with the settings shown (ignored while one runs or without data)."""
        folder = self.data_dir()
        if self._run is not None or folder is None or self.downloading():
            return
        problem = save_folder_problem(active_model_path().parent)
        if problem is not None:
            self.state.set_status(problem, error=True)
            return
        config = with_threads(self.config(), self.threads)
        if config.quick_eval_seconds > QUICK_EVAL_SECONDS:
            config = replace(config, quick_eval_seconds=QUICK_EVAL_SECONDS)
        cached = self._cached_data
        job = TrainingJob(
            config=config,
            data_dir=folder,
            data=cached[1] if cached is not None and cached[0] == folder else None,
            train_limit=self.train_limit,
            test_limit=self.test_limit,
            with_my_samples=self.with_my_samples(),
        )
        control = RunControl()
        worker = GeneratorWorker(
            train_run, job, control, control=control, name="drawdigit-training"
        )
        worker.yielded.connect(self._on_event)
        worker.returned.connect(self._on_result)
        worker.aborted.connect(self._on_cancelled)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._run = worker
        self._show_progress_tab()
        self.state.begin(config.epochs)
        self.responsiveness.attach(control)
        worker.start()
        self.runStarted.emit()

    @property
    def worker(self) -> GeneratorWorker | None:
        """The run in progress (its thread, ``quit``, ``wait``), or None."""
        return self._run

    @property
    def _control(self) -> Any:
        return None if self._run is None else self._run.control

    @Slot()
    def toggle_pause(self) -> None:
        control = self._control
        if control is None or control.cancelled:
            return
        if self.state.paused:
            control.resume()
            self.state.set_paused(False)
        else:
            control.pause()
            self.state.set_paused(True)
        self._update_controls()

    @Slot()
    def cancel_training(self) -> None:
        if self._control is None:
            return
        self._control.cancel()
        self.state.cancel_requested()

    def _from_current_run(self) -> bool:
        """True when the signal being handled comes from the run in progress (not a stale one)."""
        return self._run is not None and self.sender() is self._run

    @Slot(object)
    def _on_event(self, event: Any) -> None:
        if not self._from_current_run():
            return
        from drawdigit.training import BatchProgress, EpochEnd, TrainingStarted

        if isinstance(event, BatchProgress):
            self.state.batch(event)
        elif isinstance(event, EpochEnd):
            self.state.epoch(event)
        elif isinstance(event, TrainingStarted):
            self.state.training_started(event)
        elif isinstance(event, Stage):
            self.state.stage(event.text)

    @Slot(object)
    def _on_result(self, outcome: RunReport) -> None:
        if self._from_current_run():
            self.state.succeeded(outcome)

    @Slot()
    def _on_cancelled(self) -> None:
        if self._from_current_run():
            self.state.cancelled()

    @Slot(object)
    def _on_error(self, exc: BaseException) -> None:
        if self._from_current_run():
            self.state.failed(describe_error(exc))

    @Slot()
    def _on_finished(self) -> None:
        if not self._from_current_run():
            return
        self._run = None
        self.responsiveness.detach()
        self._update_controls()

    @Slot()
    def _update_controls(self) -> None:
        running = self._run is not None
        downloading = self.downloading()
        cancelling = self.state.cancelling
        self.start_button.setEnabled(
            not running and not downloading and self.data_dir() is not None
        )
        self.pause_button.setEnabled(running and not cancelling)
        self.pause_button.setText("Resume" if self.state.paused else "Pause")
        self.cancel_button.setEnabled(running and not cancelling)
        self.settings_view.setEnabled(not running)
        self.data_view.set_busy(running)

    # ================================================================== closing

    def shutdown(self, why: str = " (the app was closed)") -> None:
        """Stop any run, warm-up or download and wait for their threads (about one batch)."""
        run, warm = self._run, self._warm
        self._run = self._warm = None  # what they still emit is stale from here on
        self.responsiveness.detach()
        self.state.prepare(None)
        if self.state.active:
            self.state.cancelled(why)
        for worker in (run, warm):
            if worker is not None:
                worker.stop()
        self.data_view.stop_download()
        self._update_controls()

    def showEvent(self, event: QShowEvent) -> None:
        if not self._placed:  # the first time only: later, where the user left it
            self._placed = True
            place_beside_parent(self)
        elif not event.spontaneous():  # reopened: last time's failed download is history
            self.data_view.forget_download_error()
        super().showEvent(event)
        self.data_view.refresh_sample_count()
        QTimer.singleShot(0, self._start_warm_up)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.reject()
        event.accept()

    def reject(self) -> None:
        """Esc (and QDialog's own close handling) hide the dialog: stop any run first."""
        self.shutdown(" (the window was closed)")
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
