"""One training run, the same for the command line and the app's training dialog.

A run is: load MNIST (and keep the first N images for quick runs), mix in the user's
samples when asked, load the model in use (to start from it, and to compare with it), fit,
measure the model in use on the same test images, build the report (confusion matrix,
gallery of the most confident mistakes, the kept-aside samples before and after), and save
or activate the result. ``drawdigit train`` and ``gui.training_worker.train_run`` both
call :func:`prepare_run`, iterate :meth:`PreparedRun.fit` (each shows the events its own
way) and call :func:`report_run`; they differ only in how they show progress and errors.

The "MNIST + my samples" recipe lives here too (:data:`MIXED_RECIPE`,
:func:`mix_with_mnist`, :func:`mixed_report`): it is a training run with the personal
samples appended to MNIST's training set, unlike ``finetune``'s quick steps.

Nothing here prints or imports Qt. Importing it loads no torch (``drawdigit.training``
hands out its settings without it): the dialog builds a job on the GUI thread, and numpy
and torch come in when the worker's thread prepares the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawdigit.training import TrainConfig

if TYPE_CHECKING:
    import numpy as np
    import torch

    from drawdigit.digitness import Digitness
    from drawdigit.mnist import MnistData
    from drawdigit.model import ModelConfig
    from drawdigit.store import Checkpoint
    from drawdigit.training import TrainControl, TrainingDone, TrainingEvent

# How many of the most confident mistakes the result gallery shows.
GALLERY_SIZE = 60

# A whole run on "MNIST + my samples", from the model in use: one epoch at a gentle peak rate
# with augmentation, so the samples (3% of what is seen) are learnt as variants, and MNIST's
# 60,000 keep the rest of what the network knows. Measured from the bundled model with 150
# samples of a made-up style (benchmarks/bench_finetune.py --mixed): a separate held-out set
# in that style went 84.3% -> 100%, MNIST test 99.47% -> 99.41%, in 16.5 s on two cores.
# With the previous bundled model: a share of 5% gave -0.22 points on MNIST, 3% -0.11, 2%
# -0.16 but only 98.3% on the style; one more epoch on MNIST alone cost ~0.14 points by itself,
# and a peak rate of 3e-4 or 1e-3 changed nothing that the noise did not.
MIXED_RECIPE = TrainConfig(
    epochs=1,
    batch_size=128,
    lr=5e-4,
    optimizer="adam",
    schedule="onecycle",
    augment=True,
    from_scratch=False,
)
# The share of every epoch that is personal samples (copies of them, each varied by fit's
# augmentation).
MIXED_SHARE = 0.03


class NoStartingModel(Exception):
    """“Start from the model in use” was chosen, but no model could be loaded."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"There is no model to start from ({reason})")
        self.reason = reason


class RunCancelled(Exception):
    """The run was cancelled, or fit ended without a finished model to report on."""


class RunDiverged(Exception):
    """The run's weights cannot answer (``store.weights_problem``): it diverged. Nothing is
    reported, offered or saved."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"Training diverged: {problem}. Nothing was saved; a lower learning rate may help"
        )


def _no_stage(_text: str) -> None:
    """Default ``stage`` callback: the command line shows no stages."""


def _never_cancelled() -> None:
    """Default ``check_cancel`` callback: nothing can cancel."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class TrainingJob:
    """Everything a run needs, fixed when it starts (plain values only)."""

    config: TrainConfig
    data_dir: Path | None = None  # where the four MNIST files are...
    data: MnistData | None = None  # ...or the data itself, already in memory
    train_limit: int | None = None  # use only the first N training images (tests)
    test_limit: int | None = None  # and the first N test images
    compare_current: bool = True  # also evaluate the model in use, for the comparison
    gallery_size: int = GALLERY_SIZE
    with_my_samples: bool = False  # mix the personal samples in (mix_with_mnist)


