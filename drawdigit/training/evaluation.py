"""How good a model is on a labelled set: :func:`evaluate`, the fast path with the confusion
matrix and every answer (used after each epoch and by ``drawdigit evaluate``), and the plain
:func:`accuracy` for comparisons."""

from __future__ import annotations

import math
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drawdigit.model import forward_for
from drawdigit.training.config import TrainingError
from drawdigit.training.events import EvalResult, TrainControl
from drawdigit.training.tensors import Tensors, as_tensors, to_input
from drawdigit.training.workers import Workers, reuse_freed_memory

# Test images per forward pass when evaluating. Larger chunks are no cheaper: interleaved at
# load ~2, a 10,000-image test pass on 2 shard threads took 0.90 / 0.99 / 1.02 s (CPU 1.67 /
# 1.77 / 1.79 s) in chunks of 125 / 250 / 500 (benchmarks/bench_training.py --precision;
# under load 11-16 250 came out ~10% ahead, within that load's noise). And they cost memory:
# each image in flight holds ~130 KB of activations, and glibc keeps each thread's arena at
# its peak. Measured peak RSS of a run: +370 MB at 1,000, +160 MB at 125.
EVAL_BATCH = 125


# --------------------------------------------------------------------------- evaluation


def _evaluate_chunk(
    forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed loss, predictions and their probabilities for one chunk (any thread)."""
    with torch.inference_mode():
        logits = forward(to_input(images)).float()
        loss = F.cross_entropy(logits, labels, reduction="sum").double()
        confidence, prediction = torch.softmax(logits, dim=1).max(dim=1)
    return loss, prediction, confidence


def evaluate_tensors(
    forward: Callable[[torch.Tensor], torch.Tensor],
    data: Tensors,
    batch_size: int,
    workers: Workers,
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
    data = as_tensors(images, labels, "evaluation", device)
    # A private copy in the layout the fast path wants; the caller's model is not touched.
    copy = deepcopy(model).to(memory_format=torch.channels_last).eval()
    forward = forward_for(copy, to_input(data.images[:2]))
    with Workers.for_run(threads, batch_size, device) as workers, reuse_freed_memory():
        result = evaluate_tensors(forward, data, batch_size, workers)
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
