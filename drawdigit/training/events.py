"""What a run says as it goes, and how another thread pauses or cancels it.

The events are frozen dataclasses of plain values (numbers, numpy arrays, a CPU copy of the
weights at the end), safe to hand from the training thread to the GUI thread.
:class:`TrainControl` is checked by ``fit`` before every batch. No torch at import: the GUI
thread builds the control and reads the events.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drawdigit.training.config import TrainConfig

if TYPE_CHECKING:
    import numpy as np
    import torch

    from drawdigit.model import ModelConfig

# --------------------------------------------------------------------------- control


class TrainControl:
    """Pause, resume and cancel a run from another thread (a GUI, a signal handler).

    ``fit`` looks at it before every batch: while paused it blocks on a condition variable
    (no busy waiting, no progress events) until ``resume`` or ``cancel``.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._paused = False
        self._cancelled = False
        self._threads_limit: int | None = None

    def limit_threads(self, count: int | None) -> None:
        """From the next batch on, compute it in at most ``count`` shards (None: as many as
        the run has threads). The app lowers it while the user draws, so that training
        leaves a core to the canvas and live recognition, and raises it again afterwards."""
        self._threads_limit = count

    @property
    def threads_limit(self) -> int | None:
        return self._threads_limit

    def pause(self) -> None:
        with self._condition:
            self._paused = True

    def resume(self) -> None:
        with self._condition:
            self._paused = False
            self._condition.notify_all()

    def cancel(self) -> None:
        """Ask the run to stop; it ends within one batch. Also ends a pause."""
        with self._condition:
            self._cancelled = True
            self._condition.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused (at most ``timeout`` seconds); True unless cancelled."""
        with self._condition:
            self._condition.wait_for(lambda: not self._paused or self._cancelled, timeout)
            return not self._cancelled


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class TrainingStarted:
    """The run is set up and about to take its first step."""

    config: TrainConfig
    device: str
    threads: int
    train_images: int
    test_images: int
    batches: int  # per epoch
    precision: str = "fp32"  # what the run computes in ("auto" resolved)
    precision_reason: str = ""  # why, in words


@dataclass(frozen=True)
class BatchProgress:
    """After a batch. ``loss`` is smoothed over recent batches; ``accuracy`` is the running
    training accuracy of this epoch; times are seconds of training (pauses excluded).

    ``quick_test_accuracy`` is set on the events right after a quick estimate on a test
    subset (``quick_test_images`` of them), None on the others.
    """

    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch, 1-based
    batches: int  # per epoch
    loss: float
    accuracy: float
    images_per_second: float
    elapsed: float
    eta: float
    fraction: float  # of the whole run, 0..1
    lr: float
    batch_loss: float
    quick_test_accuracy: float | None = None
    quick_test_images: int = 0


@dataclass(frozen=True)
class EpochEnd:
    """After each epoch, with the accuracy on the whole test set."""

    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    test_accuracy: float
    test_loss: float
    elapsed: float  # since the run started
    seconds: float  # this epoch, its test evaluation included
    images_per_second: float  # training images of this epoch per second of training


@dataclass(frozen=True)
class EvalResult:
    """How a model does on a labelled set. ``confusion`` rows: true digit, columns: guess."""

    accuracy: float
    per_class: np.ndarray  # (10,) accuracy per true digit; 0 where a digit is absent
    confusion: np.ndarray  # (10, 10) int64
    predictions: np.ndarray  # (N,) int64
    confidences: np.ndarray  # (N,) float32, the probability given to the prediction
    loss: float  # mean cross-entropy

    @property
    def count(self) -> int:
        return int(self.confusion.sum())


@dataclass(frozen=True)
class TrainingDone:
    """The end of a run, finished or cancelled. ``state_dict`` is a CPU copy that shares
    nothing with the model that was trained, so it can cross threads and be kept.

    When cancelled, ``test_accuracy``/``test_loss``/``evaluation`` are None: a cancel ends
    the run at once instead of spending seconds on a test pass nobody asked for.
    """

    state_dict: dict[str, torch.Tensor]
    model_config: ModelConfig
    test_accuracy: float | None
    test_loss: float | None
    seconds: float
    config: TrainConfig
    cancelled: bool
    epochs_completed: int
    device: str
    evaluation: EvalResult | None = None
    history: tuple[EpochEnd, ...] = field(default_factory=tuple)
    precision: str = "fp32"  # what the training steps computed in ("auto" resolved)


TrainingEvent = TrainingStarted | BatchProgress | EpochEnd | TrainingDone