@dataclass(frozen=True)
class PersonalMix:
    """MNIST with the user's samples appended to its training set, and the part of them kept
    aside to measure the run on (never trained on)."""

    data: MnistData
    heldout_images: np.ndarray  # float32 (k, 28, 28) in [0, 1]
    heldout_labels: np.ndarray  # int64 (k,)
    train_count: int  # distinct personal samples trained on
    copies: int  # how often each of them is in an epoch


@dataclass(frozen=True)
class MixedReport:
    """How a run on "MNIST + my samples" did on the samples kept aside from it."""

    trained: int  # distinct samples trained on
    copies: int  # copies of each in an epoch
    heldout: int  # samples kept aside
    before: float | None  # the starting model on them (None: nothing kept aside, or no model)
    after: float | None  # the trained weights on them
    warnings: tuple[str, ...] = ()  # damaged or inkless sample files that were left out

    def metadata(self) -> dict[str, object]:
        """JSON-able facts for the saved model's metadata."""
        return {
            "personal_samples": self.trained,
            "personal_heldout": self.heldout,
            "personal_heldout_before": self.before,
            "personal_heldout_after": self.after,
        }


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to fit: the data in memory and the models loaded, nothing trained yet."""

    job: TrainingJob
    data: MnistData  # limited, with the personal samples mixed in when asked for
    initial: Checkpoint | None  # the starting weights; None: from scratch
    current: Checkpoint | None  # the model in use, when it was loaded (compare, "before")
    current_description: str  # e.g. "bundled model, MNIST test accuracy 99.10%"
    mix: PersonalMix | None = None
    sample_warnings: tuple[str, ...] = ()  # personal sample files left out
    model_warnings: tuple[str, ...] = ()  # e.g. a damaged active model, the bundled one used
    mnist_count: int = 0  # the first N training images are MNIST's (then pen ink, samples)

    @property
    def config(self) -> TrainConfig:
        return self.job.config

    def fit(self, control: TrainControl | None = None) -> Iterator[TrainingEvent]:
        """``training.fit`` on this run's data from its starting weights."""
        from drawdigit.training import fit

        return fit(self.config, self.data, initial=self.initial, control=control)


@dataclass(frozen=True)
class RunReport:
    """A finished run, ready to show and to save: copies, nothing shared with the thread."""

    done: TrainingDone  # has the copied CPU state_dict, config and test accuracy
    test_accuracy: float
    test_count: int
    confusion: np.ndarray  # (10, 10) int64, rows: true digit, columns: guess
    per_class: np.ndarray  # (10,) accuracy per true digit
    mistakes: np.ndarray  # (k, 28, 28) uint8, the most confident wrong guesses first
    mistake_labels: np.ndarray  # (k,) true digits
    mistake_guesses: np.ndarray  # (k,) guesses
    mistake_confidences: np.ndarray  # (k,) probability given to the guess
    current_accuracy: float | None  # the model in use on the same test images
    current_description: str  # e.g. "bundled model, MNIST test accuracy 99.10%"
    personal: MixedReport | None = None  # runs with the personal samples mixed in
    head: Digitness | None = None  # the new network's digit-ness head (None: could not fit)
    head_note: str = ""  # why there is no head, or how long fitting it took
    pen_folds_unseen: tuple[int, ...] = ()  # the shipped pen ink's writers it never saw
    data: str = ""  # what it was trained on, in words (``describe_data``)

    def metadata(self, source: str) -> dict[str, Any]:
        """What the saved model's metadata adds to ``training.trained_metadata``'s."""
        personal = self.personal.metadata() if self.personal is not None else {}
        return {
            "source": source,
            "test_images": self.test_count,
            "pen_folds_unseen": list(self.pen_folds_unseen),
            "data": self.data,
            **personal,
        }


# --------------------------------------------------------------------------- the run


