"""Training and MNIST download off the GUI thread, for the training dialog.

Why this shape (the pattern of Qt's mandelbrot example and superqt's ``_qthreading``):
- A worker ``QObject`` is moved to a ``QThread`` and its ``run`` slot is started by the
  thread's ``started`` signal. It never touches a widget: it re-emits the engine's events as
  signals carrying plain values (small frozen dataclasses of numbers, copied numpy arrays,
  and at the end a copied CPU ``state_dict``), which Qt queues to the GUI thread.
- ``errored(str)`` and then ``finished()`` are emitted on every path, so the dialog can
  always put itself back in a usable state, whatever happened in the thread.
- Cancel and pause go through ``training.TrainControl``, which ``fit`` checks before every
  batch; the dialog never waits on the worker except when it closes (cancel, then
  ``thread.quit(); thread.wait()``), and that wait is at most one batch long.

Thread counts: see :func:`training_threads`.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from drawdigit.runs import (
    RunCancelled,
    RunReport,
    TrainingJob,
    describe_error,
    prepare_run,
    report_run,
)

if TYPE_CHECKING:  # torch is imported in the worker thread, when a run starts (runs.py)
    from drawdigit.training import TrainConfig, TrainControl, TrainingDone


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


# The run itself (data, samples, starting model, report) is ``drawdigit.runs``'s; the dialog
# imports the job and result types from here (the result under its old name).
TrainingOutcome = RunReport


# --------------------------------------------------------------------------- training


class TrainingWorker(QObject):
    """Runs one training job in its thread; talks only through signals.

    Signals, in order: ``stage`` (what it is doing, for the status line), ``started``
    (``training.TrainingStarted``), many ``batchProgress`` (``training.BatchProgress``), an
    ``epochEnded`` (``training.EpochEnd``) per epoch, then one of ``resultReady``
    (:class:`TrainingOutcome`), ``cancelled`` or ``errored`` (a message for the user), and
    always ``finished`` last. The events are frozen dataclasses of numbers, safe to share.
    """

    stage = Signal(str)
    started = Signal(object)
    batchProgress = Signal(object)
    epochEnded = Signal(object)
    resultReady = Signal(object)
    cancelled = Signal()
    errored = Signal(str)
    finished = Signal()

    def __init__(self, job: TrainingJob, control: TrainControl) -> None:
        super().__init__()
        self.job = job
        self.control = control

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except RunCancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure ends the run with a message
            self.errored.emit(describe_error(exc))
        finally:
            self.finished.emit()

    def _check_cancel(self) -> None:
        if self.control.cancelled:
            raise RunCancelled

    def _run(self) -> None:
        from drawdigit.training import BatchProgress, EpochEnd, TrainingDone, TrainingStarted

        stage, check = self.stage.emit, self._check_cancel
        prepared = prepare_run(self.job, stage=stage, check_cancel=check)
        done: TrainingDone | None = None
        for event in prepared.fit(control=self.control):
            if isinstance(event, BatchProgress):
                self.batchProgress.emit(event)
            elif isinstance(event, EpochEnd):
                self.epochEnded.emit(event)
            elif isinstance(event, TrainingStarted):
                self.started.emit(event)
                self.stage.emit("Training…")
            elif isinstance(event, TrainingDone):
                done = event
        self.resultReady.emit(report_run(prepared, done, stage=stage, check_cancel=check))


# --------------------------------------------------------------------------- warm-up


class WarmUpWorker(QObject):
    """Gets a run ready before Start is pressed: warms torch up once, and loads MNIST.

    Why warm up: the first batch of the first run imports a good part of torch lazily (the
    optimisers pull in ``torch._dynamo``, sympy...) and initialises the CPU kernels. Imports
    hold the GIL for long stretches, so done at Start they froze the GUI thread for up to
    half a second in the middle of a run. Done here, on fake batches, nobody is watching a
    progress bar yet. Why load MNIST here: reading and checking the four files takes most
    of a second, which Start would otherwise wait for.
    """

    dataReady = Signal(str, object)  # the folder, its MnistData
    finished = Signal()

    def __init__(self, config: TrainConfig | None, data_dir: Path | None) -> None:
        super().__init__()
        self.config = config
        self.data_dir = data_dir

    @Slot()
    def run(self) -> None:
        try:
            if self.config is not None:
                warm_up(self.config)
            if self.data_dir is not None:
                from drawdigit.mnist import load_mnist

                self.dataReady.emit(str(self.data_dir), load_mnist(self.data_dir))
        except Exception:  # noqa: BLE001, S110 - an optimisation only; a run reports errors
            pass
        finally:
            self.finished.emit()


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


class DownloadWorker(QObject):
    """Fetches MNIST into ``dest`` in its thread; ``cancel()`` is safe from any thread."""

    progress = Signal(object)  # DownloadStatus, at most ~20 per second
    succeeded = Signal(str)  # the folder now holding the four files
    cancelled = Signal()
    errored = Signal(str)
    finished = Signal()

    def __init__(self, dest: Path, mirrors: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.dest = Path(dest)
        self.mirrors = mirrors
        self._cancel = threading.Event()
        self._last_report = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        from drawdigit.download import DownloadCancelled, DownloadError, download_mnist

        kwargs: dict[str, Any] = {"progress": self._report, "cancel": self._cancel}
        if self.mirrors is not None:
            kwargs["mirrors"] = self.mirrors
        try:
            download_mnist(self.dest, timeout=15, **kwargs)
        except DownloadCancelled:
            self.cancelled.emit()
        except DownloadError as exc:
            self.errored.emit(str(exc))
        except OSError as exc:
            self.errored.emit(f"Cannot write to {self.dest}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - report anything, keep the app usable
            self.errored.emit(f"Download failed: {exc} ({type(exc).__name__})")
        else:
            self.succeeded.emit(str(self.dest))
        finally:
            self.finished.emit()

    def _report(self, p: Any) -> None:
        """Called per 64 KiB chunk: pass on at most 20 a second, and every file's end."""
        now = time.monotonic()
        complete = p.bytes_total is not None and p.bytes_done >= p.bytes_total
        if not complete and now - self._last_report < 0.05:
            return
        self._last_report = now
        self.progress.emit(
            DownloadStatus(p.file, p.bytes_done, p.bytes_total, p.files_done, p.files_total)
        )


