"""The main window: draw on the left, see what the network sees and thinks on the right.

``MainWindow`` composes the parts and keeps the recognition wiring:
canvas ``drawingChanged`` -> ``Recognizer.submit`` (another thread) -> ``resultReady`` ->
``_on_result`` -> prediction panel. Answers carry the sequence number of the drawing they
are for; answers to drawings from before the canvas was last emptied are dropped, so an
empty canvas never shows a digit, however late an answer arrives. ``correct`` and
``confirm`` (the digit keys and Enter) turn the answer shown into a personal sample.

The parts: ``actions`` (every QAction and the menus), ``document`` (open, save, export,
drop; the file and "modified"), ``finetune`` (the fine-tune run and its offer), ``layout``
(the paper, its tool row and the panel), ``settings`` (what is remembered between runs).

Torch is never imported here: the recogniser loads it in its thread once the window has
painted, so the window appears quickly.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot, qVersion
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QSizePolicy, QWidget

from drawdigit import DATA_CREDIT, __version__
from drawdigit.gui.canvas import DrawingCanvas
from drawdigit.gui.prediction_panel import PredictionPanel
from drawdigit.gui.recognizer import RecognitionResult, Recognizer
from drawdigit.gui.window.actions import WindowActions
from drawdigit.gui.window.corrections import Corrections
from drawdigit.gui.window.document import Document
from drawdigit.gui.window.finetune import FinetuneController
from drawdigit.gui.window.layout import central_widget
from drawdigit.gui.window.messages import html_escape, show_message
from drawdigit.gui.window.settings import (
    MINIMUM_SIZE,
    restore_geometry,
    save_geometry,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QUndoStack

    from drawdigit.inference import ModelSource


class MainWindow(QMainWindow):
    """The app's one window. ``model_path`` forces a model file (else the one in use)."""

    firstShown = Signal()  # the window has painted for the first time
    recognitionShown = Signal(object)  # a RecognitionResult the panel now shows
    modelStateChanged = Signal(str)  # "loading", "ready" or "failed"
    finetuneFinished = Signal(object)  # a FinetuneResult, before the user chooses

    def __init__(self, model_path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(*MINIMUM_SIZE)
        self._model_source: ModelSource | None = None
        self._model_state = "loading"  # "loading", "ready" or "failed"
        self._model_error = ""
        self._barrier_seq = 0  # answers to drawings older than this are dropped
        self._submitted_seq = 0  # the drawing on the canvas now
        self._last_result: RecognitionResult | None = None
        self._pen_up_seq: int | None = None  # the drawing at the last pen-up, until answered
        self._shown_once = False
        self._samples_counted = False  # see update_finetune_action's first call
        self._training_dialog: Any = None
        self._samples_dialog: Any = None
        self._models_dialog: Any = None
        self._inside_window: Any = None
        self._discard_on_close = False  # the user has answered the save question: close

        self.canvas = DrawingCanvas()
        self.panel = PredictionPanel()
        self.recognizer = Recognizer(model_path, self)
        self.document = Document(self, self.canvas, self._model_input)
        self.finetune = FinetuneController(self, self.statusBar())
        self.corrections = Corrections(self, self.canvas, self.last_result)
        self.commands = WindowActions(self)
        self.commands.build_menus(self)
        c = self.commands
        self.setCentralWidget(
            central_widget(self.canvas, self.panel, [c.undo, c.redo, c.eraser], [c.clear])
        )
        self._build_status_bar()

        self.document.changed.connect(self._update_title)
        self.document.status.connect(self.statusBar().showMessage)
        self.finetune.runningChanged.connect(self._on_finetune_running)
        self.finetune.finished.connect(self.finetuneFinished)
        self.finetune.modelSaved.connect(self.reload_model)
        self.canvas.drawingChanged.connect(self._on_drawing_changed)
        self.canvas.strokeActiveChanged.connect(self._on_stroke_active)
        self.corrections.status.connect(self.statusBar().showMessage)
        self.corrections.saved.connect(self._on_samples_saved)
        self.corrections.typing.connect(self.panel.show_typing)
        self.corrections.corrected.connect(self._on_corrected)
        self.corrections.undone.connect(self._on_correction_undone)
        self.panel.correctionRequested.connect(self.correct)
        self.panel.undoRequested.connect(self.corrections.undo)
        self.canvas.firstPainted.connect(self._on_first_painted)
        stack = self.canvas.undo_stack
        stack.cleanChanged.connect(self._update_title)
        stack.indexChanged.connect(self._update_actions)
        stack.undoTextChanged.connect(self._update_actions)
        stack.redoTextChanged.connect(self._update_actions)
        self.recognizer.modelLoading.connect(self._on_model_loading)
        self.recognizer.modelReady.connect(self._on_model_ready)
        self.recognizer.modelFailed.connect(self._on_model_failed)
        self.recognizer.modelNote.connect(self._on_model_note)
        self.recognizer.resultReady.connect(self._on_result)
        # A window deleted without being closed must still stop the thread first (Qt aborts
        # when a running QThread is destroyed); children still exist when this is emitted.
        self.destroyed.connect(self.recognizer.shutdown)

        self._update_title()
        self._update_actions()
        # Fine-tune stays off until the samples are counted, once the model has loaded:
        # counting imports ``drawdigit.samples`` and so numpy (0.1-0.2 s), which the window
        # does not need to appear, and which the recogniser's thread imports meanwhile.
        self.commands.update_finetune(samples=0, running=False)
        self._on_model_loading()
        restore_geometry(self)

    def _build_status_bar(self) -> None:
        self.model_label = QLabel()
        self.model_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().setSizeGripEnabled(True)

    # ------------------------------------------------------------------ start-up

    def _on_first_painted(self) -> None:
        if self._shown_once:
            return
        self._shown_once = True
        # Let the first frame reach the screen before torch starts loading in the worker.
        QTimer.singleShot(0, self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.firstShown.emit()
        self.start_recognition()
        self._say_data_folder_problem()

    def _say_data_folder_problem(self) -> None:
        """Once, at start: the user data folder cannot be used (a file, not writable), so
        nothing trained or corrected can be kept; said here rather than as an error number
        at the first correction. A few file-system looks, nothing written."""
        from drawdigit.store import data_dir_problem

        problem = data_dir_problem()
        if problem is not None:
            self.statusBar().showMessage("The data folder cannot be used")
            show_message(self, QMessageBox.Icon.Warning, "Data Folder", problem)

    def start_recognition(self) -> None:
        """Start loading the model (done automatically once the window has painted)."""
        self.recognizer.start()

    # ------------------------------------------------------------------ recognition

    @Slot(object)
    def _on_drawing_changed(self, source: Any) -> None:
        empty = self.canvas.is_empty()
        seq = self.recognizer.submit(None if empty else source)
        self._submitted_seq = seq
        self.corrections.reset()
        self.panel.clear_correction()  # said of the drawing before: the new answer follows
        if empty:
            self._barrier_seq = seq
            self._last_result = None
            self.panel.show_empty()
        elif self._last_result is None and not self.model_ready():
            # Ink, but no answer can come yet: say why, rather than "Draw a digit".
            self.panel.show_waiting(self._waiting_text())
        self._update_actions()

    @Slot(object)
    def _on_result(self, result: RecognitionResult) -> None:
        """An answer from the recogniser's thread: show it, unless the drawing it is for has
        since been cleared or a newer answer is already shown."""
        if result.seq < self._barrier_seq or self.canvas.is_empty():
            return  # an answer to a drawing that has since been cleared
        if self._last_result is not None and result.seq < self._last_result.seq:
            return
        self._last_result = result
        if self._pen_up_seq is not None and result.seq >= self._pen_up_seq:
            # The answer for the finished stroke: nothing is held back any more. (An answer
            # held during the stroke is shown and replaced in this same slot: no flash.)
            self._pen_up_seq = None
            self.panel.set_stroke_active(False)
        self.panel.set_model_input(result.image28)
        if result.decision is not None and not result.error:
            self.panel.show_decision(result.decision)
        elif result.error:
            self.panel.show_waiting("Cannot read this drawing")
            self.statusBar().showMessage(f"Recognition failed: {result.error}", 8000)
        elif result.image28 is None:
            self.panel.show_waiting("No ink found")
        elif result.prediction is not None:
            self.panel.show_prediction(result.prediction)
        else:
            self.panel.show_waiting(self._waiting_text())
        self._update_actions()
        self.recognitionShown.emit(result)

    @Slot(bool)
    def _on_stroke_active(self, active: bool) -> None:
        """Unsure and not-a-digit answers never flash while a stroke is drawn: the panel
        holds them from pen-down until the answer for the finished stroke arrives."""
        if active:
            self._pen_up_seq = None
            self.panel.set_stroke_active(True)
        elif self.canvas.is_empty():
            self._pen_up_seq = None
            self.panel.set_stroke_active(False)
        else:
            self._pen_up_seq = self._submitted_seq

    def _waiting_text(self) -> str:
        if self._model_state == "failed":
            return "No model loaded (see the status bar)"
        return "Loading model…"

    def last_result(self) -> RecognitionResult | None:
        """The answer the panel shows (None with an empty canvas)."""
        return self._last_result

    def shows_current_answer(self) -> bool:
        """Whether the panel shows the answer for the drawing on the canvas now (not for an
        earlier state of it)."""
        result = self._last_result
        return result is not None and result.seq == self._submitted_seq

    def _model_input(self) -> Any:
        """The 28x28 input of the answer shown (None before the first answer)."""
        return None if self._last_result is None else self._last_result.image28

    # ------------------------------------------------------------------ the model

    def model_state(self) -> str:
        """One of "loading", "ready", "failed"; ``modelStateChanged`` says when it changes."""
        return self._model_state

    def model_ready(self) -> bool:
        return self._model_state == "ready"

    def model_source(self) -> ModelSource | None:
        return self._model_source

    def _set_model_state(self, state: str, label: str, menu_text: str, tip: str = "") -> None:
        self._model_state = state
        self.model_label.setText(label)
        self.model_label.setToolTip(tip)
        self.commands.model_info.setText(menu_text)
        self._update_actions()
        if state != "loading" and not self._samples_counted:
            self.update_finetune_action()
        self.modelStateChanged.emit(state)

    @Slot()
    def _on_model_loading(self) -> None:
        if not self.canvas.is_empty() and (
            self._last_result is None or self._last_result.prediction is None
        ):
            self.panel.show_waiting("Loading model…")
        self._set_model_state("loading", "Model: loading…", "Model: loading…")

    @Slot(object, list)
    def _on_model_ready(self, source: ModelSource, warnings: list[str]) -> None:
        self._model_source = source
        text = f"Model: {source.describe()}"
        self._set_model_state("ready", text, text, str(source.path))
        if warnings:
            show_message(self, QMessageBox.Icon.Warning, "Model", "\n\n".join(warnings))

    @Slot(str)
    def _on_model_note(self, note: str) -> None:
        """What the model in use cannot answer: in the status bar and the model's tooltip
        (not a box: it holds every time this model loads, it is no error)."""
        self.statusBar().showMessage(note, 15000)
        self.model_label.setToolTip(f"{self.model_label.toolTip()}\n{note}".strip())

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self._model_error = message
        self._model_source = None
        self.statusBar().showMessage(f"Could not load the model: {message}")
        self._model_state = "failed"  # before the panel: its waiting text depends on it
        if not self.canvas.is_empty():
            self.panel.show_waiting(self._waiting_text())
        self._set_model_state("failed", "Model: none — recognition is off", "Model: none", message)

    @Slot()
    def reload_model(self) -> None:
        """Load the model in use again, e.g. after the training dialog activated a new one."""
        self._on_model_loading()  # at once: the worker's own notice comes a moment later
        self.recognizer.reload_model()
        if self._models_dialog is not None:  # a model may have been added or switched
            self._models_dialog.refresh()

    # alias named in the design notes, for the training dialog
    set_predictor_source_changed = reload_model

    def restore_bundled_model(self, *, confirm: bool = True) -> None:
        """Stop using the user's retrained model (kept, renamed) and load the bundled one.

        ``confirm`` is keyword-only: the menu action connects this method to its
        ``triggered(checked)`` signal, and PySide passes ``checked`` (False) to a slot's
        first positional parameter, which skipped the question."""
        from drawdigit.store import set_aside_active_model

        if confirm:
            answer = QMessageBox.question(
                self,
                "Restore Bundled Model",
                "Use the model that came with drawdigit again?\n\n"
                "Your model is not deleted: it is kept in your data folder, and "
                "Model > Models… brings it back.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        try:
            moved = set_aside_active_model()
        except OSError as exc:
            show_message(
                self,
                QMessageBox.Icon.Critical,
                "Restore Bundled Model",
                f"Could not move your model aside: {exc.strerror or exc}",
            )
            return
        if moved is not None:
            self.statusBar().showMessage(
                f"Your model was kept as {moved.name}: Model > Models… brings it back", 10000
            )
        self.reload_model()

    def open_models_dialog(self) -> None:
        """The models the user has had, to switch between them (``gui/models_view.py``)."""
        from drawdigit.gui.models_view import ModelsDialog

        if self._models_dialog is None:
            self._models_dialog = ModelsDialog(self)
            self._models_dialog.modelActivated.connect(self.reload_model)
        else:
            self._models_dialog.refresh()
        self._show_dialog(self._models_dialog)

    def open_inside_window(self) -> None:
        """The "Look inside" window (``gui/inside``), fed by this window's answers."""
        from drawdigit.gui.inside import InsideWindow

        if self._inside_window is None:
            self._inside_window = InsideWindow(self)
        self._show_dialog(self._inside_window)

    def open_training_dialog(self) -> None:
        """Open the training dialog (``drawdigit.gui.training_dialog``)."""
        import importlib.util

        if importlib.util.find_spec("drawdigit.gui.training_dialog") is None:
            show_message(
                self,
                QMessageBox.Icon.Information,
                "Train",
                "Training is not available in this build.",
            )
            return
        from drawdigit.gui.training_dialog import TrainingDialog

        if self._training_dialog is None:
            self._training_dialog = TrainingDialog(self)
            self._training_dialog.modelActivated.connect(self.reload_model)
            self.canvas.drawingChanged.connect(self._training_dialog.user_is_drawing)
        self._show_dialog(self._training_dialog)

    # ------------------------------------------------------------------ personal samples

    def correct(self, digit: int) -> bool:
        """A digit key: the right answer is ``digit`` (kept as a sample; see ``Corrections``)."""
        return self.corrections.correct(digit)

    def confirm(self) -> bool:
        """Enter: the answer shown is right (kept when "save confirmed samples" is on)."""
        return self.corrections.confirm()

    def undo(self) -> None:
        """Ctrl+Z: right after a correction, take the correction back; else undo a stroke."""
        if self.corrections.can_undo():
            self.corrections.undo()
        else:
            self.canvas.undo()

    @Slot(str, str)
    def _on_corrected(self, said: str, note: str) -> None:
        self.panel.show_correction(said, note)
        self._update_actions()  # Undo now takes the correction back

    @Slot()
    def _on_correction_undone(self) -> None:
        self.panel.clear_correction()
        self._update_actions()

    @Slot()
    def _on_samples_saved(self) -> None:
        if self._samples_dialog is not None:
            self._samples_dialog.refresh()
        self.update_finetune_action()

    @Slot()
    def update_finetune_action(self) -> None:
        """Enable Fine-tune when there are samples (counted, not read: cheap) and no run is on;
        called whenever the samples may have changed: a correction, the samples dialog
        (delete, relabel, import), the window coming back to the front (another program)."""
        from drawdigit.samples import count_samples

        self._samples_counted = True
        self.commands.update_finetune(samples=count_samples(), running=self.finetune.is_running())

    def open_samples_dialog(self) -> None:
        from drawdigit.gui.samples_view import SamplesDialog

        if self._samples_dialog is None:
            self._samples_dialog = SamplesDialog(self)
            self._samples_dialog.samplesChanged.connect(self.update_finetune_action)
        else:
            self._samples_dialog.refresh()
        self._show_dialog(self._samples_dialog)

    def _show_dialog(self, dialog: QWidget) -> None:
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    @Slot(bool)
    def _on_finetune_running(self, running: bool) -> None:
        self.update_finetune_action()  # one run at a time

    # ------------------------------------------------------------------ files

    def open_path(self, path: Path | str) -> None:
        """Open a drawing or an image once it is read off the GUI thread (see
        ``Document.open_path``: its ``opened`` and ``open_failed`` say how it went)."""
        self.document.open_path(path)

    # ------------------------------------------------------------------ title, actions

    def _live_stack(self) -> QUndoStack | None:
        """The canvas's undo stack, or None while Qt is tearing the window down (the stack
        announces its own destruction through the signals these slots listen to)."""
        if not (shiboken6.isValid(self.canvas) and shiboken6.isValid(self.canvas.undo_stack)):
            return None
        return self.canvas.undo_stack

    def _update_title(self) -> None:
        if self._live_stack() is None:
            return
        self.setWindowTitle(f"{self.document.display_name()}[*] — drawdigit")
        self.setWindowModified(self.document.is_modified())

    def _update_actions(self) -> None:
        stack = self._live_stack()
        if stack is None:
            return
        self.commands.update_enabled(
            stack,
            has_ink=not self.canvas.is_empty(),
            picture=self.canvas.picture() is not None,
            has_model_input=self._model_input() is not None,
            user_model=self._model_source is not None and self._model_source.kind == "user",
            model_loading=self._model_state == "loading",
            correction=self.corrections.can_undo(),
        )
        self._update_title()

    # ------------------------------------------------------------------ about

    def about_text(self) -> str:
        import platform

        import PySide6

        torch = sys.modules.get("torch")
        torch_version = getattr(torch, "__version__", "not loaded yet")
        if self._model_source is not None:
            source = self._model_source
            model = f"{source.describe()}<br><small>{html_escape(str(source.path))}</small>"
            created = source.metadata.get("created")
            if created:
                model += f"<br><small>created {html_escape(str(created))}</small>"
        elif self._model_state == "failed":
            model = f"none ({html_escape(self._model_error)})"
        else:
            model = "loading…"
        return (
            f"<h3>drawdigit {__version__}</h3>"
            "<p>Draw a digit and watch a small convolutional network say what it is.</p>"
            f"<p><b>Model:</b> {model}</p>"
            f"<p><small>Python {platform.python_version()} · Qt {qVersion()} · "
            f"PySide6 {PySide6.__version__} · PyTorch {torch_version}</small></p>"
            f"<p><small>{DATA_CREDIT}</small></p>"
            "<p><small>drawdigit is free software under the MIT licence. It is built on Qt "
            "and Qt for Python (LGPL-3.0), PyTorch, NumPy, SciPy, Pillow and more: "
            "THIRD-PARTY-NOTICES.md, which comes with drawdigit, lists them with their "
            "licences.</small></p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, "About drawdigit", self.about_text())

    def show_about_qt(self) -> None:
        QMessageBox.aboutQt(self, "About Qt")

    # ------------------------------------------------------------------ close

    def changeEvent(self, event: QEvent) -> None:
        # Back to the front: samples may have been added or deleted outside the window.
        active = event.type() == QEvent.Type.ActivationChange and self.isActiveWindow()
        if active and self._samples_counted:  # else: counted once the model has loaded
            self.update_finetune_action()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask to save a changed drawing first (window-modal, returns at once: the close
        waits for the answer, and Cancel keeps the window open)."""
        if not self._discard_on_close and self.document.needs_saving():
            event.ignore()
            self.document.ask_to_save("quitting", self._close_after_asking)
            return
        save_geometry(self)
        for window in (self._training_dialog, self._inside_window):
            if window is not None:
                window.close()
        self.finetune.shutdown()
        self.recognizer.shutdown()
        self.document.cancel_reading()
        super().closeEvent(event)

    def _close_after_asking(self) -> None:
        self._discard_on_close = True
        self.close()
