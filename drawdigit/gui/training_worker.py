"""The training dialog's work off the GUI thread: a run, the warm-up, the MNIST download.

Each is a plain generator or function run by ``workers.GeneratorWorker`` (a QThread per
job, the superqt pattern): it never touches a widget and hands plain values to the GUI
thread (small frozen dataclasses of numbers, copied numpy arrays, and at the end a copied
CPU ``state_dict``) by yielding them or returning them.

- :func:`train_run` is ``drawdigit.runs``' run (``prepare_run``, ``fit``, ``report_run``, the
  same as ``drawdigit train``'s) as a generator: it yields a :class:`Stage` (what it is
  doing, for the status line) and the engine's events (``TrainingStarted``,
  ``BatchProgress``, ``EpochEnd``) and returns the ``runs.RunReport``; a cancel ends it as
  the worker's ``aborted``, any failure as ``errored`` (``runs.describe_error`` words it).
- Cancel and pause go through :class:`RunControl` (a ``training.TrainControl``, the worker's
  control), which ``fit`` checks before every batch: a stop is never more than one batch
  away.

- :func:`load_torch` imports torch in a worker thread in the way that holds the GIL least
  (see there); :func:`prepare_ahead` runs it, warms up and reads MNIST before Start, and
  says what it is doing (``Stage``) and which devices it found (``DevicesFound``).

Thread counts: see :func:`training_threads`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawdigit.gui.workers import WorkCancelled, WorkerControl
from drawdigit.runs import RunCancelled, RunReport, TrainingJob, prepare_run, report_run
from drawdigit.training import TrainControl

if TYPE_CHECKING:  # numpy/torch are imported in the worker thread, when a run starts
    from drawdigit.mnist import MnistData
    from drawdigit.training import TrainConfig


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


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Stage:
    """What a run (or the preparation ahead of one) is doing now, for the status line."""

    text: str
    error: bool = False


LOADING_TORCH = "Loading PyTorch…"


class RunControl(TrainControl):
    """``training.TrainControl`` that can also report to the worker (``bind_report``).

    ``runs.prepare_run`` and ``report_run`` tell what they do through a callback; this
    turns each into a :class:`Stage` emitted as the worker's ``yielded``, in order with the
    events the generator yields.
    """

    def __init__(self) -> None:
        super().__init__()
        self._report: Callable[[Any], None] | None = None

    def bind_report(self, emit: Callable[[Any], None]) -> None:
        self._report = emit

    def stage(self, text: str) -> None:
        if self._report is not None:
            self._report(Stage(text))

    def check(self) -> None:
        """Raise ``WorkCancelled`` if a stop was asked for (between the run's steps)."""
        if self.cancelled:
            raise WorkCancelled


def train_run(job: TrainingJob, control: RunControl) -> Iterator[Any]:
    """One run, for ``GeneratorWorker(train_run, job, control, control=control)``.

    Yields the engine's events in order (and reports :class:`Stage` through ``control``)
    and returns the ``RunReport``; raises ``WorkCancelled`` when cancelled.
    """
    from drawdigit.training import TrainingDone

    try:
        if not torch_loaded():
            yield Stage(LOADING_TORCH)  # Start pressed before the warm-up had loaded it
        load_torch()
        prepared = prepare_run(job, control.stage, control.check)
        done: TrainingDone | None = None
        for event in prepared.fit(control):
            if isinstance(event, TrainingDone):
                done = event
            else:
                yield event
        control.check()
        report: RunReport = report_run(prepared, done, control.stage, control.check)
    except RunCancelled as exc:  # fit ended without a finished model: it was cancelled
        raise WorkCancelled from exc
    return report


# --------------------------------------------------------------------------- loading torch

_torch_lock = threading.Lock()
_torch_ready = threading.Event()
SWITCH_INTERVAL = 0.001  # seconds: the GIL switch interval while loading or training
_switch_lock = threading.Lock()
_switch_holders = 0
_switch_saved = 0.005


def shorten_switch_interval(interval: float = SWITCH_INTERVAL) -> None:
    """Hand the GIL over every ``interval`` (not Python's 5 ms) until the matching
    :func:`restore_switch_interval`. Process-wide and counted: a run and the warm-up may
    overlap, and what was there before the first is put back after the last.

    Why: the GUI thread needs the GIL for every Qt event it handles in Python, and waits up
    to a whole interval each time while another thread runs Python. Measured while torch
    loads with strokes drawn (bench_gui_training.py --torch-load, 2-core machine at load
    6): longest stall 116 and 210 ms at 5 ms, 76 and 132 ms at 1 ms; during a run see
    ``responsiveness.ShortSwitchInterval``.
    """
    global _switch_holders, _switch_saved
    with _switch_lock:
        if _switch_holders == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, interval))
        _switch_holders += 1


