"""The training dialog's work off the GUI thread: a run, the warm-up, the MNIST download.

Each is a plain generator or function run by ``workers.GeneratorWorker`` (a QThread per
job, the superqt pattern): it never touches a widget and hands plain values to the GUI
thread (small frozen dataclasses of numbers, copied numpy arrays, and at the end a copied
CPU ``state_dict``) by yielding them or returning them.

- :func:`train_run` yields a :class:`Stage` (what it is doing, for the status line) and the
  engine's events (``TrainingStarted``, ``BatchProgress``, ``EpochEnd``) and returns a
  :class:`TrainingOutcome`; a cancel ends it as the worker's ``aborted``, any failure as
  ``errored`` (:func:`describe_error` words it for the dialog).
- Cancel and pause go through ``training.TrainControl`` (the worker's control), which
  ``fit`` checks before every batch: a stop is never more than one batch away.

Thread counts: see :func:`training_threads`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawdigit.gui.workers import WorkCancelled, WorkerControl

if TYPE_CHECKING:  # numpy/torch are imported in the worker thread, when a run starts
    import numpy as np

    from drawdigit.finetune import MixedReport
    from drawdigit.mnist import MnistData
    from drawdigit.training import TrainConfig, TrainControl, TrainingDone

# How many of the most confident mistakes the result gallery shows.
GALLERY_SIZE = 60
# Test images evaluated per step at the end; cancel is checked between steps.
EVAL_CHUNK = 1000


def training_threads(cores: int | None = None) -> int:
    """CPU threads for training inside the app while the user is not drawing: all cores.

    Measured on the quiet 2-core machine (benchmarks/bench_gui_training.py): with one
    thread the app trained at 53% of headless ``drawdigit train``'s speed (2,628 vs 5,003
    images/s), with both at 89-93%, the longest event-loop stall 35-46 ms. ``fit`` shards
    every batch over plain threads rather than torch's OpenMP team, whose spinning barriers
    collapse as soon as another thread wants a core (2,371 -> 113 images/s at batch 64).
    """
    return cores or os.cpu_count() or 1


def drawing_threads(cores: int | None = None) -> int:
    """CPU threads for training while the user draws *and* the app lags: every core but
    one, at least one (the training dialog's ``_probe_lag`` decides when).

    Drawing is what the app is for: the canvas, live recognition and the GUI thread need a
    core (and the GIL) when the machine has none to spare.
    """
    return max(1, training_threads(cores) - 1)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class TrainingJob:
    """Everything a run needs, fixed when Start is pressed (plain values only)."""

    config: TrainConfig
    data_dir: Path | None = None  # where the four MNIST files are...
    data: MnistData | None = None  # ...or the data itself, already in memory
    train_limit: int | None = None  # use only the first N training images (tests)
    test_limit: int | None = None  # and the first N test images
    compare_current: bool = True  # also evaluate the model in use, for the comparison
    gallery_size: int = GALLERY_SIZE
    with_my_samples: bool = False  # mix the personal samples in (finetune.mix_with_mnist)


@dataclass(frozen=True)
class TrainingOutcome:
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


class NoStartingModel(Exception):
    """“Start from the model in use” was chosen, but no model could be loaded."""


@dataclass(frozen=True)
class Stage:
    """What a run is doing now, for the status line (yielded by :func:`train_run`)."""

    text: str


# --------------------------------------------------------------------------- training


def train_run(job: TrainingJob, control: TrainControl) -> Iterator[Any]:
    """One run, as a generator for ``GeneratorWorker(train_run, job, control, control=control)``.

    Yields :class:`Stage` and the engine's events in order and returns the
    :class:`TrainingOutcome`; raises ``WorkCancelled`` when cancelled outside ``fit``.
    """
    from drawdigit.training import TrainingDone, fit

    def check_cancel() -> None:
        if control.cancelled:
            raise WorkCancelled

    yield Stage("Loading MNIST…")
    data = job.data if job.data is not None else _load_data(job.data_dir)
    data = _limit(data, job.train_limit, job.test_limit)
    check_cancel()
    mix, sample_warnings = None, []
    if job.with_my_samples:
        from drawdigit.finetune import load_my_samples, mix_with_mnist

        yield Stage("Reading your samples…")
        images, labels, sample_warnings = load_my_samples()
        mix = mix_with_mnist(data, images, labels, seed=job.config.seed)
        data = mix.data
        check_cancel()
    current, description = _current_model()
    initial = None
    if not job.config.from_scratch:
        if current is None:
            raise NoStartingModel(
                f"There is no model to start from ({description}). Choose “Scratch "
                "(random weights)” under Start from."
            )
        initial = current
    check_cancel()
    yield Stage("Preparing…")
    done: TrainingDone | None = None
    for event in fit(job.config, data, initial=initial, control=control):
        if isinstance(event, TrainingDone):
            done = event
        else:
            yield event
    if done is None or done.cancelled or done.evaluation is None or control.cancelled:
        raise WorkCancelled
    current_accuracy = None
    if job.compare_current and current is not None:
        yield Stage("Measuring the model in use on the same test images…")
        current_accuracy = _accuracy(current.build_model(), data, check_cancel)
    outcome = _outcome(done, data, current_accuracy, description, job.gallery_size)
    if mix is not None:
        from drawdigit.finetune import mixed_report

        report = mixed_report(mix, current, done.state_dict, done.model_config, sample_warnings)
        outcome = replace(outcome, personal=report)
    return outcome


def describe_error(exc: BaseException) -> str:
    """One clear sentence for the dialog, whatever went wrong in the worker."""
    from drawdigit.finetune import FinetuneError
    from drawdigit.mnist import MnistError
    from drawdigit.store import ModelFileError
    from drawdigit.training import TrainingError

    text = str(exc) or type(exc).__name__
    if isinstance(exc, NoStartingModel):
        return text
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


def _load_data(data_dir: Path | None) -> MnistData:
    from drawdigit.mnist import MnistError, load_mnist

    if data_dir is None:
        raise MnistError("no MNIST folder was chosen")
    return load_mnist(data_dir)


def _limit(data: MnistData, train: int | None, test: int | None) -> MnistData:
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


def _current_model() -> tuple[Any, str]:
    """The checkpoint in use (what the main window and the CLI answer with), or why not."""
    from drawdigit.inference import load_predictor
    from drawdigit.store import load_checkpoint

    try:
        predictor, _warnings = load_predictor()
        checkpoint = load_checkpoint(predictor.source.path)
    except Exception as exc:  # noqa: BLE001 - no usable model: say so, train from scratch only
        return None, f"no usable model ({exc})"
    return checkpoint, predictor.source.describe()


def _accuracy(model: Any, data: MnistData, check_cancel: Any) -> float:
    """Test accuracy of ``model``, a chunk at a time so that a cancel is never kept waiting."""
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(data.test_labels), EVAL_CHUNK):
            check_cancel()
            chunk = data.test_images[start : start + EVAL_CHUNK]
            x = torch.from_numpy(chunk).to(torch.float32).div_(255.0).unsqueeze(1)
            guesses = model(x).argmax(1).numpy()
            correct += int((guesses == data.test_labels[start : start + EVAL_CHUNK]).sum())
    return correct / len(data.test_labels) if len(data.test_labels) else 0.0


def _outcome(
    done: TrainingDone,
    data: MnistData,
    current_accuracy: float | None,
    description: str,
    gallery_size: int,
) -> TrainingOutcome:
    """The result to show, from the run's final evaluation (done.evaluation) and the data."""
    import numpy as np

    evaluation = done.evaluation
    assert evaluation is not None
    labels = np.asarray(data.test_labels, dtype=np.int64)
    guesses = np.asarray(evaluation.predictions, dtype=np.int64)
    confidences = np.asarray(evaluation.confidences, dtype=np.float64)
    wrong = np.flatnonzero(guesses != labels)
    order = wrong[np.argsort(-confidences[wrong], kind="stable")][:gallery_size]
    return TrainingOutcome(
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


# --------------------------------------------------------------------------- warm-up


def prepare_ahead(config: TrainConfig | None, data_dir: Path | None) -> MnistData | None:
    """Get a run ready before Start is pressed: warm torch up once, and load MNIST.

    Why warm up: the first batch of the first run imports a good part of torch lazily (the
    optimisers pull in ``torch._dynamo``, sympy...) and initialises the CPU kernels. Imports
    hold the GIL for long stretches, so done at Start they froze the GUI thread for up to
    half a second in the middle of a run. Done here, on fake batches, nobody is watching a
    progress bar yet. Why load MNIST here: reading and checking the four files takes most
    of a second, which Start would otherwise wait for. Returns the data (None: no folder,
    or it could not be read; a run started on it reports why).
    """
    try:
        if config is not None:
            warm_up(config)
        if data_dir is not None:
            from drawdigit.mnist import load_mnist

            return load_mnist(data_dir)
    except Exception:  # noqa: BLE001 - an optimisation only; a run reports errors
        pass
    return None


def warm_up(config: TrainConfig) -> None:
    """Exercise fit() (both optimisers, with augmentation) and evaluation on fake data."""
    import numpy as np

    import drawdigit.inference  # noqa: F401 - imported now rather than mid-run
    from drawdigit.mnist import MnistData
    from drawdigit.store import active_model_path
    from drawdigit.training import fit

    active_model_path()  # platformdirs, imported on first use

    n = config.batch_size
    data = MnistData(
        train_images=np.zeros((n, 28, 28), np.uint8),
        train_labels=np.arange(n, dtype=np.uint8) % 10,
        test_images=np.zeros((10, 28, 28), np.uint8),
        test_labels=np.arange(10, dtype=np.uint8),
    )
    for optimizer in ("rmsprop", "adam"):
        tiny = replace(config, epochs=1, optimizer=optimizer, augment=True, from_scratch=True)
        for _event in fit(tiny, data):
            pass


# --------------------------------------------------------------------------- download


@dataclass(frozen=True)
class DownloadStatus:
    """Plain-value copy of ``download.DownloadProgress`` for the GUI thread."""

    file: str
    bytes_done: int
    bytes_total: int | None
    files_done: int
    files_total: int


def download(dest: Path, mirrors: tuple[str, ...] | None, control: WorkerControl) -> str:
    """Fetch MNIST into ``dest``; progress goes out as :class:`DownloadStatus` through
    ``control.report`` (at most ~20 a second, and every file's end). Returns the folder.

    Cancel (``control.event``) ends it as the worker's ``aborted``; finished files stay.
    """
    from drawdigit.download import DownloadCancelled, download_mnist

    last = [0.0]

    def report(p: Any) -> None:
        now = time.monotonic()
        complete = p.bytes_total is not None and p.bytes_done >= p.bytes_total
        if not complete and now - last[0] < 0.05:
            return
        last[0] = now
        control.report(
            DownloadStatus(p.file, p.bytes_done, p.bytes_total, p.files_done, p.files_total)
        )

    kwargs: dict[str, Any] = {"progress": report, "cancel": control.event}
    if mirrors is not None:
        kwargs["mirrors"] = mirrors
    try:
        download_mnist(dest, timeout=15, **kwargs)
    except DownloadCancelled as exc:
        raise WorkCancelled from exc
    return str(dest)


def describe_download_error(exc: BaseException, dest: Path) -> str:
    """One clear sentence for a download that failed."""
    from drawdigit.download import DownloadError

    if isinstance(exc, DownloadError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"Cannot write to {dest}: {exc.strerror or exc}"
    return f"Download failed: {exc} ({type(exc).__name__})"


def with_threads(config: TrainConfig, threads: int | None) -> TrainConfig:
    """``config`` with the app's thread count unless it names one itself."""
    if getattr(config, "threads", None) is not None or threads is None:
        return config
    return replace(config, threads=threads)
