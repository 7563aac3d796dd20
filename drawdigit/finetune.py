"""Fine-tune the model in use on the user's personal samples, in seconds on a CPU.

Why it is built this way:

- The samples are rendered to 28x28 once (``preprocess``), then only tensors move.
- A stratified, seeded part of the samples (``holdout``, default 25%) is never trained on:
  accuracy on it before and after is the honest measure of "it learnt my handwriting".
- A few dozen samples would be memorised and the rest of the network's knowledge forgotten,
  so every batch is half personal samples (randomly re-drawn with ``augment.augment_batch``:
  slant, size, thickness), half MNIST training images when MNIST is available, on which the
  new model is also held to the starting model's answers (``FinetuneConfig.distill``); with a
  small Adam learning rate and 80 steps MNIST test accuracy stays where it was.
- It starts from the model in use and returns a *copy* of the new weights: nothing is
  saved; the caller decides whether to use them (the GUI asks the user).
- The longer way, a whole training run on "MNIST + my samples" (the training dialog's
  source choice, ``drawdigit train --with-my-samples``), is a training run like any other
  and lives in ``drawdigit.runs`` (``mix_with_mnist``, ``MIXED_RECIPE``).

Nothing here imports Qt or prints: progress goes to an optional callback, and a
``threading.Event`` can stop a run between steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from drawdigit.augment import AugmentConfig, augment_batch
from drawdigit.digitness import Digitness
from drawdigit.inference import FINETUNE_SOURCE
from drawdigit.mnist import MnistData
from drawdigit.model import DigitNet, ModelConfig, copy_state_dict, forward_for
from drawdigit.store import Checkpoint
from drawdigit.training import accuracy

# The personal samples' augmentation: milder than MNIST training's, since the point is to
# learn the user's own slant and thickness, not to wash them out.
PERSONAL_AUGMENT = AugmentConfig(
    rotation=8.0, shear=0.15, scale=(0.9, 1.05), aspect=0.08, translate=1.5, thickness=0.4
)


# A fall in MNIST test accuracy larger than this (0.3 points) is pointed out with the result:
# the new model has begun to forget other people's handwriting.
MNIST_DROP_WARNING = 0.003


class FinetuneError(ValueError):
    """Fine-tuning cannot run (too few samples, a bad setting); the message says why."""


@dataclass(frozen=True)
class FinetuneConfig:
    """``steps`` Adam steps at ``lr``; each batch is ``personal_batch`` augmented personal
    samples plus ``mnist_batch`` MNIST training images (0 or no MNIST: personal only).
    ``holdout``: the fraction of each digit's samples kept aside for the before/after
    measure (at least one per digit that has two or more). ``mnist_eval``: how many MNIST test
    images the before/after MNIST accuracy uses (None: all 10,000). ``threads``: torch threads
    for the training steps; 1 is the default because a batch of 64 is too small to share:
    measured on the 2-core CI machine, 2 threads made a step 4x *slower* under load.
    ``distill``: weight of a second loss on the MNIST half, keeping the new model's answers
    (softened at temperature 2) close to the starting model's ("learning without
    forgetting"). Measured with digits drawn lying on their side, a style far from MNIST:
    MNIST test fell 0.58 points without it, 0.15 at weight 1, 0.11 at 3, the style's
    held-out accuracy 100% in all three; a milder style lost nothing either way."""

    steps: int = 80
    lr: float = 3e-4
    personal_batch: int = 32
    mnist_batch: int = 32
    holdout: float = 0.25
    augment: bool = True
    seed: int = 0
    threads: int = 1
    mnist_eval: int | None = None
    distill: float = 3.0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise FinetuneError(f"steps must be >= 1, not {self.steps}")
        if not self.lr > 0:
            raise FinetuneError(f"lr must be positive, not {self.lr}")
        if self.personal_batch < 1 or self.mnist_batch < 0:
            raise FinetuneError("personal_batch must be >= 1 and mnist_batch >= 0")
        if self.threads < 1:
            raise FinetuneError(f"threads must be >= 1, not {self.threads}")
        if self.distill < 0:
            raise FinetuneError(f"distill must be >= 0, not {self.distill}")
        if not 0.0 <= self.holdout < 1.0:
            raise FinetuneError(f"holdout must be in [0, 1), not {self.holdout}")


@dataclass(frozen=True)
class FinetuneProgress:
    step: int
    steps: int
    loss: float
    elapsed: float

    @property
    def fraction(self) -> float:
        return self.step / self.steps


@dataclass
class FinetuneResult:
    """Before/after figures and the new weights (a CPU copy; nothing was saved). A
    cancelled run has no weights (``state_dict`` empty) and no "after" figures."""

    state_dict: dict[str, torch.Tensor]
    model_config: ModelConfig
    heldout_before: float | None  # None: no held-out samples
    heldout_after: float | None
    mnist_before: float | None  # None: MNIST not available
    mnist_after: float | None
    train_count: int
    heldout_count: int
    steps_done: int
    seconds: float  # the whole run: rendering, evaluations and training
    train_seconds: float  # the optimisation steps alone
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)
    head: Digitness | None = None  # the new network's digit-ness head, when one was fitted
    pen_folds_unseen: tuple[int, ...] = ()  # the shipped pen ink's writers it never saw

    def metadata(self) -> dict[str, object]:
        """JSON-able facts for the saved model's metadata."""
        return {
            "pen_folds_unseen": list(self.pen_folds_unseen),
            "source": FINETUNE_SOURCE,  # how ModelSource.describe tells it from a retraining
            "finetune_heldout_before": self.heldout_before,
            "finetune_heldout_after": self.heldout_after,
            "finetune_samples": self.train_count,
            "finetune_heldout": self.heldout_count,
            "finetune_steps": self.steps_done,
            "test_accuracy": self.mnist_after,
        }


