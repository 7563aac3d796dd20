"""The training engine: a loop over MNIST held as tensors that yields progress events.

``fit`` is a generator so that one loop serves every front end alike: the CLI's progress
bar, the training dialog's worker thread (which re-emits the events as Qt signals), tests
and benchmarks. It never prints and never touches Qt. Pause and cancel arrive through a
thread-safe :class:`TrainControl` and are honoured between batches.

Speed matters here (the seed recipe must run well under half the Keras notebook's 25 s per
epoch on a 2-core CPU), so the loop avoids the usual costs of a small CNN on a CPU
(benchmarks/bench_training.py measures each one):

- the data lives in uint8 tensors, shuffled per epoch by one seeded ``randperm`` and
  sliced by index: no DataLoader, no per-sample Python work;
- the model runs in ``channels_last`` layout, which oneDNN's convolutions prefer;
- ReLU is applied *after* max-pooling (see :func:`_fast_forward`): the same numbers, bit
  for bit, on a 4x smaller tensor;
- glibc is told to keep freed memory for reuse during a run (:func:`_reuse_freed_memory`):
  otherwise every multi-megabyte activation is a fresh ``mmap`` whose pages fault in one
  by one, which cost a quarter of each step on this machine;
- several CPU threads work on shards of each batch side by side, one torch thread each,
  instead of torch's intra-op threads (see :class:`_Workers`): they scale better on small
  batches and, unlike OpenMP teams, do not collapse when another program wants a core.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import platform
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from copy import deepcopy
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drawdigit.model import DigitNet, ModelConfig
from drawdigit.store import Checkpoint, save_checkpoint

OPTIMIZERS = ("rmsprop", "adam")
SCHEDULES = ("constant", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Keras' RMSprop defaults, which the seed notebook used through ``optimizer='rmsprop'``.
KERAS_RMSPROP_RHO = 0.9
KERAS_RMSPROP_EPSILON = 1e-7

# Smoothing of the per-batch loss shown in progress events (about a 50-batch window).
LOSS_SMOOTHING = 0.98

# Quick test estimates wait at least this many times their own cost: <= ~5% of the run.
QUICK_EVAL_SHARE = 20.0

# Test images per forward pass when evaluating. Larger batches are no faster here, but
# they cost memory: each image in flight holds ~130 KB of activations, and glibc keeps each
# thread's arena at its peak. Measured peak RSS of a run: +370 MB at 1,000, +160 MB at 125.
EVAL_BATCH = 125


class TrainingError(ValueError):
    """A training run cannot start: bad settings, unusable data or starting weights."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; saved with the weights as their recipe.

    ``lr`` is the peak learning rate with the ``onecycle`` schedule. ``seed`` fixes the
    initial weights, the shuffling and the augmentation: the same seed on the same device
    with the same thread count gives the same losses, bit for bit (sums over shards are
    ordered; ``TrainControl.limit_threads`` changing the shards mid-run changes the last
    bits). ``threads`` is how many CPU threads the run uses (``None``: torch's current
    count); on the CPU each batch is cut into that many shards computed side by side (see
    ``_Workers``). ``quick_eval_seconds``
    is how often, in seconds of training, a quick test accuracy on ``quick_eval_size`` test
    images is attached to a :class:`BatchProgress` (0 turns it off). ``progress_every``
    thins out progress events (on a GPU every event costs a device synchronisation).
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "rmsprop"
    schedule: str = "constant"
    augment: bool = False
    from_scratch: bool = True
    seed: int = 0
    threads: int | None = None
    device: str = "auto"
    quick_eval_seconds: float = 2.0
    quick_eval_size: int = 1000
    progress_every: int = 1

    def __post_init__(self) -> None:
        problems = []
        if not _is_int(self.epochs) or self.epochs < 1:
            problems.append(f"epochs must be a whole number >= 1, not {self.epochs!r}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            problems.append(f"batch_size must be a whole number >= 1, not {self.batch_size!r}")
        if not isinstance(self.lr, (int, float)) or not (0 < self.lr < 10):
            problems.append(f"lr must be a number between 0 and 10, not {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {DEVICES}, not {self.device!r}")
        if self.threads is not None and (not _is_int(self.threads) or self.threads < 1):
            problems.append(f"threads must be None or a whole number >= 1, not {self.threads!r}")
        if not _is_int(self.seed) or self.seed < 0:
            problems.append(f"seed must be a whole number >= 0, not {self.seed!r}")
        if not isinstance(self.quick_eval_seconds, (int, float)) or self.quick_eval_seconds < 0:
            problems.append(f"quick_eval_seconds must be >= 0, not {self.quick_eval_seconds!r}")
        if not _is_int(self.quick_eval_size) or self.quick_eval_size < 0:
            problems.append(
                f"quick_eval_size must be a whole number >= 0, not {self.quick_eval_size!r}"
            )
        if not _is_int(self.progress_every) or self.progress_every < 1:
            problems.append(
                f"progress_every must be a whole number >= 1, not {self.progress_every!r}"
            )
        if problems:
            raise TrainingError("invalid training settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild from ``to_dict()`` output (e.g. a saved recipe); unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TrainingError(f"unknown training settings: {sorted(unknown)}")
        return cls(**dict(data))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


PRESETS: dict[str, TrainConfig] = {
    # The seed notebook: Keras RMSprop defaults, batch 64, 5 epochs, no augmentation.
    "seed": TrainConfig(
        epochs=5, batch_size=64, lr=1e-3, optimizer="rmsprop", schedule="constant", augment=False
    ),
    # 99.0% MNIST test accuracy soonest from scratch on a 2-core CPU: big batches are
    # cheaper per image, and one learning-rate cycle gets there in two epochs.
    "fast": TrainConfig(
        epochs=2, batch_size=128, lr=4e-3, optimizer="adam", schedule="onecycle", augment=False
    ),
    # The bundled weights: augmentation for digits people draw, more epochs to make up for it.
    # 15 epochs at 3e-3 (UNIPEN unflagged 98.00% / 98.15% with seeds 0 / 1) beat 10 at 2e-3
    # (97.87%) once the writing styles were stronger (augment.DEFAULT_AUGMENT).
    "best": TrainConfig(
        epochs=15, batch_size=128, lr=3e-3, optimizer="adam", schedule="onecycle", augment=True
    ),
}


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


TrainingEvent = TrainingStarted | BatchProgress | EpochEnd | TrainingDone


# --------------------------------------------------------------------------- optimizer


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop exactly as Keras (and TensorFlow's ApplyRMSProp) compute it.

    ``v = rho * v + (1 - rho) * g**2;  w -= lr * g / sqrt(v + eps)``. PyTorch's own
    ``RMSprop`` adds eps *outside* the root (``sqrt(v) + eps``); with Keras' eps = 1e-7 the
    two differ wherever gradients are small, so the seed recipe uses this one.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        rho: float = KERAS_RMSPROP_RHO,
        eps: float = KERAS_RMSPROP_EPSILON,
    ) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            squares = []
            for p in params:
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                squares.append(state["square_avg"])
            rho, eps, lr = group["rho"], group["eps"], group["lr"]
            torch._foreach_mul_(squares, rho)
            torch._foreach_addcmul_(squares, grads, grads, value=1.0 - rho)
            denominators = torch._foreach_add(squares, eps)
            torch._foreach_sqrt_(denominators)
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
        return loss


def make_optimizer(
    config: TrainConfig, model: nn.Module, steps: int
) -> tuple[torch.optim.Optimizer, Any]:
    """The optimizer and (or None) the per-batch learning-rate scheduler for ``config``."""
    params = list(model.parameters())
    if config.optimizer == "rmsprop":
        optimizer: torch.optim.Optimizer = KerasRMSprop(params, lr=config.lr)
    else:
        optimizer = torch.optim.Adam(params, lr=config.lr)
    scheduler = None
    if config.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=max(steps, 2),
            pct_start=0.25,
            cycle_momentum=config.optimizer == "adam",
        )
    return optimizer, scheduler


# --------------------------------------------------------------------------- model helpers


def _fast_forward(model: DigitNet, x: torch.Tensor) -> torch.Tensor:
    """``DigitNet.forward`` with each ReLU moved after its max-pool.

    max(relu(a), relu(b)) == relu(max(a, b)) exactly, and the gradients agree too (a pooled
    value <= 0 gets no gradient either way), so this is the same function, bit for bit,
    while the ReLU and its backward pass touch a 4x smaller tensor.
    """
    x = F.relu(F.max_pool2d(model.conv1(x), 2))
    x = F.relu(F.max_pool2d(model.conv2(x), 2))
    x = F.relu(model.conv3(x))
    x = F.relu(model.fc1(torch.flatten(x, 1)))
    return model.fc2(x)


def forward_for(model: nn.Module, sample: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The fastest forward function that gives exactly ``model(x)``.

    The reordered forward is used only for a plain ``DigitNet`` and only after checking on
    ``sample`` that it agrees bit for bit, so a changed model can never be trained wrongly.
    """
    if type(model) is DigitNet and sample.shape[0] > 0:
        with torch.no_grad():
            if torch.equal(_fast_forward(model, sample), model(sample)):
                return lambda x: _fast_forward(model, x)  # type: ignore[arg-type]
    return model


def copy_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights, in the ordinary contiguous layout, sharing no memory."""
    return {
        name: tensor.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for name, tensor in model.state_dict().items()
    }


def resolve_device(name: str) -> torch.device:
    """The device to train on: for "auto" CUDA, else Apple's MPS, else the CPU.

    Asking for a device that is not there is an error rather than a silent CPU run.
    """
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise TrainingError("device 'cuda' was asked for, but torch sees no CUDA GPU here")
    if name == "mps" and not mps:
        raise TrainingError("device 'mps' was asked for, but torch sees no Apple MPS GPU here")
    if name not in DEVICES:
        raise TrainingError(f"device must be one of {DEVICES}, not {name!r}")
    return torch.device(name)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _Tensors:
    """A labelled set on the training device: uint8 images (N, 1, 28, 28), int64 labels."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _as_tensors(images: Any, labels: Any, what: str, device: torch.device) -> _Tensors:
    """Check a set's arrays and move them to ``device`` once, as uint8 (4x less than floats;
    each batch is converted to floats as it is used, which costs next to nothing)."""
    images_np = np.asarray(images)
    labels_np = np.asarray(labels)
    if images_np.ndim != 3 or images_np.shape[1:] != (28, 28):
        raise TrainingError(f"{what} images must have shape (N, 28, 28), not {images_np.shape}")
    if images_np.dtype != np.uint8:
        raise TrainingError(f"{what} images must be uint8 (0-255), not {images_np.dtype}")
    if labels_np.shape != (images_np.shape[0],):
        raise TrainingError(
            f"{what} labels must have shape ({images_np.shape[0]},), not {labels_np.shape}"
        )
    if labels_np.size and (labels_np.min() < 0 or labels_np.max() > 9):
        raise TrainingError(f"{what} labels must be digits 0-9")
    x = torch.from_numpy(np.array(images_np, dtype=np.uint8, copy=True)).unsqueeze(1)
    y = torch.from_numpy(labels_np.astype(np.int64))
    return _Tensors(x.to(device), y.to(device))


def _to_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) -> float32 in [0, 1], channels_last like the model's weights."""
    return batch.to(torch.float32).div_(255.0).contiguous(memory_format=torch.channels_last)


# --------------------------------------------------------------------------- evaluation


def _evaluate_chunk(
    forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed loss, predictions and their probabilities for one chunk (any thread)."""
    with torch.inference_mode():
        logits = forward(_to_input(images)).float()
        loss = F.cross_entropy(logits, labels, reduction="sum").double()
        confidence, prediction = torch.softmax(logits, dim=1).max(dim=1)
    return loss, prediction, confidence


def _evaluate_tensors(
    forward: Callable[[torch.Tensor], torch.Tensor],
    data: _Tensors,
    batch_size: int,
    workers: _Workers,
    control: TrainControl | None = None,
) -> EvalResult | None:
    """Evaluate on a device-resident set, ``workers.count`` chunks at a time; None if
    ``control`` cancels in between."""
    n = len(data)
    size = max(1, min(batch_size, math.ceil(n / workers.count)))  # small sets: all workers
    chunks = [slice(start, start + size) for start in range(0, n, size)]
    results = []
    for first in range(0, len(chunks), workers.count):
        if control is not None and control.cancelled:
            return None
        group = chunks[first : first + workers.count]
        results += workers.map(
            lambda c: _evaluate_chunk(forward, data.images[c], data.labels[c]), group
        )
    if results:
        loss_sum = float(torch.stack([r[0] for r in results]).sum().item())
        pred = torch.cat([r[1] for r in results]).cpu().numpy().astype(np.int64)
        conf = torch.cat([r[2] for r in results]).cpu().numpy().astype(np.float32)
    else:
        loss_sum, pred, conf = 0.0, np.zeros(0, np.int64), np.zeros(0, np.float32)
    labels = data.labels.cpu().numpy()
    confusion = np.bincount(labels * 10 + pred, minlength=100).reshape(10, 10).astype(np.int64)
    totals = confusion.sum(axis=1)
    per_class = np.divide(
        np.diag(confusion), totals, out=np.zeros(10, np.float64), where=totals > 0
    )
    return EvalResult(
        accuracy=float((pred == labels).mean()) if n else 0.0,
        per_class=per_class,
        confusion=confusion,
        predictions=pred,
        confidences=conf,
        loss=loss_sum / n if n else 0.0,
    )


def evaluate(
    model: nn.Module,
    images: Any,
    labels: Any,
    batch_size: int = EVAL_BATCH,
    threads: int | None = None,
) -> EvalResult:
    """Accuracy, per-digit accuracy, confusion matrix and predictions of ``model``.

    ``images``: uint8 (N, 28, 28) as MNIST stores them; ``labels``: (N,) digits. Runs in
    inference mode on the model's device, ``batch_size`` images at a time, on ``threads``
    CPU threads (default: torch's count). ``model`` itself is left as it was.
    """
    if batch_size < 1:
        raise TrainingError(f"batch_size must be >= 1, not {batch_size}")
    device = next(model.parameters()).device
    data = _as_tensors(images, labels, "evaluation", device)
    # A private copy in the layout the fast path wants; the caller's model is not touched.
    copy = deepcopy(model).to(memory_format=torch.channels_last).eval()
    forward = forward_for(copy, _to_input(data.images[:2]))
    with _Workers.for_run(threads, batch_size, device) as workers, _reuse_freed_memory():
        result = _evaluate_tensors(forward, data, batch_size, workers)
    assert result is not None  # no control, no cancel
    return result


def accuracy(
    model: nn.Module,
    images: Any,
    labels: Any,
    check_cancel: Callable[[], None] | None = None,
    chunk: int = 1000,
) -> float | None:
    """Plain accuracy of ``model`` (None for an empty set), ``chunk`` images at a time.

    ``images``: uint8 (N, 28, 28) as MNIST stores them, or floats in [0, 1] as
    ``preprocess`` makes them. ``check_cancel`` is called before every chunk and may raise,
    so that a cancel is never kept waiting. The model is used in the mode it is in (build
    it with ``Checkpoint.build_model``, which is in eval mode). Simple on purpose: the
    comparisons it serves (the model in use, kept-aside samples) need no confusion matrix;
    :func:`evaluate` is the fast path with everything.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return None
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(labels), chunk):
            if check_cancel is not None:
                check_cancel()
            part = images[start : start + chunk].reshape(-1, 1, 28, 28)
            x = torch.from_numpy(np.ascontiguousarray(part)).to(torch.float32)
            if scale != 1.0:
                x = x.div_(scale)
            guesses = model(x).argmax(1).numpy()
            correct += int((guesses == labels[start : start + chunk]).sum())
    return correct / len(labels)


# --------------------------------------------------------------------------- threads


# Fewer images than this per shard, and a shard's fixed costs outweigh the extra core.
MIN_SHARD = 16


class _Workers:
    """Threads that each compute one shard of every batch, with few torch threads apiece.

    Why not just torch's intra-op threads: for this small network they scale poorly (every
    one of the ~40 small operations of a step is a parallel region ending in a barrier where
    finished threads spin), and they collapse as soon as anything else wants a core, since
    every barrier then waits for the one thread the scheduler has put aside: measured here
    under load, 215 images/s for 2 torch threads against 1,514 for 2 shard threads. Shards
    do not wait for each other until the step's end (torch ops release the GIL), so they
    use whatever CPU time they get. On a GPU there is one shard: the device is the worker.
    """

    def __init__(self, count: int, per_worker: int) -> None:
        self.count = count
        self.per_worker = per_worker
        self.pool = None
        if count > 1:
            self.pool = ThreadPoolExecutor(
                count - 1,
                thread_name_prefix="drawdigit-train",
                initializer=torch.set_num_threads,
                initargs=(per_worker,),
            )

    @classmethod
    @contextlib.contextmanager
    def for_run(
        cls, threads: int | None, batch_size: int, device: torch.device
    ) -> Iterator[_Workers]:
        """Workers for ``threads`` CPU threads in all (None: torch's count), as many shard
        threads as batches of ``batch_size`` can use; the caller's thread is one of them."""
        total = threads or torch.get_num_threads()
        count = 1
        if device.type == "cpu":
            count = max(1, min(total, batch_size // MIN_SHARD))
        per_worker = max(1, total // count)
        previous = torch.get_num_threads()
        torch.set_num_threads(per_worker)
        workers = cls(count, per_worker)
        try:
            yield workers
        finally:
            if workers.pool is not None:
                workers.pool.shutdown(wait=True)
            torch.set_num_threads(previous)

    @property
    def threads(self) -> int:
        return self.count * self.per_worker

    def shards(self, n: int, limit: int | None = None) -> list[slice]:
        """``n`` items cut into at most ``count`` (and ``limit``) near-equal contiguous
        shards."""
        k = max(1, min(self.count, limit or self.count, n // MIN_SHARD))
        bounds = [round(i * n / k) for i in range(k + 1)]
        return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]

    def map(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``[function(item) for item in items]``, the first in this thread, the rest in
        the pool, results in order (so that sums over them are reproducible)."""
        if self.pool is None or len(items) == 1:
            return [function(item) for item in items]
        futures = [self.pool.submit(function, item) for item in items[1:]]
        try:
            first = function(items[0])
        finally:
            wait(futures)
        return [first] + [future.result() for future in futures]


# --------------------------------------------------------------------------- environment


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
_KEEP_THRESHOLD = 1 << 30
_memory_lock = threading.Lock()
_memory_users = 0


def _glibc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextlib.contextmanager
def _reuse_freed_memory() -> Iterator[None]:
    """Let glibc keep freed blocks for reuse while training runs (Linux only).

    By default glibc serves every block over ~128 KiB-32 MiB with a fresh ``mmap`` and
    unmaps it on free, so each step's multi-megabyte activations and gradients arrive as
    new pages that fault in one at a time: ~2,400 page faults and 7 ms of kernel time per
    batch-64 step here, a quarter of the step. Raising the thresholds for the run keeps
    that memory mapped and reused; afterwards the defaults come back and the surplus is
    returned to the system. Process-wide, hence counted so overlapping runs nest.
    """
    global _memory_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _memory_lock:
        _memory_users += 1
        if _memory_users == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_THRESHOLD)
    try:
        yield
    finally:
        with _memory_lock:
            _memory_users -= 1
            if _memory_users == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
                libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
                libc.malloc_trim(0)


def _seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for initial weights, shuffling and augmentation."""
    a, b, c = np.random.SeedSequence(seed).generate_state(3)
    return int(a), int(b), int(c)


def build_model(
    config: TrainConfig, initial: Checkpoint | None, seed: int
) -> tuple[DigitNet, ModelConfig]:
    """A fresh seeded network, or one holding a copy of ``initial``'s weights."""
    if not config.from_scratch and initial is None:
        raise TrainingError("from_scratch=False needs starting weights, but none were given")
    model_config = initial.config if initial is not None else ModelConfig()
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        model = DigitNet(model_config)
    if not config.from_scratch:
        assert initial is not None
        try:
            model.load_state_dict(initial.state_dict)  # copies: the given tensors stay as they are
        except RuntimeError as exc:
            raise TrainingError(f"the starting weights do not fit the model: {exc}") from exc
    return model, model_config


# --------------------------------------------------------------------------- the loop


class _Clock:
    """Seconds of training: wall time minus the time spent paused."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused


def _proceed(control: TrainControl | None, clock: _Clock) -> bool:
    """Between batches: wait out a pause (not counted as training time); False on cancel."""
    if control is None:
        return True
    if control.paused and not control.cancelled:
        began = time.perf_counter()
        control.wait_while_paused()
        clock.paused += time.perf_counter() - began
    return not control.cancelled


def fit(
    config: TrainConfig,
    data: Any,
    initial: Checkpoint | None = None,
    control: TrainControl | None = None,
) -> Iterator[TrainingEvent]:
    """Train a network on ``data`` (a ``drawdigit.mnist.MnistData``), yielding events.

    Events, in order: one :class:`TrainingStarted`; per batch a :class:`BatchProgress`
    (every ``config.progress_every`` batches and at each epoch's last); per epoch an
    :class:`EpochEnd` with the full test accuracy; last, always, one :class:`TrainingDone`
    -- with ``cancelled=True`` if ``control`` cancelled the run, which happens before the
    next batch starts. Iterate it from one thread: torch's thread count is set for the
    thread that runs the loop, and put back when the generator ends or is closed.

    Raises :class:`TrainingError` before the first event for bad settings or data.
    """
    device = resolve_device(config.device)
    train = _as_tensors(data.train_images, data.train_labels, "training", device)
    test = _as_tensors(data.test_images, data.test_labels, "test", device)
    if len(train) == 0:
        raise TrainingError("there are no training images")
    init_seed, shuffle_seed, augment_seed = _seeds(config.seed)
    model, model_config = build_model(config, initial, init_seed)
    augment = None
    if config.augment:
        from drawdigit.augment import augment_batch as augment  # lazy: only when asked for

    workers_for = _Workers.for_run(config.threads, config.batch_size, device)
    with workers_for as workers, _reuse_freed_memory():
        clock = _Clock()
        model = model.to(device=device, memory_format=torch.channels_last)
        model.train()
        params = list(model.parameters())
        forward = forward_for(model, _to_input(train.images[:2]))
        batches = math.ceil(len(train) / config.batch_size)
        total = batches * config.epochs
        optimizer, scheduler = make_optimizer(config, model, total)
        shuffle = torch.Generator().manual_seed(shuffle_seed)
        augment_generator = torch.Generator(device=device).manual_seed(augment_seed)
        quick_set = _quick_subset(test, config.quick_eval_size)
        yield TrainingStarted(config, str(device), workers.threads, len(train), len(test), batches)

        def evaluate_now(subset: _Tensors, control: TrainControl | None = None) -> Any:
            model.eval()
            try:
                return _evaluate_tensors(forward, subset, EVAL_BATCH, workers, control)
            finally:
                model.train()

        history: list[EpochEnd] = []
        ema = torch.zeros((), dtype=torch.float64, device=device)
        ema_weight = 0.0
        next_quick = math.inf
        if quick_set is not None and config.quick_eval_seconds > 0:
            next_quick = config.quick_eval_seconds
        step = 0
        for epoch in range(1, config.epochs + 1):
            epoch_start = clock.now()
            train_time = 0.0
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            seen = 0
            order = torch.randperm(len(train), generator=shuffle).to(device)
            for batch in range(1, batches + 1):
                if not _proceed(control, clock):
                    yield _done(model, model_config, config, clock, history, device, None)
                    return
                batch_start = clock.now()
                index = order[(batch - 1) * config.batch_size : batch * config.batch_size]
                x = _to_input(train.images[index])
                y = train.labels[index]
                if augment is not None:
                    x = augment(x, augment_generator, labels=y)
                    x = x.contiguous(memory_format=torch.channels_last)
                lr = optimizer.param_groups[0]["lr"]
                limit = control.threads_limit if control is not None else None
                batch_loss, batch_correct = _train_step(
                    forward, params, optimizer, x, y, workers, limit
                )
                if scheduler is not None:
                    scheduler.step()
                step += 1
                n = int(y.shape[0])
                seen += n
                loss_sum += batch_loss
                correct += batch_correct
                ema.mul_(LOSS_SMOOTHING).add_(batch_loss / n, alpha=1.0 - LOSS_SMOOTHING)
                ema_weight = ema_weight * LOSS_SMOOTHING + (1.0 - LOSS_SMOOTHING)
                train_time += clock.now() - batch_start

                quick = None
                if clock.now() >= next_quick:
                    assert quick_set is not None
                    began = clock.now()
                    quick = evaluate_now(quick_set).accuracy
                    # Never more than ~5% of the time: slower machines estimate less often.
                    cost = clock.now() - began
                    next_quick = clock.now() + max(
                        config.quick_eval_seconds, QUICK_EVAL_SHARE * cost
                    )
                if batch % config.progress_every == 0 or batch == batches or quick is not None:
                    elapsed = clock.now()
                    fraction = step / total
                    yield BatchProgress(
                        epoch=epoch,
                        epochs=config.epochs,
                        batch=batch,
                        batches=batches,
                        loss=float(ema.item()) / ema_weight,
                        accuracy=int(correct.item()) / seen,
                        images_per_second=seen / train_time if train_time > 0 else 0.0,
                        elapsed=elapsed,
                        eta=elapsed * (1.0 - fraction) / fraction,
                        fraction=fraction,
                        lr=float(lr),
                        batch_loss=float(batch_loss.item()) / n,
                        quick_test_accuracy=quick,
                        quick_test_images=len(quick_set) if quick is not None else 0,
                    )

            evaluation = evaluate_now(test, control)
            if evaluation is None:  # cancelled during the test pass
                yield _done(model, model_config, config, clock, history, device, None)
                return
            end = EpochEnd(
                epoch=epoch,
                epochs=config.epochs,
                train_loss=float(loss_sum.item()) / seen,
                train_accuracy=int(correct.item()) / seen,
                test_accuracy=evaluation.accuracy,
                test_loss=evaluation.loss,
                elapsed=clock.now(),
                seconds=clock.now() - epoch_start,
                images_per_second=seen / train_time if train_time > 0 else 0.0,
            )
            history.append(end)
            yield end
        yield _done(model, model_config, config, clock, history, device, evaluation)


def _shard_step(
    forward: Callable[[torch.Tensor], torch.Tensor],
    params: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """Summed loss, correct count and gradients of one shard, scaled for the whole batch
    (so that the shards' gradients add up to those of the batch's mean loss)."""
    logits = forward(x)
    loss = F.cross_entropy(logits, y, reduction="sum")
    grads = torch.autograd.grad(loss / batch_size, params)
    with torch.no_grad():
        correct = (logits.argmax(dim=1) == y).sum()
    return loss.detach().double(), correct, grads


def _train_step(
    forward: Callable[[torch.Tensor], torch.Tensor],
    params: list[torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    workers: _Workers,
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a batch, its shards (at most ``limit``) computed in
    parallel; returns the batch's summed loss and correct count (as tensors: no device sync
    here)."""
    n = int(y.shape[0])
    shards = workers.shards(n, limit)
    results = workers.map(lambda s: _shard_step(forward, params, x[s], y[s], n), shards)
    grads = list(results[0][2])
    loss, correct = results[0][0], results[0][1]
    for other in results[1:]:  # always in shard order: reproducible sums
        torch._foreach_add_(grads, list(other[2]))
        loss = loss + other[0]
        correct = correct + other[1]
    for param, grad in zip(params, grads, strict=True):
        param.grad = grad
    optimizer.step()
    return loss, correct


def _quick_subset(test: _Tensors, size: int) -> _Tensors | None:
    """``size`` test images spread evenly over the set (MNIST's first half is the easier)."""
    if size <= 0 or len(test) == 0:
        return None
    index = np.linspace(0, len(test) - 1, num=min(size, len(test))).round().astype(np.int64)
    index_t = torch.from_numpy(np.unique(index)).to(test.labels.device)
    return _Tensors(test.images[index_t], test.labels[index_t])


def _done(
    model: nn.Module,
    model_config: ModelConfig,
    config: TrainConfig,
    clock: _Clock,
    history: list[EpochEnd],
    device: torch.device,
    evaluation: EvalResult | None,
) -> TrainingDone:
    return TrainingDone(
        state_dict=copy_state_dict(model),
        model_config=model_config,
        test_accuracy=evaluation.accuracy if evaluation is not None else None,
        test_loss=evaluation.loss if evaluation is not None else None,
        seconds=clock.now(),
        config=config,
        cancelled=evaluation is None,
        epochs_completed=len(history),
        device=str(device),
        evaluation=evaluation,
        history=tuple(history),
    )


# --------------------------------------------------------------------------- saving


def save_trained(
    path: Path | str, done: TrainingDone, extra_metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Save a run's weights atomically with their story (``store.save_checkpoint``).

    The metadata says how good (test accuracy and loss), how made (the recipe, i.e. the
    config, epochs completed, device, torch version), when (UTC, ISO 8601) and how long it
    took, so a model file can be judged and reproduced from itself alone. Returns it, with
    the sha256 and format version the store adds.
    """
    return save_checkpoint(
        Path(path), done.state_dict, done.model_config, trained_metadata(done, extra_metadata)
    )


def trained_metadata(
    done: TrainingDone, extra_metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A run's story for its model file (see :func:`save_trained`), ``extra_metadata`` last."""
    metadata: dict[str, Any] = {
        "test_accuracy": done.test_accuracy,
        "test_loss": done.test_loss,
        "recipe": done.config.to_dict(),
        "epochs_completed": done.epochs_completed,
        "cancelled": done.cancelled,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(done.seconds, 3),
        "device": done.device,
        "torch": torch.__version__,
        "source": "drawdigit train",
    }
    metadata.update(extra_metadata or {})
    return metadata


__all__ = [
    "PRESETS",
    "BatchProgress",
    "EpochEnd",
    "EvalResult",
    "KerasRMSprop",
    "TrainConfig",
    "TrainControl",
    "TrainingDone",
    "TrainingError",
    "TrainingEvent",
    "TrainingStarted",
    "accuracy",
    "evaluate",
    "fit",
    "save_trained",
    "trained_metadata",
]
