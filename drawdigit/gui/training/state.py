"""The state of one training run, as a small model the dialog's views read.

Why a model: the worker's events, the buttons and the views all change or read the same
few facts (is a run going, is it paused, what were the last numbers, what did it produce).
Kept in one QObject with signals, as careamics-napari keeps its training status, each view
is a function of this state instead of reaching into the others.

Phases: ``idle`` → ``loading`` (reading data, preparing) → ``training`` ⇄ ``paused`` →
``cancelling`` → ``idle``, or ``training`` → ``done`` (an outcome to use or discard) or
``failed``. ``done``, ``failed`` and ``idle`` are the phases in which no run is going.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from PySide6.QtCore import QObject, Signal

from drawdigit.formatting import percent


class Phase(str, Enum):
    IDLE = "idle"
    LOADING = "loading"
    TRAINING = "training"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    DONE = "done"
    FAILED = "failed"


READY = "Ready to train."
ACTIVE = frozenset({Phase.LOADING, Phase.TRAINING, Phase.PAUSED, Phase.CANCELLING})


def fmt_time(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; a dash for no value."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def estimate_of(event: Any) -> float | None:
    """The quick test-subset accuracy a BatchProgress carries right after one was measured."""
    value = event.quick_test_accuracy
    return None if value is None else float(value)


class RunState(QObject):
    """One run's state. Fed by the dialog (from the worker's signals), read by the views.

    Signals: ``phaseChanged(str)`` (a :class:`Phase` value), ``statusChanged(str, bool)``
    (the status line and whether it is an error), ``runStarted(int)`` (epochs),
    ``batchProgress`` and ``epochEnded`` (the engine's events, as they come),
    ``outcomeChanged(object)`` (a ``RunReport`` or None) and ``runEnded(str)``
    ("done", "cancelled" or "error").
    """

    phaseChanged = Signal(str)
    statusChanged = Signal(str, bool)
    runStarted = Signal(int)
    batchProgress = Signal(object)
    epochEnded = Signal(object)
    outcomeChanged = Signal(object)
    runEnded = Signal(str)
    preparingChanged = Signal(bool)  # getting ready ahead of Start (loading PyTorch…)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._phase = Phase.IDLE
        self._status = (READY, False)
        self._outcome: Any = None
        self._summary = ""
        self._preparing = False
        self._preparing_text = ""
        self.run_info: Any = None  # the run's TrainingStarted (device, threads, sizes)
        self.last_batch: Any = None  # the latest BatchProgress
        self.last_epoch: Any = None  # the latest EpochEnd
        self.last_estimate: float | None = None  # the latest quick test accuracy
        self.estimate_images = 0  # how many test images that estimate used
        self.batch_events = 0  # counters, for tests and benchmarks
        self.epoch_events = 0

    # ------------------------------------------------------------------ reading

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def active(self) -> bool:
        """A run is going: from Start until its result, cancel or error."""
        return self._phase in ACTIVE

    @property
    def paused(self) -> bool:
        return self._phase is Phase.PAUSED

    @property
    def cancelling(self) -> bool:
        return self._phase is Phase.CANCELLING

    @property
    def outcome(self) -> Any:
        """The finished run's ``RunReport`` until it is used or discarded."""
        return self._outcome

    @property
    def preparing(self) -> bool:
        """Getting the next run ready in the background (torch, MNIST), no run going."""
        return self._preparing

    @property
    def showing_preparation(self) -> bool:
        """Preparing, and nothing else (a run, a result, an error) is on show."""
        return self._preparing and self._phase is Phase.IDLE and self._outcome is None

    @property
    def status(self) -> str:
        return self._status[0]

    @property
    def status_is_error(self) -> bool:
        return self._status[1]

    # ------------------------------------------------------------------ changing

    def set_status(self, text: str, error: bool = False) -> None:
        self._status = (text, error)
        self.statusChanged.emit(text, error)

    def _set_phase(self, phase: Phase) -> None:
        if phase is not self._phase:
            self._phase = phase
            self.phaseChanged.emit(phase.value)

    def prepare(self, text: str | None, error: bool = False) -> None:
        """What is being got ready ahead of Start (``None``: all done). Shown in the status
        line only while no run is going and no result or error is on show."""
        preparing = text is not None and not error
        if preparing != self._preparing:
            self._preparing = preparing
            self.preparingChanged.emit(preparing)
        if self._phase is not Phase.IDLE or self._outcome is not None:
            return
        if text is not None:
            self._preparing_text = text
            self.set_status(text, error)
        elif self._status == (self._preparing_text, False):
            self.set_status(READY)

    def begin(self, epochs: int) -> None:
        """Start pressed: forget the last run, its numbers and its outcome."""
        self.run_info = self.last_batch = self.last_epoch = self.last_estimate = None
        self.estimate_images = 0
        self.batch_events = self.epoch_events = 0
        self._summary = ""
        self.set_outcome(None)
        self._set_phase(Phase.LOADING)
        self.set_status("Starting…")
        self.runStarted.emit(epochs)

    def stage(self, text: str) -> None:
        """What the worker does now (its ``Stage``); not shown over "Paused"."""
        if self._phase in (Phase.PAUSED, Phase.CANCELLING):
            return
        if text == "Training…" and self._summary:
            text = f"Training {self._summary}…"
        self.set_status(text)

    def training_started(self, event: Any) -> None:
        """``training.TrainingStarted``: name the run in the status line."""
        self.run_info = event
        threads = f", {event.threads} thread{'s' if event.threads != 1 else ''}"
        where = "the CPU" + threads if event.device == "cpu" else event.device.upper()
        self._summary = (
            f"on {event.train_images:,} images, {event.batches:,} batches per epoch, on {where}"
        )
        if self._phase is Phase.LOADING:
            self._set_phase(Phase.TRAINING)
        if self._phase is Phase.TRAINING:
            self.set_status(f"Training {self._summary}…")

    def batch(self, event: Any) -> None:
        self.batch_events += 1
        self.last_batch = event
        estimate = estimate_of(event)
        if estimate is not None:
            self.last_estimate = estimate
            self.estimate_images = event.quick_test_images
        self.batchProgress.emit(event)

    def epoch(self, event: Any) -> None:
        self.epoch_events += 1
        self.last_epoch = event
        self.epochEnded.emit(event)

    def set_paused(self, paused: bool) -> None:
        if paused and self._phase in (Phase.LOADING, Phase.TRAINING):
            self._set_phase(Phase.PAUSED)
            self.set_status("Paused. Resume carries on where it stopped.")
        elif not paused and self._phase is Phase.PAUSED:
            self._set_phase(Phase.TRAINING)
            self.set_status(f"Training {self._summary}…" if self._summary else "Training…")

    def cancel_requested(self) -> None:
        if self.active:
            self._set_phase(Phase.CANCELLING)
            self.set_status("Cancelling…")

    def succeeded(self, outcome: Any) -> None:
        self.set_outcome(outcome)
        self._set_phase(Phase.DONE)
        self.set_status(
            f"Done: test accuracy {percent(outcome.test_accuracy, 2)} after "
            f"{fmt_time(outcome.done.seconds)}. Use this model, or discard it."
        )
        self.runEnded.emit("done")

    def cancelled(self, why: str = "") -> None:
        self._set_phase(Phase.IDLE)
        self.set_status(f"Cancelled{why}. The model in use is unchanged.")
        self.runEnded.emit("cancelled")

    def failed(self, message: str) -> None:
        self._set_phase(Phase.FAILED)
        self.set_status(message + " The model in use is unchanged.", error=True)
        self.runEnded.emit("error")

    def set_outcome(self, outcome: Any) -> None:
        """A new outcome (a run succeeded) or None (it was used, discarded or replaced)."""
        if outcome is None and self._outcome is None:
            return
        self._outcome = outcome
        if outcome is None and self._phase is Phase.DONE:
            self._set_phase(Phase.IDLE)
        self.outcomeChanged.emit(outcome)
