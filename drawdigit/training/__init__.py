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
- ReLU is applied *after* max-pooling (see ``model.fast_forward``): the same numbers, bit
  for bit, on a 4x smaller tensor;
- glibc is told to keep freed memory for reuse during a run (``workers.reuse_freed_memory``):
  otherwise every multi-megabyte activation is a fresh ``mmap`` whose pages fault in one
  by one, which cost a quarter of each step on this machine;
- several CPU threads work on shards of each batch side by side, one torch thread each,
  instead of torch's intra-op threads (see ``workers.Workers``): they scale better on small
  batches and, unlike OpenMP teams, do not collapse when another program wants a core.

Where things are: ``config`` (TrainConfig, PRESETS, TrainingError), ``events`` (the progress
events and TrainControl), ``optim`` (KerasRMSprop, make_optimizer), ``precision`` (fp32 or
bf16, and what auto picks on this machine), ``tensors`` (devices and sets on them),
``workers`` (shard threads, memory reuse), ``evaluation`` (evaluate, accuracy), ``loop``
(fit), ``saving`` (save_trained). Import the names from here.

The names are loaded on first use (PEP 562): ``from drawdigit.training import PRESETS``
needs no torch, so the training dialog and ``drawdigit.runs`` can read the settings on the
GUI thread; ``fit`` and the rest load torch when they are first asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drawdigit.training.config import (
        DEVICES,
        OPTIMIZERS,
        PRECISIONS,
        PRESETS,
        SCHEDULES,
        TrainConfig,
        TrainingError,
    )
    from drawdigit.training.evaluation import EVAL_BATCH, accuracy, evaluate
    from drawdigit.training.events import (
        BatchProgress,
        EpochEnd,
        EvalResult,
        TrainControl,
        TrainingDone,
        TrainingEvent,
        TrainingStarted,
    )
    from drawdigit.training.loop import build_model, fit
    from drawdigit.training.optim import KerasRMSprop, make_optimizer
    from drawdigit.training.precision import PrecisionChoice, resolve_precision
    from drawdigit.training.saving import save_trained, save_trained_new, trained_metadata
    from drawdigit.training.tensors import resolve_device

_HOMES = {
    "config": (
        "DEVICES",
        "OPTIMIZERS",
        "PRECISIONS",
        "PRESETS",
        "SCHEDULES",
        "TrainConfig",
        "TrainingError",
    ),
    "events": (
        "BatchProgress",
        "EpochEnd",
        "EvalResult",
        "TrainControl",
        "TrainingDone",
        "TrainingEvent",
        "TrainingStarted",
    ),
    "optim": ("KerasRMSprop", "make_optimizer"),
    "precision": ("PrecisionChoice", "resolve_precision"),
    "tensors": ("resolve_device",),
    "evaluation": ("EVAL_BATCH", "accuracy", "evaluate"),
    "loop": ("build_model", "fit"),
    "saving": ("save_trained", "save_trained_new", "trained_metadata"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "DEVICES",
    "EVAL_BATCH",
    "OPTIMIZERS",
    "PRECISIONS",
    "PRESETS",
    "SCHEDULES",
    "BatchProgress",
    "EpochEnd",
    "EvalResult",
    "KerasRMSprop",
    "PrecisionChoice",
    "TrainConfig",
    "TrainControl",
    "TrainingDone",
    "TrainingError",
    "TrainingEvent",
    "TrainingStarted",
    "accuracy",
    "build_model",
    "evaluate",
    "fit",
    "make_optimizer",
    "resolve_device",
    "resolve_precision",
    "save_trained",
    "save_trained_new",
    "trained_metadata",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