def prepare_run(
    job: TrainingJob,
    stage: Callable[[str], None] = _no_stage,
    check_cancel: Callable[[], None] = _never_cancelled,
    warn: Callable[[str], None] | None = None,
) -> PreparedRun:
    """Load the data and the models a run needs; ``stage`` hears what it is doing.

    ``check_cancel`` is called between the steps and may raise (e.g. :class:`RunCancelled`);
    ``warn`` hears every warning as it arises (files left out, a damaged active model), so
    a front end can show them even when a later step fails. Raises ``MnistError`` (no or
    bad data), ``FinetuneError`` (no personal samples to train on) or
    :class:`NoStartingModel`.
    """
    stage("Loading MNIST…")
    data = job.data if job.data is not None else _load_data(job.data_dir)
    data = limit_data(data, job.train_limit, job.test_limit)
    mnist_count = len(data.train_labels)
    check_cancel()
    config = job.config
    if config.pen_digits or config.pen_not_digits:
        from drawdigit.pendata import mix_into

        stage("Adding the pen-drawn digits and letters…")
        data = mix_into(data, config.pen_digits, config.pen_not_digits, config.leave_out_fold)
        check_cancel()
    mix, sample_warnings = None, []
    if job.with_my_samples:
        from drawdigit.finetune import load_my_samples

        stage("Reading your samples…")
        images, labels, sample_warnings = load_my_samples()
        for warning in sample_warnings if warn is not None else ():
            warn(warning)
        mix = mix_with_mnist(data, images, labels, seed=job.config.seed)
        data = mix.data
        check_cancel()
    current, description, model_warnings = None, "not loaded", []
    if job.compare_current or not job.config.from_scratch:
        current, description, model_warnings = _model_in_use()
        for warning in model_warnings if warn is not None else ():
            warn(warning)
    if not job.config.from_scratch and current is None:
        raise NoStartingModel(description)
    check_cancel()
    stage("Preparing…")
    return PreparedRun(
        job=job,
        data=data,
        initial=None if job.config.from_scratch else current,
        current=current,
        current_description=description,
        mix=mix,
        sample_warnings=tuple(sample_warnings),
        model_warnings=tuple(model_warnings),
        mnist_count=mnist_count,
    )


def report_run(
    prepared: PreparedRun,
    done: TrainingDone | None,
    stage: Callable[[str], None] = _no_stage,
    check_cancel: Callable[[], None] = _never_cancelled,
) -> RunReport:
    """The report on a fitted run; raises :class:`RunCancelled` if it did not finish and
    :class:`RunDiverged` if its weights cannot answer.

    Measures the model in use on the same test images (when the job asks for it and one
    was loaded) and the kept-aside personal samples before and after.
    """
    from drawdigit.store import weights_problem

    if done is None or done.cancelled or done.evaluation is None:
        raise RunCancelled
    problem = weights_problem(done.model_config, done.state_dict)
    if problem is not None:
        raise RunDiverged(problem)
    check_cancel()
    from drawdigit.training import accuracy

    job, data = prepared.job, prepared.data
    current_accuracy = None
    if job.compare_current and prepared.current is not None:
        stage("Measuring the model in use on the same test images…")
        model = prepared.current.build_model()
        current_accuracy = accuracy(model, data.test_images, data.test_labels, check_cancel)
    report = _report(done, data, current_accuracy, prepared.current_description, job.gallery_size)
    check_cancel()
    from drawdigit.headfit import FITTING_HEAD

    stage(FITTING_HEAD)
    report = replace(report, data=describe_data(prepared), **_fit_head(prepared, done))
    if prepared.mix is not None:
        personal = mixed_report(
            prepared.mix,
            prepared.current,
            done.state_dict,
            done.model_config,
            prepared.sample_warnings,
        )
        report = replace(report, personal=personal)
    return report


def describe_data(prepared: PreparedRun) -> str:
    """What a run trained on, for the model's metadata: MNIST, the shipped pen ink (and
    whose), the user's samples."""
    config = prepared.config
    parts = [f"MNIST training images ({prepared.mnist_count:,})"]
    if config.pen_digits or config.pen_not_digits:
        writers = (
            "every writer"
            if config.leave_out_fold is None
            else f"all but writer fold {config.leave_out_fold}"
        )
        parts.append(
            f"UNIPEN pen-drawn digits x{config.pen_digits} and letters and symbols"
            f" x{config.pen_not_digits} (resources/data, CC BY 4.0; {writers})"
        )
    if prepared.mix is not None:
        parts.append(f"{prepared.mix.train_count} of your samples x{prepared.mix.copies}")
    return "; ".join(parts)