def restore_switch_interval() -> None:
    """One :func:`shorten_switch_interval` is over (the last one puts the old value back)."""
    global _switch_holders
    with _switch_lock:
        if _switch_holders == 0:
            return
        _switch_holders -= 1
        if _switch_holders == 0:
            sys.setswitchinterval(_switch_saved)


@contextlib.contextmanager
def switching_often() -> Iterator[None]:
    """:func:`shorten_switch_interval` for the time of a ``with`` block."""
    shorten_switch_interval()
    try:
        yield
    finally:
        restore_switch_interval()


def torch_loaded() -> bool:
    """Whether :func:`load_torch` has finished in this process."""
    return _torch_ready.is_set()


def load_torch() -> None:
    """Import torch (in a worker thread) so that the GUI thread keeps running meanwhile.

    An import holds the GIL for every step done in C, and two such steps of ``import
    torch`` froze the event loop for far longer than a drawing tolerates (measured with a
    10 ms timer on the 2-core machine, benchmarks/bench_gui_training.py ``--torch-load``):

    - the dynamic loader mapping and relocating ``libtorch_cpu.so`` (415 MB) while the
      import machinery holds the GIL: one stall of 0.6-1.2 s. Here the library is loaded
      first by calling libc's ``dlopen`` through ctypes, which lets go of the GIL during a
      foreign call; the import then finds it loaded (:func:`_preload_torch_libraries`);
    - full garbage collections, triggered by the ~10^6 objects the import creates, each
      walking all of them with the GIL held: 80-430 ms each, several per import. The
      collector is paused for the import and what it made is then frozen
      (:func:`collections_paused`).

    A short GIL switch interval (:func:`switching_often`) does not help with those two (it
    only hands the GIL over between bytecodes, and neither runs any) but does with the
    rest, the import's Python. Safe to call from several threads: the first loads, the
    others wait for it.
    """
    with _torch_lock:
        if _torch_ready.is_set():
            return
        with switching_often(), collections_paused():
            _preload_torch_libraries()
            import torch  # noqa: F401
        _torch_ready.set()


BACKGROUND_NICE = 8  # how much lower the warm-up thread's priority is than the app's


@contextlib.contextmanager
def background_priority() -> Iterator[None]:
    """This thread at a lower CPU priority (Linux: its own nice value) inside the block.

    Why: on a busy machine the GUI thread, once handed the GIL, still waits for a core;
    ranked below it, the warm-up gives way sooner. Measured while torch loads with strokes
    drawn (bench_gui_training.py, 2-core machine at load 6-7, three runs each, alternated):
    longest stall 118-156 ms (median 131) against 140-235 ms (157), stalls over 50 ms 30-33
    against 42-53. Only for work on a thread of its own that ends with it (the warm-up):
    an unprivileged process cannot raise a thread's priority back, and a run's thread must
    not stay lowered.
    """
    tid = threading.get_native_id()
    try:
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, before + BACKGROUND_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: as it is
        before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, before)


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No garbage collection inside; afterwards ``gc.freeze`` (what was made stays).

    Why freeze: the objects an import makes live as long as the process; frozen, the
    collections to come never walk them again (each would stall the GUI thread for the
    time of a walk over them all). The cost: reference cycles that became garbage inside
    the block are kept, not freed (a few, from imports).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _preload_torch_libraries() -> list[str]:
    """``dlopen`` torch's global dependencies and ``libtorch_cpu.so`` without the GIL.

    The same flags as torch's own loading (its ``libtorch_global_deps`` global, the rest as
    ``torch._C``'s dependencies: local, resolved now), so nothing differs once the import
    has run. Linux only (elsewhere the import loads them as usual); returns the paths
    loaded here, none where the libraries are not found.
    """
    if not sys.platform.startswith("linux"):
        return []
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.origin:
        return []
    lib = Path(spec.origin).parent / "lib"
    libc = ctypes.CDLL(None)
    dlopen = libc.dlopen
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    loaded = []
    for name, mode in (
        ("libtorch_global_deps.so", os.RTLD_GLOBAL | os.RTLD_LAZY),
        ("libtorch_cpu.so", os.RTLD_NOW | os.RTLD_LOCAL),
    ):
        path = lib / name
        # A foreign call: ctypes releases the GIL until dlopen returns.
        if path.is_file() and dlopen(os.fsencode(path), mode):
            loaded.append(str(path))
    return loaded