# --------------------------------------------------------------------------- running


# Every started WorkerThread until its thread has finished: a QThread object destroyed while
# its thread runs aborts the process, so one must never be garbage collected early, even if
# the window that started it goes away without closing first.
_LIVE: set[WorkerThread] = set()


class WorkerThread:
    """A worker object and its thread, started together and stopped together.

    ``stop()`` asks the worker to end (``stop_request``), then ``quit()`` and ``wait()``:
    the thread has finished when it returns, so nothing is destroyed while still running.
    """

    def __init__(self, worker: QObject, stop_request: Any, name: str) -> None:
        self.worker = worker
        self.stop_request = stop_request
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        # Direct: quit as soon as the worker is done, even while the GUI thread is busy.
        worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        _LIVE.add(self)
        self.thread.start()

    def join(self) -> None:
        """After the worker's ``finished``: wait for the thread to leave its event loop."""
        self.thread.wait()
        _LIVE.discard(self)

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self) -> None:
        self.stop_request()
        self.thread.quit()
        self.thread.wait()
        _LIVE.discard(self)


def stop_all_workers() -> None:
    """Stop every worker thread still running (the application is quitting)."""
    for handle in list(_LIVE):
        try:
            handle.stop()
        except RuntimeError:  # its QThread is already gone: nothing left to stop
            _LIVE.discard(handle)


# Last line of defence: Python's exit must not destroy a QThread that is still running.
atexit.register(stop_all_workers)


def with_threads(config: TrainConfig, threads: int | None) -> TrainConfig:
    """``config`` with the app's thread count unless it names one itself."""
    if getattr(config, "threads", None) is not None or threads is None:
        return config
    return replace(config, threads=threads)
