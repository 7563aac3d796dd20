"""``fit``: the training loop, a generator of progress events.

It reads like pytorch/examples' ``train()``: per epoch, shuffle; per batch, a step (here
:func:`train_step`, its shards computed side by side), then the progress; after each epoch,
the test set. What makes it fast on a CPU is in the package docstring.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drawdigit.model import DigitNet, ModelConfig, copy_state_dict, forward_for
from drawdigit.store import Checkpoint
from drawdigit.training.config import TrainConfig, TrainingError
from drawdigit.training.evaluation import EVAL_BATCH, evaluate_tensors
from drawdigit.training.events import (
    BatchProgress,
    EpochEnd,
    EvalResult,
    TrainControl,
    TrainingDone,
    TrainingEvent,
    TrainingStarted,
)
from drawdigit.training.optim import make_optimizer
from drawdigit.training.tensors import Tensors, as_tensors, resolve_device, to_input
from drawdigit.training.workers import Workers, reuse_freed_memory

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
    train = as_tensors(data.train_images, data.train_labels, "training", device)
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
        clock = _Clock()
        model = model.to(device=device, memory_format=torch.channels_last)
        model.train()
        params = list(model.parameters())
        forward = forward_for(model, to_input(train.images[:2]))
        batches = math.ceil(len(train) / config.batch_size)
        total = batches * config.epochs
        optimizer, scheduler = make_optimizer(config, model, total)
        shuffle = torch.Generator().manual_seed(shuffle_seed)
        augment_generator = torch.Generator(device=device).manual_seed(augment_seed)
        quick_set = _quick_subset(test, config.quick_eval_size)
        yield TrainingStarted(config, str(device), workers.threads, len(train), len(test), batches)

        def evaluate_now(subset: Tensors, control: TrainControl | None = None) -> Any:
            model.eval()
            try:
                return evaluate_tensors(forward, subset, EVAL_BATCH, workers, control)
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
                x = to_input(train.images[index])
                y = train.labels[index]
                if augment is not None:
                    x = augment(x, augment_generator, labels=y)
                    x = x.contiguous(memory_format=torch.channels_last)
                lr = optimizer.param_groups[0]["lr"]
                limit = control.threads_limit if control is not None else None
                batch_loss, batch_correct = train_step(
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


def train_step(
    forward: Callable[[torch.Tensor], torch.Tensor],
    params: list[torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    workers: Workers,
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


def _quick_subset(test: Tensors, size: int) -> Tensors | None:
    """``size`` test images spread evenly over the set (MNIST's first half is the easier)."""
    if size <= 0 or len(test) == 0:
        return None
    index = np.linspace(0, len(test) - 1, num=min(size, len(test))).round().astype(np.int64)
    index_t = torch.from_numpy(np.unique(index)).to(test.labels.device)
    return Tensors(test.images[index_t], test.labels[index_t])


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
