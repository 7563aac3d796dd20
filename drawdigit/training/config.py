"""Training settings: what decides a run (:class:`TrainConfig`), the ready-made recipes
(:data:`PRESETS`), and the error for settings or data a run cannot use.

Plain Python, no torch: the training dialog reads the presets on the GUI thread, and
``drawdigit.runs`` builds its recipe when imported, before torch is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

OPTIMIZERS = ("rmsprop", "adam")
SCHEDULES = ("constant", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")  # drawdigit.training.precision says what auto picks
MAX_PEN_COPIES = 20
# The training label of a pen letter or symbol: the network is taught "no digit at all".
NOT_DIGIT_CLASS = 10
PEN_FOLDS = 5  # drawdigit.pendata.FOLDS (not imported: this module stays free of numpy)
# The most CPU threads a run may ask for: 4x the cores, room for oversubscribing a little.
# Far more (``--threads 100000``) made OpenMP fail to create its threads, then crash.
CORES = os.cpu_count() or 1
MAX_THREADS = 4 * CORES


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
    ``Workers``). ``quick_eval_seconds``
    is how often, in seconds of training, a quick test accuracy on ``quick_eval_size`` test
    images is attached to a :class:`BatchProgress` (0 turns it off). ``progress_every``
    thins out progress events (on a GPU every event costs a device synchronisation).
    ``precision`` is the number format of the training steps' forward pass and loss:
    ``fp32``, ``bf16`` (autocast; the weights and the optimiser's state stay float32) or
    ``auto``, bf16 only where the hardware computes it natively (``training.precision``).
    Test passes are always float32.

    The pen ink the app ships (``drawdigit.pendata``): ``pen_digits`` copies of every
    pen-drawn digit and ``pen_not_digits`` copies of every pen-drawn letter or symbol are
    added to each epoch (by ``runs.prepare_run``); the letters are trained towards no digit
    at all (the cross-entropy to a uniform answer, weighed by ``not_digit_weight``), so the
    network's hidden layer learns what is not a digit. ``digitness_weight`` > 0 trains a
    digit-ness head beside the network (digit or not, on that weight), which shapes the
    hidden layer for the head fitted after the run. ``leave_out_fold`` leaves one writer
    fold out of the pen ink, to measure a recipe on writers it never saw.
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
    precision: str = "auto"
    pen_digits: int = 0
    pen_not_digits: int = 0
    not_digit_weight: float = 0.5
    digitness_weight: float = 0.0
    leave_out_fold: int | None = None

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
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.threads is not None and (
            not _is_int(self.threads) or not 1 <= self.threads <= MAX_THREADS
        ):
            problems.append(
                f"threads must be a whole number from 1 to {MAX_THREADS} (4 x the {CORES} "
                f"CPU cores here), not {self.threads!r}"
            )
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
        for name in ("pen_digits", "pen_not_digits"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= MAX_PEN_COPIES:
                problems.append(f"{name} must be a whole number 0-{MAX_PEN_COPIES}, not {value!r}")
        for name in ("not_digit_weight", "digitness_weight"):
            weight = getattr(self, name)
            if not _is_number(weight) or not 0 <= weight <= 10:
                problems.append(f"{name} must be a number 0-10, not {weight!r}")
        fold = self.leave_out_fold
        if fold is not None and (not _is_int(fold) or not 0 <= fold < PEN_FOLDS):
            problems.append(f"leave_out_fold must be None or 0-{PEN_FOLDS - 1}, not {fold!r}")
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What the training dialog starts with. "fast" because the figures (docs/benchmarks.md,
# "Training"):
# it reaches 99.0% MNIST test accuracy after one epoch, 27-30 s after start on the 2-core
# machine at load ~1 (the two-epoch preset before it: 49 s), where the seed recipe needs
# 62 s (five epochs) for 99.19%, and "best" 226-339 s (the recipe of the bundled weights,
# 99.47%, worth it for drawings but not as the first thing a person tries).
DEFAULT_PRESET = "fast"

PRESETS: dict[str, TrainConfig] = {
    # The seed notebook: Keras RMSprop defaults, batch 64, 5 epochs, no augmentation.
    "seed": TrainConfig(
        epochs=5, batch_size=64, lr=1e-3, optimizer="rmsprop", schedule="constant", augment=False
    ),
    # 99.0% MNIST test accuracy soonest from scratch on a 2-core CPU: one epoch, one
    # learning-rate cycle. Batch 64 (938 steps) gets there where batch 128 (469 steps, the
    # earlier two-epoch preset's) stops at 98.87% after one epoch (lr 4e-3 and 6e-3). Test
    # accuracy after the epoch, seeds 0 / 1 / 2: 99.06 / 98.97 / 99.00% at lr 4e-3, 99.04 /
    # 98.99 / 99.00% at 5e-3; seed 0 at 3e-3: 98.97%, at 2e-3: 98.90%.
    # With the pen ink (three copies of every pen digit, one of every letter or symbol: the
    # epoch is 1.6x as long) and one writer fold left out, so that the head fitted after the
    # run sets its sure threshold on writers the network never saw. Writer folds (each fold
    # read by a model that never saw it; docs/benchmarks.md, "Presets"): letters answered
    # "not a digit" 59.0% (one copy of the digits: 53.8%; two epochs: 58.3%), digits
    # answered sure and right 78.1% (74.4%; 77.3%), MNIST test 99.07% (99.06%; 99.27%).
    "fast": TrainConfig(
        epochs=1,
        batch_size=64,
        lr=4e-3,
        optimizer="adam",
        schedule="onecycle",
        augment=False,
        pen_digits=3,
        pen_not_digits=1,
        leave_out_fold=1,
    ),
    # The bundled weights: augmentation for digits people draw, more epochs to make up for it.
    # 15 epochs at 3e-3 (UNIPEN unflagged 98.00% / 98.15% with seeds 0 / 1) beat 10 at 2e-3
    # (97.87%) once the writing styles were stronger (augment.DEFAULT_AUGMENT).
    # With the pen ink: six copies of every pen digit and one of every pen letter or symbol
    # (trained towards no digit) per epoch. Chosen by writer folds on unipen-dev, each fold
    # read by a model that never saw its writers: right (first choice) 98.35% MNIST only,
    # 98.38% with three copies, 98.50% with six (docs/benchmarks.md, "Pen ink").
    "best": TrainConfig(
        epochs=15,
        batch_size=128,
        lr=3e-3,
        optimizer="adam",
        schedule="onecycle",
        augment=True,
        pen_digits=6,
        pen_not_digits=1,
    ),
}

# How long each preset takes from Train to a saved model with its head, on the 2-core
# machine with nothing else running (docs/benchmarks.md, "Training"); shown beside the
# preset in the training dialog and in ``drawdigit train --help``.
PRESET_TIMES = {"seed": "about 1 min", "fast": "about ½ min", "best": "about 6 min"}


def data_summary(config: TrainConfig) -> str:
    """What a run with ``config`` trains on, in a few words: "MNIST + pen digits x6 + pen
    letters" (copies per epoch; "4/5 of writers" when one writer fold is left out)."""
    parts = ["MNIST"]
    if config.pen_digits:
        parts.append(f"pen digits ×{config.pen_digits}")
    if config.pen_not_digits:
        parts.append(f"pen letters ×{config.pen_not_digits}")
    text = " + ".join(parts)
    if (config.pen_digits or config.pen_not_digits) and config.leave_out_fold is not None:
        text += " (4/5 of the writers)"
    return text


def preset_note(key: str, config: TrainConfig) -> str:
    """A preset's data and time: "MNIST + pen digits x6 + … · about 6 min on two cores"."""
    time = PRESET_TIMES.get(key)
    return data_summary(config) + (f" · {time} on two cores" if time else "")