def available_devices() -> list[tuple[str, str]]:
    """Choices for the device box: always auto and CPU, plus each kind of GPU found.

    Imports torch: call it in a worker thread (:func:`prepare_ahead` does).
    """
    devices = [("auto", "Automatic"), ("cpu", "CPU")]
    try:
        import torch

        if torch.cuda.is_available():
            devices.append(("cuda", f"GPU ({torch.cuda.get_device_name(0)})"))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            devices.append(("mps", "GPU (Apple Metal)"))
    except Exception:  # noqa: BLE001 - no GPU support at all: CPU only
        pass
    return devices


# --------------------------------------------------------------------------- warm-up


@dataclass(frozen=True)
class DevicesFound:
    """The devices torch can train on here (``available_devices``), once it is loaded."""

    devices: tuple[tuple[str, str], ...]


def prepare_ahead(
    config: TrainConfig | None, data_dir: Path | None
) -> Generator[Stage | DevicesFound, None, MnistData | None]:
    """Get a run ready before Start is pressed: load torch and warm it up once, load MNIST.

    Yields a :class:`Stage` for each step (for the dialog's status line) and, once torch is
    loaded, :class:`DevicesFound`; returns the data.

    Why warm up: the first batch of the first run imports a good part of torch lazily (the
    optimisers pull in ``torch._dynamo``, sympy...) and initialises the CPU kernels. Imports
    hold the GIL for long stretches, so done at Start they froze the GUI thread for up to
    half a second in the middle of a run. Done here, on fake batches, nobody is watching a
    progress bar yet. Why load MNIST here: reading and checking the four files takes most
    of a second, which Start would otherwise wait for. Returns the data (None: no folder,
    or it could not be read; a run started on it reports why).
    """
    # Both undone when this ends, however it ends (a generator closed at a yield too).
    with switching_often(), background_priority():
        if config is not None and not torch_loaded():
            yield Stage(LOADING_TORCH)
        if config is not None:
            try:
                load_torch()
            except Exception as exc:  # noqa: BLE001 - ImportError, a broken install: say so
                yield Stage(f"PyTorch could not be loaded ({exc}); training needs it.", error=True)
                return None
            yield DevicesFound(tuple(available_devices()))
            yield Stage("Getting training ready…")
            try:
                with collections_paused():  # the warm-up's lazy imports (see load_torch)
                    warm_up(config)
            except Exception:  # noqa: BLE001 - an optimisation only; a run reports errors
                pass
        if data_dir is not None:
            yield Stage("Reading MNIST…")
            try:
                from drawdigit.mnist import load_mnist

                return load_mnist(data_dir)
            except Exception:  # noqa: BLE001 - a run on it reports why
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
    """One short sentence for a download that failed (no URLs: ``DownloadError.summary``)."""
    from drawdigit.download import DownloadError

    if isinstance(exc, DownloadError):
        return exc.summary[:1].upper() + exc.summary[1:]
    if isinstance(exc, OSError):
        return f"Cannot write to {dest}: {exc.strerror or exc}"
    return f"Download failed: {exc} ({type(exc).__name__})"


def save_folder_problem(folder: Path) -> str | None:
    """Why a trained model could not be saved in ``folder`` (None: it can), as the dialog
    says it at Start (``store.folder_problem``), so that a read-only data folder is found
    before a run rather than after it."""
    from drawdigit.store import folder_problem

    reason = folder_problem(folder)
    if reason is None:
        return None
    return (
        f"A trained model could not be saved in {folder} ({reason}). Make that folder "
        "writable, or set DRAWDIGIT_DATA_DIR to one that is; nothing was trained."
    )


def with_threads(config: TrainConfig, threads: int | None) -> TrainConfig:
    """``config`` with the app's thread count unless it names one itself."""
    if getattr(config, "threads", None) is not None or threads is None:
        return config
    return replace(config, threads=threads)
