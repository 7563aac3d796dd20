"""The main window: draw on the left, see what the network sees and thinks on the right.

The window owns the actions (menus, shortcuts, the tool row), the files, and the wiring:
canvas ``drawingChanged`` -> ``Recognizer.submit`` (another thread) -> ``resultReady`` ->
prediction panel. Answers carry the sequence number of the drawing they are for; answers
to drawings from before the canvas was last emptied are dropped, so an empty canvas never
shows a digit, however late an answer arrives.

Torch is never imported here: the recogniser loads it in its thread once the window has
painted, so the window appears quickly. Message boxes about bad files are window-modal but
non-blocking (``QMessageBox.open``), so a drop handler returns at once and nothing else
changes: the current drawing stays as it was.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QSettings,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
    qVersion,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QImage,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from drawdigit import __version__
from drawdigit.gui.canvas import DrawingCanvas
from drawdigit.gui.icons import line_icon
from drawdigit.gui.prediction_panel import PredictionPanel, image28_to_qimage
from drawdigit.gui.recognizer import RecognitionResult, Recognizer

if TYPE_CHECKING:
    from drawdigit.inference import ModelSource

ORGANISATION = "drawdigit"
APPLICATION = "drawdigit"
DEFAULT_SIZE = (940, 640)
MINIMUM_SIZE = (640, 500)
OPEN_FILTER = (
    "Drawings and images (*.json *.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;"
    "Drawings (*.json);;Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;"
    "All files (*)"
)


def settings() -> QSettings:
    """The app's settings (window geometry, last folder); organisation "drawdigit"."""
    return QSettings(ORGANISATION, APPLICATION)


def save_confirmed_samples() -> bool:
    """The "save confirmed samples" option: Enter on a right guess keeps it as a sample."""
    value = settings().value("samples/save_confirmed", False)
    return value in (True, "true", "1", 1)


