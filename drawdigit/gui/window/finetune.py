"""Fine-tune on My Samples from the main window: run, show progress, offer the result.

``FinetuneController`` runs ``finetune.finetune_on_my_samples`` on a ``workers.
GeneratorWorker`` (never on the GUI thread; torch is imported there, not here), shows a label,
progress bar and a Cancel button in the status bar while it runs, then offers the new model
in a window-modal box: "Use this model" saves it as the active model and asks the window to
reload; "Discard" keeps nothing. Cancel stops the run between steps and offers nothing.

Too few samples (one, or two of the same digit: one of each digit is kept aside to measure
the result) is no failure of the user's: instead of "Fine-tuning failed", a box says what
fine-tuning does, how to add samples, and that more samples help (``FEW_SAMPLES_TEXT``). A
single sample is told so before any thread starts.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QMessageBox,
    QProgressBar,
    QStatusBar,
    QToolButton,
    QWidget,
)

from drawdigit.formatting import percent
from drawdigit.gui.window.messages import show_message
from drawdigit.gui.workers import GeneratorWorker, WorkerControl

if TYPE_CHECKING:
    from drawdigit.finetune import FinetuneProgress, FinetuneResult


RUNNING_TEXT = "Fine-tuning on your samples…"

# Fewer samples than this cannot be fine-tuned on (two to learn from at the very least).
MIN_SAMPLES = 2
FEW_SAMPLES_TITLE = "Fine-tune: more samples needed"
FEW_SAMPLES_TEXT = (
    "Fine-tuning teaches the model your handwriting from the drawings in My Samples. It "
    "needs at least two to learn from, besides the one of each digit it keeps aside to "
    "measure the result. {have}"
)
FEW_SAMPLES_DETAIL = (
    "To add a sample, draw a digit and type the right digit (0–9), or click it under the "
    "answer. The more samples, the more it learns: five or more of each digit you write "
    "differently help most."
)


def _have_text(count: int) -> str:
    return "You have no samples yet." if count == 0 else f"You have {count}."


def _run_finetune(control: WorkerControl) -> FinetuneResult:
    """The work, in the worker's thread: progress goes out as the worker's ``yielded``
    (first, while torch loads, the label to show: see ``training_worker.load_torch``)."""
    from drawdigit.gui.training_worker import LOADING_TORCH, load_torch, torch_loaded

    if not torch_loaded():
        control.report(LOADING_TORCH)
        load_torch()
        control.report(RUNNING_TEXT)
    from drawdigit.finetune import finetune_on_my_samples

    return finetune_on_my_samples(
        progress=control.report, cancel=control.event, stage=control.report
    )


class FinetuneController(QObject):
    """Owns the fine-tune run, its status-bar widgets and the box that offers its model."""

    runningChanged = Signal(bool)  # True when a run starts, False when it has ended
    finished = Signal(object)  # a FinetuneResult of a run that completed, before the offer
    modelSaved = Signal()  # the fine-tuned model is now the active model: reload it

    def __init__(self, window: QWidget, status_bar: QStatusBar) -> None:
        super().__init__(window)
        self._window = window
        self._status_bar = status_bar
        self._worker: GeneratorWorker | None = None
        self._offer: QMessageBox | None = None
        self._last_progress: FinetuneProgress | None = None
        # Shown while a run is on: what runs, how far it is, and a way out.
        self.label = QLabel(RUNNING_TEXT)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(80)  # the model line beside it must still fit at 640 px
        self.bar.setFormat("%p%")
        self.bar.setAccessibleName("Fine-tuning on your samples")
        self.bar.setToolTip("Fine-tuning on your samples: a new model that you can then use")
        self.label.setBuddy(self.bar)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop fine-tuning; the model in use stays as it is")
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.label, self.bar, self.cancel_button):
            status_bar.addWidget(widget)
            widget.hide()

    # ------------------------------------------------------------------ public

    def is_running(self) -> bool:
        return self._worker is not None

    def last_progress(self) -> FinetuneProgress | None:
        """The last step reported by the current or last run (None before the first)."""
        return self._last_progress

    def offer(self) -> QMessageBox | None:
        """The open "Use this model / Discard" box, if one is showing."""
        return self._offer

    def start(self) -> None:
        """Fine-tune on the personal samples in a worker thread; then ask whether to use it."""
        if self._worker is not None:
            return
        from drawdigit.samples import count_samples

        have = count_samples()
        if have < MIN_SAMPLES:
            self._explain_few_samples(_have_text(have))
            return
        control = WorkerControl()
        worker = GeneratorWorker(_run_finetune, control, control=control, name="drawdigit-finetune")
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._last_progress = None
        self._status_bar.clearMessage()
        self.bar.setRange(0, 0)  # busy until the first step is reported
        self.label.setText(RUNNING_TEXT)
        self.cancel_button.setEnabled(True)
        self.label.show()
        self.bar.show()
        self.cancel_button.show()
        self.runningChanged.emit(True)
        worker.start()

    def cancel(self) -> None:
        """Stop the run between steps; nothing is offered or saved."""
        if self._worker is not None:
            self._worker.quit()
            self.cancel_button.setEnabled(False)

    def shutdown(self) -> None:
        """Stop a run and wait for its thread (the window is closing)."""
        if self._worker is not None:
            self._worker.stop()

    def use(self, result: FinetuneResult) -> bool:
        """Save fine-tuned weights as the active model; ``modelSaved`` asks for a reload."""
        from drawdigit.store import ModelFileError, activate_model

        try:
            head = result.head.to_head() if result.head is not None else None
            activate_model(result.state_dict, result.model_config, result.metadata(), head)
        except (OSError, ModelFileError) as exc:  # a full disk; weights that cannot answer
            show_message(
                self._window, QMessageBox.Icon.Critical, "Fine-tune", f"Could not save: {exc}"
            )
            return False
        self.modelSaved.emit()
        return True

    # ------------------------------------------------------------------ worker signals

    def _on_progress(self, event: FinetuneProgress | str) -> None:
        if isinstance(event, str):  # "Loading PyTorch…", then "Fine-tuning…"
            self.label.setText(event)
            return
        self._last_progress = event
        self.bar.setRange(0, 100)
        self.bar.setValue(round(100 * event.fraction))

    def _explain_few_samples(self, have: str) -> None:
        show_message(
            self._window,
            QMessageBox.Icon.Information,
            FEW_SAMPLES_TITLE,
            FEW_SAMPLES_TEXT.format(have=have),
            FEW_SAMPLES_DETAIL,
        )

    def _on_errored(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        # The worker has imported the module by now; the GUI thread never imports torch.
        finetune_module = sys.modules.get("drawdigit.finetune")
        error_class = getattr(finetune_module, "FinetuneError", None)
        if error_class is not None and isinstance(exc, error_class) and "samples" in message:
            from drawdigit.samples import count_samples

            self._explain_few_samples(
                f"You have {count_samples()}: too few once one of each digit is set aside."
            )
            return
        show_message(
            self._window, QMessageBox.Icon.Warning, "Fine-tune", f"Fine-tuning failed: {message}"
        )

    def _on_aborted(self) -> None:
        self._status_bar.showMessage("Fine-tuning cancelled. The model in use is unchanged.", 5000)

    def _on_finished(self) -> None:
        self._worker = None
        self.label.hide()
        self.bar.hide()
        self.cancel_button.hide()
        self.runningChanged.emit(False)

    def _on_returned(self, result: FinetuneResult) -> None:
        self.finished.emit(result)
        box = QMessageBox(
            QMessageBox.Icon.Question, "Fine-tune", _result_text(result), parent=self._window
        )
        if result.warnings:
            box.setInformativeText("\n".join(result.warnings[:8]))
        use = box.addButton("Use this model", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.RejectRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        use.clicked.connect(lambda _=False: self.use(result))
        box.finished.connect(self._forget_offer)
        self._offer = box
        box.open()

    def _forget_offer(self, _result: Any = None) -> None:
        self._offer = None


def _result_text(result: FinetuneResult) -> str:
    """Before and after, on the user's held-out samples and on MNIST's test set."""

    return (
        f"Trained on {result.train_count} of your samples in {result.seconds:.1f} s.\n\n"
        f"Your held-out samples ({result.heldout_count}): "
        f"{percent(result.heldout_before)} → {percent(result.heldout_after)}\n"
        f"MNIST test: {percent(result.mnist_before, 2)} → {percent(result.mnist_after, 2)}"
    )