def _fit_head(prepared: PreparedRun, done: TrainingDone) -> dict[str, Any]:
    """The new network's digit-ness head (``headfit.head_for_trained``), for ``RunReport``."""
    from drawdigit.headfit import folds_unseen, head_for_trained
    from drawdigit.model import DigitNet

    starting = prepared.initial
    unseen = folds_unseen(prepared.config, starting.metadata if starting is not None else None)
    network = DigitNet(done.model_config)
    network.load_state_dict(done.state_dict)
    count = prepared.mnist_count
    mnist = (prepared.data.train_images[:count], prepared.data.train_labels[:count])
    head, note = head_for_trained(
        network,
        unseen,
        mnist if count else None,
        starting.head if starting is not None else None,
        done.config.seed,
    )
    return {"head": head, "head_note": note, "pen_folds_unseen": tuple(sorted(unseen))}


def activate_run(report: RunReport, source: str) -> Path:
    """Make a run's model the one in use (``store.activate_model``); returns its path.

    ``source`` says who made it, e.g. "drawdigit training dialog" or "drawdigit train".
    """
    from drawdigit.store import activate_model, active_model_path
    from drawdigit.training import trained_metadata

    done = report.done
    metadata = trained_metadata(done, report.metadata(source))
    head = report.head.to_head() if report.head is not None else None
    activate_model(done.state_dict, done.model_config, metadata, head)
    return active_model_path()


def describe_error(exc: BaseException) -> str:
    """One clear sentence for the training dialog, whatever stopped a run."""
    from drawdigit.finetune import FinetuneError
    from drawdigit.mnist import MnistError
    from drawdigit.store import ModelFileError
    from drawdigit.training import TrainingError

    text = str(exc) or type(exc).__name__
    if isinstance(exc, RunDiverged):
        return f"{text}."
    if isinstance(exc, NoStartingModel):
        return f"{text}. Choose “Scratch (random weights)” under Start from."
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text:
        return (
            "Out of memory: training stopped. Try a smaller batch size, close other programs, "
            "or train on the CPU."
        )
    if isinstance(exc, MnistError):
        return f"The MNIST data could not be used: {text}"
    if isinstance(exc, FinetuneError):
        return f"Your samples could not be used: {text}. Add some with Correct in the main window."
    if isinstance(exc, TrainingError):
        return f"Training could not start: {text}"
    if isinstance(exc, ModelFileError):
        return f"The model in use could not be read: {text}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"A file error stopped training: {exc.strerror or text}{where}"
    return f"Training failed: {text} ({type(exc).__name__})"


def limit_data(data: MnistData, train: int | None, test: int | None) -> MnistData:
    """The first ``train``/``test`` images (copies, so the full arrays can be freed)."""
    from drawdigit.mnist import MnistData

    if train is None and test is None:
        return data
    return MnistData(
        train_images=data.train_images[:train].copy(),
        train_labels=data.train_labels[:train].copy(),
        test_images=data.test_images[:test].copy(),
        test_labels=data.test_labels[:test].copy(),
    )


def _load_data(data_dir: Path | None) -> MnistData:
    from drawdigit.mnist import MnistError, load_mnist

    if data_dir is None:
        raise MnistError("no MNIST folder was chosen")
    return load_mnist(data_dir)


def _model_in_use() -> tuple[Checkpoint | None, str, list[str]]:
    """The checkpoint in use (what the main window and the CLI answer with), its
    description and warnings; or None and why not."""
    from drawdigit.inference import ModelSource
    from drawdigit.store import ModelFileError, load_checkpoint_in_use

    try:
        checkpoint, kind, warnings = load_checkpoint_in_use()
    except (ModelFileError, OSError) as exc:  # not even the bundled model: from scratch only
        return None, f"no usable model ({exc})", []
    assert checkpoint.path is not None
    source = ModelSource(kind, checkpoint.path, checkpoint.metadata)
    return checkpoint, source.describe(), warnings