class MainWindow(QMainWindow):
    """The app's one window. ``model_path`` forces a model file (else the one in use)."""

    firstShown = Signal()  # the window has painted for the first time
    recognitionShown = Signal(object)  # a RecognitionResult the panel now shows
    finetuneFinished = Signal(object)  # a FinetuneResult, before the user chooses

    def __init__(self, model_path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setMinimumSize(*MINIMUM_SIZE)
        self._path: Path | None = None  # the strokes file being edited
        self._source_name = ""  # the image shown, when it is one
        self._model_source: ModelSource | None = None
        self._model_state = "loading"  # "loading", "ready" or "failed"
        self._model_error = ""
        self._barrier_seq = 0
        self._last_result: RecognitionResult | None = None
        self._shown_once = False
        self._training_dialog: Any = None
        self._samples_dialog: Any = None
        self._finetune_runner: Any = None

        self.canvas = DrawingCanvas()
        self.panel = PredictionPanel()
        self.recognizer = Recognizer(model_path, self)
        self._build_actions()
        self._build_menus()
        self._build_central()
        self._build_status_bar()

        self.canvas.drawingChanged.connect(self._on_drawing_changed)
        self.canvas.firstPainted.connect(self._on_first_painted)
        stack = self.canvas.undo_stack
        stack.cleanChanged.connect(self._update_title)
        stack.indexChanged.connect(self._update_actions)
        self.recognizer.modelLoading.connect(self._on_model_loading)
        self.recognizer.modelReady.connect(self._on_model_ready)
        self.recognizer.modelFailed.connect(self._on_model_failed)
        self.recognizer.resultReady.connect(self._on_result)
        # A window deleted without being closed must still stop the thread first (Qt aborts
        # when a running QThread is destroyed); children still exist when this is emitted.
        self.destroyed.connect(self.recognizer.shutdown)

        self._update_title()
        self._update_actions()
        self._on_model_loading()
        self._restore_settings()

    # ------------------------------------------------------------------ construction

    def _action(
        self,
        text: str,
        slot: Any,
        shortcuts: list[QKeySequence | QKeySequence.StandardKey | str] = (),  # type: ignore[assignment]
        tip: str = "",
        icon: QIcon | None = None,
    ) -> QAction:
        action = QAction(text, self)
        keys: list[QKeySequence] = []
        for shortcut in shortcuts:
            if isinstance(shortcut, QKeySequence.StandardKey):
                keys.extend(QKeySequence.keyBindings(shortcut))
            else:
                keys.append(QKeySequence(shortcut))
        unique: list[QKeySequence] = []
        for key in keys:
            if not key.isEmpty() and key not in unique:
                unique.append(key)
        action.setShortcuts(unique)
        if tip:
            action.setStatusTip(tip)
            shortcut_text = (
                unique[0].toString(QKeySequence.SequenceFormat.NativeText) if unique else ""
            )
            action.setToolTip(f"{tip} ({shortcut_text})" if shortcut_text else tip)
        if icon is not None and not icon.isNull():
            action.setIcon(icon)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        theme = QIcon.ThemeIcon
        self.open_action = self._action(
            "&Open…",
            self.open_file_dialog,
            [std.Open],
            "Open a drawing or an image",
            QIcon.fromTheme(theme.DocumentOpen),
        )
        self.save_action = self._action(
            "&Save",
            self.save,
            [std.Save],
            "Save the drawing as a strokes file",
            QIcon.fromTheme(theme.DocumentSave),
        )
        self.save_as_action = self._action(
            "Save &As…",
            self.save_as_dialog,
            [std.SaveAs],
            "Save the drawing under a new name",
            QIcon.fromTheme(theme.DocumentSaveAs),
        )
        self.export_drawing_action = self._action(
            "&Export Drawing as PNG…",
            self.export_drawing_dialog,
            ["Ctrl+E"],
            "Save the drawing as a picture",
        )
        self.export_input_action = self._action(
            "Export &Model Input as PNG…",
            self.export_input_dialog,
            ["Ctrl+Shift+E"],
            "Save the 28×28 image the network sees",
        )
        self.quit_action = self._action("&Quit", self.close, [std.Quit, "Ctrl+Q"], "Quit drawdigit")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        self.undo_action = self._action(
            "&Undo", self.canvas.undo, [std.Undo], "Undo the last stroke", line_icon("undo")
        )
        self.redo_action = self._action(
            "&Redo", self.canvas.redo, [std.Redo, "Ctrl+Shift+Z"], "Redo", line_icon("redo")
        )
        self.eraser_action = self._action(
            "&Eraser",
            self.canvas.set_eraser_mode,
            ["E"],
            "Erase with the left button (the right button always erases)",
            line_icon("eraser"),
        )
        self.eraser_action.setCheckable(True)
        self.clear_action = self._action(
            "C&lear",
            self.canvas.clear,
            [std.Delete, "Esc", "Backspace"],
            "Clear the canvas",
            line_icon("clear"),
        )

        self.reload_model_action = self._action(
            "&Reload Model", self.reload_model, ["F5"], "Load the model in use again"
        )
        self.restore_model_action = self._action(
            "Restore &Bundled Model…",
            self.restore_bundled_model,
            [],
            "Go back to the model that came with drawdigit",
        )
        self.train_action = self._action(
            "&Train…", self.open_training_dialog, ["Ctrl+T"], "Train the network on MNIST"
        )
        self.samples_action = self._action(
            "My &Samples…", self.open_samples_dialog, [], "Your labelled drawings"
        )
        self.finetune_action = self._action(
            "&Fine-tune on My Samples",
            self.start_finetune,
            [],
            "Teach the model your handwriting (a few seconds)",
        )
        self.save_confirmed_action = self._action(
            "Save &Confirmed Drawings",
            self._set_save_confirmed,
            [],
            "Enter confirms a right guess; also keep it as a sample when this is on",
        )
        self.save_confirmed_action.setCheckable(True)
        self.save_confirmed_action.setChecked(save_confirmed_samples())
        # Correct: typing the right digit saves the drawing as a sample with that label.
        self.correct_actions = [
            self._action(
                f"Correct to {digit}", lambda _=False, d=digit: self.correct(d), [str(digit)], ""
            )
            for digit in range(10)
        ]
        self.confirm_action = self._action(
            "Confirm Guess", self.confirm, ["Return", "Enter"], "The guess is right"
        )
        self.about_action = self._action("&About drawdigit", self.show_about, [], "")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_qt_action = self._action("About &Qt", self._about_qt, [], "")
        self.about_qt_action.setMenuRole(QAction.MenuRole.AboutQtRole)

        self.canvas.undo_stack.undoTextChanged.connect(self._update_actions)
        self.canvas.undo_stack.redoTextChanged.connect(self._update_actions)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.samples_menu = QMenu("Open &Sample", self)
        self.samples_menu.aboutToShow.connect(self._fill_samples_menu)
        file_menu.addMenu(self.samples_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_drawing_action)
        file_menu.addAction(self.export_input_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.eraser_action)
        edit_menu.addAction(self.clear_action)

        model_menu = bar.addMenu("&Model")
        self.model_info_action = QAction("Model: loading…", self)
        self.model_info_action.setEnabled(False)
        model_menu.addAction(self.model_info_action)
        model_menu.addSeparator()
        model_menu.addAction(self.train_action)
        model_menu.addAction(self.reload_model_action)
        model_menu.addAction(self.restore_model_action)
        model_menu.addSeparator()
        model_menu.addAction(self.samples_action)
        model_menu.addAction(self.finetune_action)
        model_menu.addAction(self.save_confirmed_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)
        help_menu.addAction(self.about_qt_action)

    def _tool_button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setAutoRaise(False)
        return button

    def _build_central(self) -> None:
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(14, 12, 14, 8)
        layout.setSpacing(18)

        tools = QHBoxLayout()
        tools.setContentsMargins(0, 0, 0, 0)
        tools.setSpacing(6)
        for action in (self.undo_action, self.redo_action, self.eraser_action):
            tools.addWidget(self._tool_button(action))
        tools.addStretch(1)
        tools.addWidget(self._tool_button(self.clear_action))
        layout.addWidget(_Composition(self.canvas, tools, self.panel), 1)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        self.model_label = QLabel()
        self.model_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().setSizeGripEnabled(True)
        # Shown while "Fine-tune on My Samples" runs: how far it is, and a way out.
        self.finetune_bar = QProgressBar()
        self.finetune_bar.setRange(0, 100)
        self.finetune_bar.setFixedWidth(140)
        self.finetune_bar.setFormat("Fine-tuning %p%")
        self.finetune_bar.setToolTip("Fine-tuning on your samples")
        self.finetune_cancel = QToolButton()
        self.finetune_cancel.setText("Cancel")
        self.finetune_cancel.setToolTip("Stop fine-tuning; the model in use stays as it is")
        self.finetune_cancel.clicked.connect(self.cancel_finetune)
        for widget in (self.finetune_bar, self.finetune_cancel):
            self.statusBar().addWidget(widget)
            widget.hide()

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

    def start_recognition(self) -> None:
        """Start loading the model (done automatically once the window has painted)."""
        self.recognizer.start()

    # ------------------------------------------------------------------ recognition

    @Slot(object)
    def _on_drawing_changed(self, source: Any) -> None:
        empty = self.canvas.is_empty()
        seq = self.recognizer.submit(None if empty else source)
        if empty:
            self._barrier_seq = seq
            self._last_result = None
            self.panel.show_empty()
        self._update_actions()

    @Slot(object)
    def _on_result(self, result: RecognitionResult) -> None:
        if result.seq < self._barrier_seq or self.canvas.is_empty():
            return  # an answer to a drawing that has since been cleared
        if self._last_result is not None and result.seq < self._last_result.seq:
            return
        self._last_result = result
        self.panel.set_model_input(result.image28)
        if result.error:
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

    def _waiting_text(self) -> str:
        if self._model_state == "failed":
            return "No model loaded (see the status bar)"
        return "Loading model…"

    def last_result(self) -> RecognitionResult | None:
        """The answer the panel shows (None with an empty canvas)."""
        return self._last_result

    def model_ready(self) -> bool:
        return self._model_state == "ready"

    def model_source(self) -> ModelSource | None:
        return self._model_source

    @Slot()
    def _on_model_loading(self) -> None:
        self._model_state = "loading"
        self.model_label.setText("Model: loading…")
        self.model_info_action.setText("Model: loading…")
        if not self.canvas.is_empty() and (
            self._last_result is None or self._last_result.prediction is None
        ):
            self.panel.show_waiting("Loading model…")
        self._update_actions()

    @Slot(object, list)
    def _on_model_ready(self, source: ModelSource, warnings: list[str]) -> None:
        self._model_state = "ready"
        self._model_source = source
        text = f"Model: {source.describe()}"
        self.model_label.setText(text)
        self.model_label.setToolTip(str(source.path))
        self.model_info_action.setText(text)
        self._update_actions()
        if warnings:
            self._message(QMessageBox.Icon.Warning, "Model", "\n\n".join(warnings))

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self._model_state = "failed"
        self._model_error = message
        self._model_source = None
        self.model_label.setText("Model: none — recognition is off")
        self.model_label.setToolTip(message)
        self.model_info_action.setText("Model: none")
        self.statusBar().showMessage(f"Could not load the model: {message}")
        if not self.canvas.is_empty():
            self.panel.show_waiting(self._waiting_text())
        self._update_actions()

    @Slot()
    def reload_model(self) -> None:
        """Load the model in use again, e.g. after the training dialog activated a new one."""
        self._on_model_loading()  # at once: the worker's own notice comes a moment later
        self.recognizer.reload_model()

    # alias named in the design notes, for the training dialog
    set_predictor_source_changed = reload_model

    def restore_bundled_model(self, confirm: bool = True) -> None:
        """Stop using the user's retrained model (kept, renamed) and load the bundled one."""
        from drawdigit.store import set_aside_active_model

        if confirm:
            answer = QMessageBox.question(
                self,
                "Restore Bundled Model",
                "Use the model that came with drawdigit again?\n\n"
                "Your retrained model is not deleted: it is renamed and kept in your data "
                "folder.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        try:
            moved = set_aside_active_model()
        except OSError as exc:
            self._message(
                QMessageBox.Icon.Critical,
                "Restore Bundled Model",
                f"Could not move your model aside: {exc.strerror or exc}",
            )
            return
        if moved is not None:
            self.statusBar().showMessage(f"Your model was kept as {moved}", 10000)
        self.reload_model()

    def open_training_dialog(self) -> None:
        """Open the training dialog (``drawdigit.gui.training_dialog``)."""
        import importlib.util

        if importlib.util.find_spec("drawdigit.gui.training_dialog") is None:
            self._message(
                QMessageBox.Icon.Information, "Train", "Training is not available in this build."
            )
            return
        from drawdigit.gui.training_dialog import TrainingDialog

        if self._training_dialog is None:
            self._training_dialog = TrainingDialog(self)
            self._training_dialog.modelActivated.connect(self.reload_model)
            self.canvas.drawingChanged.connect(self._training_dialog.user_is_drawing)
        self._training_dialog.show()
        self._training_dialog.raise_()
        self._training_dialog.activateWindow()

    # ------------------------------------------------------------------ personal samples

    def correct(self, digit: int) -> bool:
        """Save the drawing on the canvas as a sample labelled ``digit`` (the true answer)."""
        return self._save_sample(digit, "Saved as a {digit} in your samples")

    def confirm(self) -> bool:
        """The guess is right: saved as a sample when "save confirmed samples" is on."""
        result = self._last_result
        if self.canvas.is_empty() or result is None or result.prediction is None:
            return False
        if not save_confirmed_samples():
            self.statusBar().showMessage(f"Confirmed: {result.prediction.digit}", 3000)
            return False
        return self._save_sample(result.prediction.digit, "Confirmed, saved as a {digit}")

    def _save_sample(self, digit: int, message: str) -> bool:
        from drawdigit.samples import SampleError, add_sample

        if self.canvas.is_empty():
            self.statusBar().showMessage("Draw a digit first, then type what it is", 4000)
            return False
        result = self._last_result
        try:
            if self.canvas.picture() is None:
                add_sample(digit, drawing=self.canvas.drawing())
            elif result is not None and result.image28 is not None:
                add_sample(digit, image28=result.image28)
            else:
                self.statusBar().showMessage("Wait for the answer, then type the digit", 4000)
                return False
        except (SampleError, OSError) as exc:
            self._message(QMessageBox.Icon.Warning, "Save Sample", f"Not saved: {exc}")
            return False
        self.statusBar().showMessage(message.format(digit=digit), 5000)
        if self._samples_dialog is not None:
            self._samples_dialog.refresh()
        return True

    def _set_save_confirmed(self, on: bool) -> None:
        settings().setValue("samples/save_confirmed", bool(on))

    def open_samples_dialog(self) -> None:
        from drawdigit.gui.samples_view import SamplesDialog

        if self._samples_dialog is None:
            self._samples_dialog = SamplesDialog(self)
        else:
            self._samples_dialog.refresh()
        self._samples_dialog.show()
        self._samples_dialog.raise_()
        self._samples_dialog.activateWindow()

    def start_finetune(self) -> None:
        """Fine-tune on the personal samples in a worker thread; then ask whether to use it."""
        from drawdigit.gui.samples_view import FinetuneRunner

        if self._finetune_runner is None:
            self._finetune_runner = FinetuneRunner(self)
            self._finetune_runner.progress.connect(self._on_finetune_progress)
            self._finetune_runner.finished.connect(self._on_finetune_done)
            self._finetune_runner.failed.connect(self._on_finetune_failed)
        if self._finetune_runner.running():
            return
        self.finetune_action.setEnabled(False)
        self.statusBar().clearMessage()
        self.finetune_bar.setRange(0, 0)  # busy until the first step is reported
        self.finetune_cancel.setEnabled(True)
        self.finetune_bar.show()
        self.finetune_cancel.show()
        self._finetune_runner.start()

    def cancel_finetune(self) -> None:
        """Stop a fine-tune run between steps; nothing is offered or saved."""
        if self._finetune_runner is not None and self._finetune_runner.running():
            self._finetune_runner.cancel()
            self.finetune_cancel.setEnabled(False)

    def _finetune_ended(self) -> None:
        self.finetune_action.setEnabled(True)
        self.finetune_bar.hide()
        self.finetune_cancel.hide()

    @Slot(object)
    def _on_finetune_progress(self, event: Any) -> None:
        self.finetune_bar.setRange(0, 100)
        self.finetune_bar.setValue(round(100 * event.fraction))

    @Slot(str)
    def _on_finetune_failed(self, message: str) -> None:
        self._finetune_ended()
        self._message(QMessageBox.Icon.Warning, "Fine-tune", f"Fine-tuning failed: {message}")

    @Slot(object)
    def _on_finetune_done(self, result: Any) -> None:
        self._finetune_ended()
        self.finetuneFinished.emit(result)
        if result.cancelled:
            self.statusBar().showMessage(
                "Fine-tuning cancelled. The model in use is unchanged.", 5000
            )
            return

        def pct(value: float | None, decimals: int = 1) -> str:
            return "—" if value is None else f"{value * 100:.{decimals}f}%"

        text = (
            f"Trained on {result.train_count} of your samples in {result.seconds:.1f} s.\n\n"
            f"Your held-out samples ({result.heldout_count}): "
            f"{pct(result.heldout_before)} → {pct(result.heldout_after)}\n"
            f"MNIST test: {pct(result.mnist_before, 2)} → {pct(result.mnist_after, 2)}"
        )
        box = QMessageBox(QMessageBox.Icon.Question, "Fine-tune", text, parent=self)
        if result.warnings:
            box.setInformativeText("\n".join(result.warnings[:8]))
        use = box.addButton("Use this model", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.RejectRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        use.clicked.connect(lambda _=False: self.use_finetuned(result))
        self._finetune_box = box
        box.open()

    def use_finetuned(self, result: Any) -> None:
        """Save fine-tuned weights as the active model and load them."""
        from datetime import datetime, timezone

        from drawdigit.store import active_model_path, save_checkpoint

        metadata = result.metadata()
        metadata["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            save_checkpoint(active_model_path(), result.state_dict, result.model_config, metadata)
        except OSError as exc:
            self._message(QMessageBox.Icon.Critical, "Fine-tune", f"Could not save: {exc}")
            return
        self.reload_model()

    # ------------------------------------------------------------------ files

    def _last_dir(self) -> str:
        value = settings().value("files/last_dir", "")
        return str(value) if value and Path(str(value)).is_dir() else str(Path.home())

    def _remember_dir(self, path: Path) -> None:
        settings().setValue("files/last_dir", str(path.parent))

    def open_file_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Open Drawing or Image", self._last_dir(), OPEN_FILTER
        )
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path | str) -> bool:
        """Show a strokes file or an image and classify it; a bad file gets a message box
        and changes nothing."""
        from drawdigit.preprocess import ImageError, load_image
        from drawdigit.strokes import StrokesError, load_drawing

        path = Path(path)
        drawing = None
        pixels = None
        try:
            if path.suffix.lower() == ".json":
                drawing = load_drawing(path)
            else:
                try:
                    pixels = load_image(path)
                except ImageError:
                    if not _looks_like_json(path):
                        raise
                    drawing = load_drawing(path)  # a strokes file without .json
            image = None if pixels is None else _gray_to_qimage(pixels)
        except (StrokesError, ImageError) as exc:
            self._open_failed(path, str(exc))
            return False
        except (OSError, ValueError) as exc:
            self._open_failed(path, f"{path}: {exc}")
            return False
        if drawing is not None:
            self.canvas.set_drawing(drawing)
            self._path = path
            self._source_name = ""
        else:
            assert image is not None
            self.canvas.set_picture(image, pixels, path.name)
            self._path = None
            self._source_name = path.name
        self.canvas.undo_stack.setClean()
        self._remember_dir(path)
        self._update_title()
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def _open_failed(self, path: Path, message: str) -> None:
        self._message(
            QMessageBox.Icon.Warning,
            "Cannot Open File",
            f"“{path.name}” could not be opened.",
            detail=f"{message}\n\ndrawdigit opens drawings saved as strokes files (.json) "
            "and images (PNG, JPEG, BMP…). The current drawing is unchanged.",
        )

    def _fill_samples_menu(self) -> None:
        self.samples_menu.clear()
        try:
            from drawdigit.store import resource_path

            folder = resource_path("samples")
            files = sorted(folder.glob("*.json"))
        except (FileNotFoundError, OSError):
            files = []
        if not files:
            empty = self.samples_menu.addAction("No samples found")
            empty.setEnabled(False)
            return
        for file in files:
            action = self.samples_menu.addAction(file.stem.replace("-", " ").capitalize())
            action.triggered.connect(lambda _checked=False, f=file: self._open_sample(f))

    def _open_sample(self, path: Path) -> None:
        if self.open_path(path):
            self._path = None  # never overwrite a bundled sample with Save
            self._update_title()

    def save(self) -> bool:
        if self._path is None:
            return self.save_as_dialog()
        return self.save_to(self._path)

    def save_as_dialog(self) -> bool:
        if self.canvas.picture() is not None:
            self._message(
                QMessageBox.Icon.Information,
                "Save",
                "An image is shown, not a drawing: use Export Drawing as PNG to save it.",
            )
            return False
        start = str(self._path) if self._path else str(Path(self._last_dir()) / "digit.json")
        name, _ = QFileDialog.getSaveFileName(self, "Save Drawing", start, "Drawings (*.json)")
        if not name:
            return False
        path = Path(name)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        return self.save_to(path)

    def save_to(self, path: Path | str) -> bool:
        """Write the drawing as a strokes file (atomically); errors get a message box."""
        from drawdigit.strokes import StrokesError, save_drawing

        path = Path(path)
        try:
            save_drawing(path, self.canvas.drawing())
        except (OSError, StrokesError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._message(
                QMessageBox.Icon.Critical, "Cannot Save", f"Could not save {path}.", detail=detail
            )
            return False
        self._path = path
        self._source_name = ""
        self.canvas.undo_stack.setClean()
        self._remember_dir(path)
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def export_drawing_dialog(self) -> None:
        name = self._ask_png_name("Export Drawing as PNG", "drawing.png")
        if name:
            self.export_drawing_png(name)

    def export_input_dialog(self) -> None:
        if self._last_result is None or self._last_result.image28 is None:
            self._message(QMessageBox.Icon.Information, "Export", "Draw a digit first.")
            return
        name = self._ask_png_name("Export Model Input as PNG", "model-input-28x28.png")
        if name:
            self.export_input_png(name)

    def _ask_png_name(self, title: str, default: str) -> Path | None:
        stem = self._path.stem + "-" if self._path else ""
        start = str(Path(self._last_dir()) / f"{stem}{default}")
        name, _ = QFileDialog.getSaveFileName(self, title, start, "PNG images (*.png)")
        if not name:
            return None
        path = Path(name)
        return path if path.suffix.lower() == ".png" else path.with_name(path.name + ".png")

    def export_drawing_png(self, path: Path | str) -> bool:
        """The paper at the drawing's own size (1 px per canvas px), dark ink on white."""
        return self._write_png(Path(path), self.canvas.render_document())

    def export_input_png(self, path: Path | str) -> bool:
        """The 28x28 network input as a 28x28 grayscale PNG (ink white, as MNIST)."""
        if self._last_result is None or self._last_result.image28 is None:
            return False
        return self._write_png(Path(path), image28_to_qimage(self._last_result.image28))

    def _write_png(self, path: Path, image: QImage) -> bool:
        from drawdigit.store import atomic_write_bytes

        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        ok = image.save(buffer, "PNG")
        buffer.close()
        try:
            if not ok:
                raise OSError("the image could not be encoded as PNG")
            atomic_write_bytes(path, bytes(data.data()))
        except OSError as exc:
            self._message(
                QMessageBox.Icon.Critical,
                "Cannot Export",
                f"Could not write {path}.",
                detail=exc.strerror or str(exc),
            )
            return False
        self._remember_dir(path)
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_path(event.mimeData().urls()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if _dropped_path(event.mimeData().urls()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_path(event.mimeData().urls())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(path)

    # ------------------------------------------------------------------ messages, title

    def _message(
        self, icon: QMessageBox.Icon, title: str, text: str, detail: str | None = None
    ) -> QMessageBox:
        """A window-modal, non-blocking message box (returns at once)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        if detail:
            box.setInformativeText(detail)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        return box

    def _live_stack(self) -> QUndoStack | None:
        """The canvas's undo stack, or None while Qt is tearing the window down (the stack
        announces its own destruction through the signals these slots listen to)."""
        if not (shiboken6.isValid(self.canvas) and shiboken6.isValid(self.canvas.undo_stack)):
            return None
        return self.canvas.undo_stack

    def _update_title(self) -> None:
        stack = self._live_stack()
        if stack is None:
            return
        if self._path is not None:
            name = self._path.name
        elif self._source_name:
            name = self._source_name
        else:
            name = "Untitled"
        self.setWindowTitle(f"{name}[*] — drawdigit")
        self.setWindowModified(not stack.isClean())

    def _update_actions(self) -> None:
        stack = self._live_stack()
        if stack is None:
            return
        self.undo_action.setEnabled(stack.canUndo())
        self.redo_action.setEnabled(stack.canRedo())
        # The tool row keeps short labels; what would be undone goes in the tooltips.
        undo_text, redo_text = stack.undoText(), stack.redoText()
        self.undo_action.setToolTip(f"Undo {undo_text.lower()} (Ctrl+Z)" if undo_text else "Undo")
        self.redo_action.setToolTip(
            f"Redo {redo_text.lower()} (Ctrl+Shift+Z)" if redo_text else "Redo"
        )
        has_ink = not self.canvas.is_empty()
        picture = self.canvas.picture() is not None
        self.clear_action.setEnabled(has_ink)
        self.save_action.setEnabled(has_ink and not picture)
        self.save_as_action.setEnabled(has_ink and not picture)
        self.export_drawing_action.setEnabled(has_ink)
        self.export_input_action.setEnabled(
            self._last_result is not None and self._last_result.image28 is not None
        )
        self.restore_model_action.setEnabled(
            self._model_source is not None and self._model_source.kind == "user"
        )
        self.reload_model_action.setEnabled(self._model_state != "loading")
        self._update_title()

    # ------------------------------------------------------------------ about

    def about_text(self) -> str:
        import platform

        import PySide6

        torch = sys.modules.get("torch")
        torch_version = getattr(torch, "__version__", "not loaded yet")
        if self._model_source is not None:
            source = self._model_source
            model = f"{source.describe()}<br><small>{_html(str(source.path))}</small>"
            created = source.metadata.get("created")
            if created:
                model += f"<br><small>created {_html(str(created))}</small>"
        elif self._model_state == "failed":
            model = f"none ({_html(self._model_error)})"
        else:
            model = "loading…"
        return (
            f"<h3>drawdigit {__version__}</h3>"
            "<p>Draw a digit and watch a small convolutional network, trained on MNIST, "
            "say what it is.</p>"
            f"<p><b>Model:</b> {model}</p>"
            f"<p><small>Python {platform.python_version()} · Qt {qVersion()} · "
            f"PySide6 {PySide6.__version__} · PyTorch {torch_version}</small></p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, "About drawdigit", self.about_text())

    def _about_qt(self) -> None:
        QMessageBox.aboutQt(self, "About Qt")

    # ------------------------------------------------------------------ settings, close

    def _restore_settings(self) -> None:
        geometry = settings().value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*DEFAULT_SIZE)

    def closeEvent(self, event: QCloseEvent) -> None:
        settings().setValue("window/geometry", self.saveGeometry())
        if self._training_dialog is not None:
            self._training_dialog.close()
        if self._finetune_runner is not None:
            self._finetune_runner.shutdown()
        self.recognizer.shutdown()
        super().closeEvent(event)


# ---------------------------------------------------------------------- helpers


class _Composition(QWidget):
    """The square paper with its tool row underneath (as wide as the paper, so the buttons
    line up with its edges) and the prediction panel beside it, centred together in the
    window. The paper takes what the window's height and width allow; the panel widens a
    little with it, so a maximised window reads as one picture rather than two islands."""

    SPACING = 8  # paper to tool row
    GAP = 24  # paper to panel

    def __init__(self, canvas: QWidget, tools: QHBoxLayout, panel: QWidget) -> None:
        super().__init__()
        self._column = QWidget(self)
        column = QVBoxLayout(self._column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(self.SPACING)
        column.addWidget(canvas, 1)
        column.addLayout(tools)
        self._tools = tools
        self._panel = panel
        panel.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _tools_height(self) -> int:
        return self._tools.sizeHint().height() + self.SPACING

    def sizeHint(self) -> QSize:
        side = 520
        return QSize(side + self.GAP + 280, side + self._tools_height())

    def minimumSizeHint(self) -> QSize:
        side = max(240, self._tools.minimumSize().width())
        panel = self._panel.minimumSizeHint()
        return QSize(
            side + self.GAP + max(panel.width(), self._panel.minimumWidth()),
            max(side + self._tools_height(), panel.height()),
        )

    def resizeEvent(self, event: Any) -> None:
        width, height = self.width(), self.height()
        tools_height = self._tools_height()
        panel_min = max(self._panel.minimumWidth(), 250)
        side = min(width - self.GAP - panel_min, height - tools_height)
        side = max(side, self._tools.minimumSize().width(), 1)
        panel_width = int(min(380, max(panel_min, side * 0.5)))
        panel_width = max(panel_min, min(panel_width, width - side - self.GAP))
        total = side + self.GAP + panel_width
        left = max(0, (width - total) // 2)
        top = max(0, (height - side - tools_height) // 2)
        self._column.setGeometry(left, top, side, side + tools_height)
        self._panel.setGeometry(left + side + self.GAP, top, panel_width, height - top)
        super().resizeEvent(event)


def _dropped_path(urls: list[QUrl]) -> Path | None:
    """The one local file being dragged, or None (several files, or not local)."""
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    return Path(urls[0].toLocalFile())


def _looks_like_json(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def _gray_to_qimage(pixels: Any) -> QImage:
    """A grayscale array (float [0, 1] or uint8) as an 8-bit QImage, for display."""
    import numpy as np

    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    a = np.ascontiguousarray(a)
    height, width = a.shape[:2]
    return QImage(a.tobytes(), width, height, width, QImage.Format.Format_Grayscale8).copy()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
