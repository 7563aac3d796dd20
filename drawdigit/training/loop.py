"""``fit``: the training loop, a generator of progress events.

It reads like pytorch/examples' ``train()``: per epoch, shuffle; per batch, a step (here
:func:`train_step`, its shards computed side by side), then the progress; after each epoch,
the test set. What makes it fast on a CPU is in the package docstring.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from drawdigit.model import (
    DigitNet,
    ModelConfig,
    copy_state_dict,
    forward_for,
    logits_and_hidden,
)
from drawdigit.store import Checkpoint
from drawdigit.training.config import NOT_DIGIT_CLASS, TrainConfig, TrainingError
from drawdigit.training.evaluation import EVAL_BATCH, evaluate_tensors
from drawdigit.training.events import BatchProgress, EpochEnd, TrainingDone, TrainingStarted
from drawdigit.training.optim import make_optimizer
from drawdigit.training.precision import PrecisionChoice, resolve_precision
from drawdigit.training.tensors import Tensors, as_tensors, resolve_device, to_input
from drawdigit.training.workers import Workers, reuse_freed_memory

if TYPE_CHECKING:
    from drawdigit.training.events import EvalResult, TrainControl, TrainingEvent

# Smoothing of the per-batch loss shown in progress events (about a 50-batch window).
LOSS_SMOOTHING = 0.98

# Quick test estimates wait at least this many times their own cost: <= ~5% of the run.
QUICK_EVAL_SHARE = 20.0


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
    """Seconds of training: the time ``source`` tells (seconds, never going back) since the
    run began, minus the time spent paused."""

    def __init__(self, source: Callable[[], float]) -> None:
        self.source = source
        self.start = source()
        self.paused = 0.0

    def now(self) -> float:
        return self.source() - self.start - self.paused


def _proceed(control: TrainControl | None, clock: _Clock) -> bool:
    """Between batches: wait out a pause (not counted as training time); False on cancel."""
    if control is None:
        return True
    if control.paused and not control.cancelled:
        began = clock.source()
        control.wait_while_paused()
        clock.paused += clock.source() - began
    return not control.cancelled


def fit(
    config: TrainConfig,
    data: Any,
    initial: Checkpoint | None = None,
    control: TrainControl | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[TrainingEvent]:
    """Train a network on ``data`` (a ``drawdigit.mnist.MnistData``), yielding events.

    Events, in order: one :class:`TrainingStarted`; per batch a :class:`BatchProgress`
    (every ``config.progress_every`` batches and at each epoch's last); per epoch an
    :class:`EpochEnd` with the full test accuracy; last, always, one :class:`TrainingDone`
    -- with ``cancelled=True`` if ``control`` cancelled the run, which happens before the
    next batch starts. Iterate it from one thread: torch's thread count is set for the
    thread that runs the loop, and put back when the generator ends or is closed.

    ``clock`` is where the run's time comes from (seconds; ``time.perf_counter``): the
    progress events' elapsed time and speed, and when quick estimates fall due. Tests give
    one they move themselves, so that what they check never depends on the machine's speed.

    Raises :class:`TrainingError` before the first event for bad settings or data.
    """
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    train = as_tensors(data.train_images, data.train_labels, "training", device, not_digits=True)
    test = as_tensors(data.test_images, data.test_labels, "test", device)
    if len(train) == 0:
        raise TrainingError("there are no training images")
    init_seed, shuffle_seed, augment_seed = _seeds(config.seed)
    model, model_config = build_model(config, initial, init_seed)
    augment = None
    if config.augment:
        from drawdigit.augment import augment_batch as augment  # lazy: only when asked for

    workers_for = Workers.for_run(config.threads, config.batch_size, device)
    with workers_for as workers, reuse_freed_memory():
        seeds = (shuffle_seed, augment_seed)
        run = _Run(
            config,
            model,
            model_config,
            (train, test),
            (device, precision),
            workers,
            control,
            seeds,
            augment,
            clock,
        )
        yield run.started()
        evaluation = None
        for epoch in range(1, config.epochs + 1):
            finished = yield from run.train_epoch(epoch)
            evaluation = run.test_pass() if finished else None
            if evaluation is None:  # cancelled during the epoch or its test pass
                break
            yield run.epoch_end(epoch, evaluation)
        yield run.done(evaluation)


class _Tally:
    """One epoch's running figures; the sums stay device tensors (no sync per batch)."""

    def __init__(self, device: torch.device, start: float) -> None:
        self.start = start  # clock time the epoch began
        self.seconds = 0.0  # of training steps (the test pass and estimates excluded)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.digits = torch.zeros((), dtype=torch.int64, device=device)  # seen, not letters
        self.seen = 0

    def images_per_second(self) -> float:
        return self.seen / self.seconds if self.seconds > 0 else 0.0

    def accuracy(self) -> float:
        """The share of the digits seen that were read right (letters have no right digit)."""
        return int(self.correct.item()) / max(int(self.digits.item()), 1)


class _Run:
    """What the loop's parts share for one ``fit``: the model and its step, the data, the
    clock, and the figures progress events report. Built inside the shard workers' and
    memory-reuse contexts, in the order the set-up always had (the clock first)."""

    def __init__(
        self,
        config: TrainConfig,
        model: DigitNet,
        model_config: ModelConfig,
        data: tuple[Tensors, Tensors],
        where: tuple[torch.device, PrecisionChoice],
        workers: Workers,
        control: TrainControl | None,
        seeds: tuple[int, int],
        augment: Callable[..., torch.Tensor] | None,
        clock: Callable[[], float],
    ) -> None:
        shuffle_seed, augment_seed = seeds
        device, self.precision = where
        self.clock = _Clock(clock)
        self.config, self.model_config, self.device = config, model_config, device
        self.train, self.test = data
        self.workers, self.control, self.augment = workers, control, augment
        self.model = model.to(device=device, memory_format=torch.channels_last)
        self.model.train()
        self.forward = forward_for(self.model, to_input(self.train.images[:2]))
        trainee, self.step_forward = self.model, self.forward
        if config.digitness_weight > 0:  # a digit-ness head trained beside it (not kept)
            aux = digitness_trainer(model_config, seeds[1]).to(device=device)
            trainee = torch.nn.ModuleList([self.model, aux])
            self.step_forward = _with_digitness(self.model, aux)
        self.params = list(trainee.parameters())
        self.batches = math.ceil(len(self.train) / config.batch_size)
        self.total = self.batches * config.epochs
        self.optimizer, self.scheduler = make_optimizer(config, trainee, self.total)
        self.shuffle = torch.Generator().manual_seed(shuffle_seed)
        self.augment_generator = torch.Generator(device=device).manual_seed(augment_seed)
        self.quick_set = _quick_subset(self.test, config.quick_eval_size)
        self.quick_images = len(self.quick_set) if self.quick_set is not None else 0
        self.next_quick = math.inf
        if self.quick_set is not None and config.quick_eval_seconds > 0:
            self.next_quick = config.quick_eval_seconds
        self.history: list[EpochEnd] = []
        self.step = 0
        self.ema = torch.zeros((), dtype=torch.float64, device=device)
        self.ema_weight = 0.0
        self.tally = _Tally(device, 0.0)

    def started(self) -> TrainingStarted:
        return TrainingStarted(
            self.config,
            str(self.device),
            self.workers.threads,
            len(self.train),
            len(self.test),
            self.batches,
            self.precision.precision,
            self.precision.reason,
        )

    def train_epoch(self, epoch: int) -> Generator[BatchProgress, None, bool]:
        """One pass over the shuffled training set, a step per batch, as pytorch/examples'
        ``train()`` does; False when cancelled (checked before every batch)."""
        self.tally = _Tally(self.device, self.clock.now())
        order = torch.randperm(len(self.train), generator=self.shuffle).to(self.device)
        for batch in range(1, self.batches + 1):
            if not _proceed(self.control, self.clock):
                return False
            began = self.clock.now()
            x, y = self._batch(order, batch)
            lr = self.optimizer.param_groups[0]["lr"]
            limit = self.control.threads_limit if self.control is not None else None
            loss, correct = train_step(
                self.step_forward,
                self.params,
                self.optimizer,
                x,
                y,
                self.workers,
                limit,
                bf16=self.precision.precision == "bf16",
                not_digit_weight=self.config.not_digit_weight,
                digitness_weight=self.config.digitness_weight,
            )
            if self.scheduler is not None:
                self.scheduler.step()
            n = int(y.shape[0])
            self._count(loss, correct, y, began)
            quick = self._quick_estimate()
            due = batch % self.config.progress_every == 0 or batch == self.batches
            if due or quick is not None:
                yield self._progress(epoch, batch, lr, loss, n, quick)
        return True

    def _batch(self, order: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``batch``-th slice of this epoch's order, as float inputs (augmented if asked)."""
        size = self.config.batch_size
        index = order[(batch - 1) * size : batch * size]
        x = to_input(self.train.images[index])
        y = self.train.labels[index]
        if self.augment is not None:
            x = self.augment(x, self.augment_generator, labels=y)
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _count(
        self, loss: torch.Tensor, correct: torch.Tensor, y: torch.Tensor, began: float
    ) -> None:
        """Add a step's summed loss and correct count to the epoch's and the smoothed loss."""
        self.step += 1
        n = int(y.shape[0])
        tally = self.tally
        tally.seen += n
        tally.loss_sum += loss
        tally.correct += correct
        tally.digits += (y < NOT_DIGIT_CLASS).sum()
        self.ema.mul_(LOSS_SMOOTHING).add_(loss / n, alpha=1.0 - LOSS_SMOOTHING)
        self.ema_weight = self.ema_weight * LOSS_SMOOTHING + (1.0 - LOSS_SMOOTHING)
        tally.seconds += self.clock.now() - began

    def _quick_estimate(self) -> float | None:
        """Test accuracy on the quick subset when one is due, else None."""
        if self.clock.now() < self.next_quick:
            return None
        assert self.quick_set is not None
        began = self.clock.now()
        result = self._evaluate(self.quick_set)
        assert result is not None  # no control given: it cannot be cancelled
        quick = result.accuracy
        # Never more than ~5% of the time: slower machines estimate less often.
        cost = self.clock.now() - began
        self.next_quick = self.clock.now() + max(
            self.config.quick_eval_seconds, QUICK_EVAL_SHARE * cost
        )
        return quick

    def _progress(
        self,
        epoch: int,
        batch: int,
        lr: float,
        batch_loss: torch.Tensor,
        n: int,
        quick: float | None,
    ) -> BatchProgress:
        elapsed = self.clock.now()
        fraction = self.step / self.total
        tally = self.tally
        return BatchProgress(
            epoch=epoch,
            epochs=self.config.epochs,
            batch=batch,
            batches=self.batches,
            loss=float(self.ema.item()) / self.ema_weight,
            accuracy=tally.accuracy(),
            images_per_second=tally.images_per_second(),
            elapsed=elapsed,
            eta=elapsed * (1.0 - fraction) / fraction,
            fraction=fraction,
            lr=float(lr),
            batch_loss=float(batch_loss.item()) / n,
            quick_test_accuracy=quick,
            quick_test_images=self.quick_images if quick is not None else 0,
        )

    def _evaluate(self, subset: Tensors, control: TrainControl | None = None) -> EvalResult | None:
        self.model.eval()
        try:
            return evaluate_tensors(self.forward, subset, EVAL_BATCH, self.workers, control)
        finally:
            self.model.train()

    def test_pass(self) -> EvalResult | None:
        """The whole test set after an epoch; None if cancelled in between."""
        return self._evaluate(self.test, self.control)

    def epoch_end(self, epoch: int, evaluation: EvalResult) -> EpochEnd:
        tally = self.tally
        end = EpochEnd(
            epoch=epoch,
            epochs=self.config.epochs,
            train_loss=float(tally.loss_sum.item()) / tally.seen,
            train_accuracy=tally.accuracy(),
            test_accuracy=evaluation.accuracy,
            test_loss=evaluation.loss,
            elapsed=self.clock.now(),
            seconds=self.clock.now() - tally.start,
            images_per_second=tally.images_per_second(),
        )
        self.history.append(end)
        return end

    def done(self, evaluation: EvalResult | None) -> TrainingDone:
        """The end of the run: finished with ``evaluation``, or cancelled (None)."""
        return TrainingDone(
            state_dict=copy_state_dict(self.model),
            model_config=self.model_config,
            test_accuracy=evaluation.accuracy if evaluation is not None else None,
            test_loss=evaluation.loss if evaluation is not None else None,
            seconds=self.clock.now(),
            config=self.config,
            cancelled=evaluation is None,
            epochs_completed=len(self.history),
            device=str(self.device),
            evaluation=evaluation,
            history=tuple(self.history),
            precision=self.precision.precision,
        )


def _shard_step(
    forward: Callable[[torch.Tensor], torch.Tensor],
    params: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    bf16: bool = False,
    not_digit_weight: float = 0.0,
    digitness_weight: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """Summed loss, correct count and gradients of one shard, scaled for the whole batch
    (so that the shards' gradients add up to those of the batch's mean loss).

    Digits have the cross-entropy to their label. A letter or symbol (``NOT_DIGIT_CLASS``)
    has no digit: its loss is the cross-entropy to the uniform answer (every digit 10%),
    times ``not_digit_weight`` ("outlier exposure", Hendrycks et al. 2019), which keeps the
    network from being sure of any digit on it and teaches its hidden layer what is not a
    digit, for the digit-ness head that reads it. When ``forward`` also gives a digit-ness
    logit (``_with_digitness``), its cross-entropy against "is a digit", times
    ``digitness_weight``, shapes the hidden layer for the head fitted after training.

    With ``bf16`` the forward pass and loss run under ``torch.autocast`` (entered here: its
    state is per thread, and each shard has its own): convolutions and matrix products in
    bfloat16, the loss in float32, the gradients of the float32 weights in float32.
    """
    precision = (
        torch.autocast(x.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    )
    digit = y < NOT_DIGIT_CLASS
    with precision:
        out = forward(x)
        logits, digit_logit = out if isinstance(out, tuple) else (out, None)
        if bool(digit.all()):
            loss = F.cross_entropy(logits, y, reduction="sum")
        else:
            loss = F.cross_entropy(logits[digit], y[digit], reduction="sum")
            uniform = -F.log_softmax(logits[~digit].float(), dim=1).mean(dim=1).sum()
            loss = loss + not_digit_weight * uniform
        if digit_logit is not None:
            is_digit = digit.to(torch.float32)
            aside = F.binary_cross_entropy_with_logits(
                digit_logit.float(), is_digit, reduction="sum"
            )
            loss = loss + digitness_weight * aside
    grads = torch.autograd.grad(loss / batch_size, params)
    with torch.no_grad():
        correct = ((logits.argmax(dim=1) == y) & digit).sum()
    return loss.detach().double(), correct, grads


def train_step(
    forward: Callable[[torch.Tensor], torch.Tensor],
    params: list[torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    workers: Workers,
    limit: int | None = None,
    bf16: bool = False,
    not_digit_weight: float = 0.0,
    digitness_weight: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a batch, its shards (at most ``limit``) computed in
    parallel, in bfloat16 autocast if ``bf16``; returns the batch's summed loss and correct
    count (as tensors: no device sync here)."""
    n = int(y.shape[0])
    shards = workers.shards(n, limit)
    results = workers.map(
        lambda s: _shard_step(
            forward, params, x[s], y[s], n, bf16, not_digit_weight, digitness_weight
        ),
        shards,
    )
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


def digitness_trainer(config: ModelConfig, seed: int) -> torch.nn.Module:
    """A digit-ness head of the shape ``headfit`` fits (hidden -> HIDDEN -> 1), trained beside
    the network so that its hidden layer learns to tell digits from the rest; thrown away
    after the run (every network gets its head fitted afterwards, ``headfit``)."""
    from drawdigit.headfit import HIDDEN

    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(config.hidden, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)
        )


def _with_digitness(
    model: DigitNet, head: torch.nn.Module
) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The training step's forward: the logits and the trainer head's digit-ness logit."""

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, hidden = logits_and_hidden(model, x)
        return logits, head(hidden)[:, 0]

    return forward


def _quick_subset(test: Tensors, size: int) -> Tensors | None:
    """``size`` test images spread evenly over the set (MNIST's first half is the easier)."""
    if size <= 0 or len(test) == 0:
        return None
    index = np.linspace(0, len(test) - 1, num=min(size, len(test))).round().astype(np.int64)
    index_t = torch.from_numpy(np.unique(index)).to(test.labels.device)
    return Tensors(test.images[index_t], test.labels[index_t])