def stratified_split(
    labels: np.ndarray, holdout: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out): per digit, ``holdout`` of its samples (rounded, at least
    one when it has two or more, never all) chosen with a seeded shuffle."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for digit in range(10):
        index = np.flatnonzero(labels == digit)
        rng.shuffle(index)
        n_held = 0
        if holdout > 0 and len(index) >= 2:
            n_held = min(len(index) - 1, max(1, round(len(index) * holdout)))
        held.append(index[:n_held])
        train.append(index[n_held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def _mnist_accuracy(model: DigitNet, mnist: MnistData | None, count: int | None) -> float | None:
    """MNIST test accuracy via ``training.evaluate`` (its fast multi-threaded path)."""
    if mnist is None:
        return None
    from drawdigit.training import evaluate

    return evaluate(model, mnist.test_images[:count], mnist.test_labels[:count]).accuracy


DISTILL_TEMPERATURE = 2.0


def _distillation(
    logits: torch.Tensor,
    teacher: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    personal: int,
) -> torch.Tensor:
    """KL divergence of the new model's softened answers on the batch's MNIST part (the
    rows after the first ``personal``) from the starting model's, scaled by T^2 as usual."""
    t = DISTILL_TEMPERATURE
    with torch.no_grad():
        target = F.softmax(teacher(x[personal:]) / t, dim=1)
    answers = F.log_softmax(logits[personal:] / t, dim=1)
    return F.kl_div(answers, target, reduction="batchmean") * t * t


def finetune(
    images: np.ndarray,
    labels: np.ndarray,
    initial: Checkpoint,
    mnist: MnistData | None = None,
    config: FinetuneConfig | None = None,
    progress: Callable[[FinetuneProgress], None] | None = None,
    cancel: threading.Event | None = None,
    stage: Callable[[str], None] | None = None,
) -> FinetuneResult:
    """Fine-tune ``initial`` on personal samples (float (N, 28, 28) in [0, 1], labels (N,)).

    Returns held-out accuracy and MNIST test accuracy before and after, and the new weights.
    ``progress`` is called every few steps (from this thread); setting ``cancel`` (also from
    ``progress``) stops before the next step and returns at once, marked ``cancelled``: no
    "after" figures are measured and no weights are returned, so a half-trained model can
    never be offered or saved. A finished run then fits the new network's own digit-ness
    head (``headfit.head_for_trained``: its hidden layer has moved), saying so to ``stage``.
    """
    config = config or FinetuneConfig()
    start = time.perf_counter()
    images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(images) != len(labels):
        raise FinetuneError(f"{len(images)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise FinetuneError("labels must be digits 0-9")
    train_idx, held_idx = stratified_split(labels, config.holdout, config.seed)
    if len(train_idx) < 2:
        raise FinetuneError(
            f"fine-tuning needs at least a few samples to learn from; there are {len(labels)}"
        )
    return _run(
        images,
        labels,
        (train_idx, held_idx),
        initial,
        mnist,
        config,
        (progress, stage),
        cancel,
        start,
    )


def _run(
    images: np.ndarray,
    labels: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    initial: Checkpoint,
    mnist: MnistData | None,
    config: FinetuneConfig,
    callbacks: tuple[Callable[[FinetuneProgress], None] | None, Callable[[str], None] | None],
    cancel: threading.Event | None,
    start: float,
) -> FinetuneResult:
    train_idx, held_idx = split
    progress, stage = callbacks
    model = initial.build_model()
    held_x, held_y = images[held_idx], labels[held_idx]
    heldout_before = accuracy(model, held_x, held_y)
    mnist_before = _mnist_accuracy(model, mnist, config.mnist_eval)

    generator = torch.Generator().manual_seed(config.seed)
    personal_x = torch.from_numpy(images[train_idx]).unsqueeze(1)
    personal_y = torch.from_numpy(labels[train_idx])
    use_mnist = mnist is not None and config.mnist_batch > 0
    if use_mnist:
        mnist_x = torch.from_numpy(mnist.train_images)  # type: ignore[union-attr]
        mnist_y = torch.from_numpy(mnist.train_labels.astype(np.int64))  # type: ignore[union-attr]

    # channels_last and the pool-before-ReLU forward: the same function, about 2x faster
    model = model.to(memory_format=torch.channels_last)
    sample = personal_x[:2].contiguous(memory_format=torch.channels_last)
    forward = forward_for(model, sample)
    model.train()
    teacher = None
    if use_mnist and config.distill > 0:
        starting = initial.build_model().to(memory_format=torch.channels_last).eval()
        teacher = forward_for(
            starting, personal_x[:2].contiguous(memory_format=torch.channels_last)
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    train_start = time.perf_counter()
    steps_done, cancelled = 0, False
    for step in range(1, config.steps + 1):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        pick = torch.randint(len(personal_y), (config.personal_batch,), generator=generator)
        x, y = personal_x[pick], personal_y[pick]
        if config.augment:
            x = augment_batch(x, generator, PERSONAL_AUGMENT)
        if use_mnist:
            pick = torch.randint(len(mnist_y), (config.mnist_batch,), generator=generator)
            x = torch.cat([x, mnist_x[pick].unsqueeze(1).to(torch.float32) / 255.0])
            y = torch.cat([y, mnist_y[pick]])
        x = x.contiguous(memory_format=torch.channels_last)
        logits = forward(x)
        loss = F.cross_entropy(logits, y)
        if teacher is not None:
            loss = loss + config.distill * _distillation(logits, teacher, x, config.personal_batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps_done = step
        if progress is not None and (step % 10 == 0 or step == config.steps):
            elapsed = time.perf_counter() - start
            progress(FinetuneProgress(step, config.steps, float(loss.item()), elapsed))
    train_seconds = time.perf_counter() - train_start
    torch.set_num_threads(threads_before)
    model.eval()
    # Cancelled: back at once, with nothing to offer (no weights, no "after" passes).
    after = None if cancelled else _after(model, mnist, config, held_x, held_y)
    head, head_note, unseen = None, "", frozenset()
    if after is not None:  # the new network's own head (its hidden layer has moved)
        from drawdigit.headfit import FITTING_HEAD, folds_unseen, head_for_trained

        if stage is not None:
            stage(FITTING_HEAD)
        unseen = folds_unseen(None, initial.metadata)
        pairs = (mnist.train_images, mnist.train_labels) if mnist is not None else None
        head, head_note = head_for_trained(model, unseen, pairs, initial.head, config.seed)
    return FinetuneResult(
        state_dict=after.state_dict if after else {},
        model_config=initial.config,
        heldout_before=heldout_before,
        heldout_after=after.heldout if after else None,
        mnist_before=mnist_before,
        mnist_after=after.mnist if after else None,
        train_count=len(train_idx),
        heldout_count=len(held_idx),
        steps_done=steps_done,
        seconds=time.perf_counter() - start,
        train_seconds=train_seconds,
        cancelled=cancelled,
        warnings=_forgetting_warnings(mnist_before, after.mnist if after else None)
        + _head_warnings(after is not None and head is None, head_note),
        head=head,
        pen_folds_unseen=tuple(sorted(unseen)),
    )


@dataclass(frozen=True)
class _After:
    """What a finished run measures and returns: the held-out and MNIST accuracy of the
    new model, and a copy of its weights."""

    heldout: float | None
    mnist: float | None
    state_dict: dict[str, torch.Tensor]


def _after(
    model: DigitNet,
    mnist: MnistData | None,
    config: FinetuneConfig,
    held_x: np.ndarray,
    held_y: np.ndarray,
) -> _After:
    return _After(
        heldout=accuracy(model, held_x, held_y),
        mnist=_mnist_accuracy(model, mnist, config.mnist_eval),
        state_dict=copy_state_dict(model),
    )


def _head_warnings(missing: bool, note: str) -> list[str]:
    return [f"The new model has {note}: it will not answer 'not a digit'."] if missing else []


def _forgetting_warnings(before: float | None, after: float | None) -> list[str]:
    """The warning shown with the result when MNIST accuracy fell by MNIST_DROP_WARNING."""
    if before is None or after is None or before - after <= MNIST_DROP_WARNING:
        return []
    return [
        f"MNIST test accuracy fell by {(before - after) * 100:.2f} points: the new model has "
        "begun to forget other handwriting. Using it is your choice; more samples, in more "
        "varied shapes, make the fall smaller."
    ]


# --------------------------------------------------------------------------- the samples


def load_my_samples() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The personal sample set as arrays (``samples.load_arrays``), with the warnings for
    damaged files and inkless drawings that were left out."""
    from drawdigit.samples import list_samples, load_arrays

    found = list_samples()
    images, labels, warnings = load_arrays(found.samples)
    return images, labels, found.warnings + warnings


def finetune_on_my_samples(
    config: FinetuneConfig | None = None,
    progress: Callable[[FinetuneProgress], None] | None = None,
    cancel: threading.Event | None = None,
    stage: Callable[[str], None] | None = None,
) -> FinetuneResult:
    """Fine-tune the model in use on the personal sample set, with MNIST when it is found.

    The one call the GUI makes: reads the samples (damaged files skipped, reported in
    ``warnings``), the model in use (``store.load_checkpoint_in_use``) and MNIST
    (``mnist.find_data_dir``; without it the run is personal-only and says so).
    """
    from drawdigit.mnist import MnistError, find_data_dir, load_mnist
    from drawdigit.store import load_checkpoint_in_use

    images, labels, warnings = load_my_samples()
    initial, _kind, model_warnings = load_checkpoint_in_use()
    warnings += model_warnings
    mnist = None
    data_dir = find_data_dir()
    if data_dir is None:
        warnings.append("MNIST was not found: fine-tuned on your samples only.")
    else:
        try:
            mnist = load_mnist(data_dir, verify=False)
        except MnistError as exc:
            warnings.append(f"MNIST could not be read ({exc}): fine-tuned on your samples only.")
    result = finetune(images, labels, initial, mnist, config, progress, cancel, stage)
    result.warnings = warnings + result.warnings
    return result