def _report(
    done: TrainingDone,
    data: MnistData,
    current_accuracy: float | None,
    description: str,
    gallery_size: int,
) -> RunReport:
    """The result to show, from the run's final evaluation (done.evaluation) and the data."""
    import numpy as np

    evaluation = done.evaluation
    assert evaluation is not None
    labels = np.asarray(data.test_labels, dtype=np.int64)
    guesses = np.asarray(evaluation.predictions, dtype=np.int64)
    confidences = np.asarray(evaluation.confidences, dtype=np.float64)
    wrong = np.flatnonzero(guesses != labels)
    order = wrong[np.argsort(-confidences[wrong], kind="stable")][:gallery_size]
    return RunReport(
        done=done,
        test_accuracy=float(evaluation.accuracy),
        test_count=len(labels),
        confusion=np.array(evaluation.confusion, dtype=np.int64),
        per_class=np.array(evaluation.per_class, dtype=np.float64),
        mistakes=np.array(data.test_images[order], dtype=np.uint8),
        mistake_labels=labels[order].copy(),
        mistake_guesses=guesses[order].copy(),
        mistake_confidences=confidences[order].copy(),
        current_accuracy=current_accuracy,
        current_description=description,
    )


# --------------------------------------------------------------------------- MNIST + my samples


def mix_with_mnist(
    mnist: MnistData,
    images: np.ndarray,
    labels: np.ndarray,
    share: float = MIXED_SHARE,
    holdout: float = 0.25,
    seed: int = 0,
) -> PersonalMix:
    """MNIST's training set plus copies of the personal training samples making up about
    ``share`` of it; MNIST's test set as it is. The held-out split is
    ``finetune.stratified_split``'s, as for the quick fine-tune."""
    import numpy as np

    from drawdigit.finetune import FinetuneError, stratified_split
    from drawdigit.mnist import MnistData

    if not 0.0 < share < 1.0:
        raise FinetuneError(f"share must be between 0 and 1, not {share}")
    images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(images) != len(labels):
        raise FinetuneError(f"{len(images)} images but {len(labels)} labels")
    train_idx, held_idx = stratified_split(labels, holdout, seed)
    if len(train_idx) == 0:
        raise FinetuneError("there are no personal samples to train on")
    wanted = share / (1.0 - share) * len(mnist.train_labels)
    copies = max(1, round(wanted / len(train_idx)))
    mine = np.rint(np.clip(images[train_idx], 0.0, 1.0) * 255.0).astype(np.uint8)
    mine_labels = labels[train_idx].astype(mnist.train_labels.dtype)
    data = MnistData(
        train_images=np.concatenate([mnist.train_images, np.tile(mine, (copies, 1, 1))]),
        train_labels=np.concatenate([mnist.train_labels, np.tile(mine_labels, copies)]),
        test_images=mnist.test_images,
        test_labels=mnist.test_labels,
    )
    return PersonalMix(data, images[held_idx], labels[held_idx], len(train_idx), copies)


def mixed_report(
    mix: PersonalMix,
    before: Checkpoint | None,
    after: Mapping[str, torch.Tensor],
    model_config: ModelConfig,
    warnings: list[str] | tuple[str, ...] = (),
) -> MixedReport:
    """Accuracy on the kept-aside samples of the starting model ``before`` and of the
    trained weights ``after``."""
    from drawdigit.model import DigitNet
    from drawdigit.training import accuracy

    held = (mix.heldout_images, mix.heldout_labels)
    new = DigitNet(model_config)
    new.load_state_dict(after)
    return MixedReport(
        trained=mix.train_count,
        copies=mix.copies,
        heldout=len(mix.heldout_labels),
        before=accuracy(before.build_model(), *held) if before is not None else None,
        after=accuracy(new.eval(), *held),
        warnings=tuple(warnings),
    )
