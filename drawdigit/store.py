"""Where files live, and how they are written: resources, the user's data dir, checkpoints.

Everything that touches disk for models goes through here so that the rules hold everywhere:
writes are atomic (temp file + fsync + rename), checkpoints are read without torch by
``torch_file.read_torch_file`` (a whitelist unpickler: never arbitrary unpickling) and
validated before use, so answering a drawing never waits for ``import torch``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from drawdigit.model_config import ModelConfig

if TYPE_CHECKING:  # torch is for training only: recognition and the window never import it
    import numpy as np
    import torch

    from drawdigit.model import DigitNet

FORMAT_VERSION = 1
BUNDLED_MODEL_NAME = "drawdigit.pt"
ACTIVE_MODEL_NAME = "active.pt"
MAX_SIDECAR_BYTES = 1_000_000  # a metadata .json is a few hundred bytes
# What reading a model file may take: the largest network ModelConfig accepts, as float64,
# once for the storages and once for the tensors built from them (torch_file checks the
# declared sizes against it before allocating anything).
_MAX_READ_BYTES = 2 * 8 * ModelConfig.largest().parameter_count()


class ModelFileError(Exception):
    """A model file is missing, damaged, foreign or of an unsupported version, or its
    weights cannot answer (``weights_problem``)."""


# --------------------------------------------------------------------------- locations


def resources_dir() -> Path:
    """The bundled resources folder, found the same way in all three ways the app runs.

    - frozen (PyInstaller): ``sys._MEIPASS/resources``;
    - installed wheel: ``drawdigit/resources`` inside the package (pyproject maps it there);
    - source checkout / editable install: ``resources/`` beside the ``drawdigit`` package.
    Never relative to the working directory.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    package_dir = Path(__file__).resolve().parent
    candidates = []
    if frozen_root:
        candidates.append(Path(frozen_root) / "resources")
    candidates += [package_dir / "resources", package_dir.parent / "resources"]
    for candidate in candidates:
        if (candidate / "icons").is_dir():  # a marker: other packages ship "resources" too
            return candidate
    raise FileNotFoundError(
        "drawdigit's resources folder is missing; looked in: " + ", ".join(map(str, candidates))
    )


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def bundled_model_path() -> Path:
    return resource_path("model", BUNDLED_MODEL_NAME)


def user_data_dir() -> Path:
    """Per-user data (active model, personal samples, MNIST cache).

    ``DRAWDIGIT_DATA_DIR`` overrides the platform location (tests and portable use).
    """
    override = os.environ.get("DRAWDIGIT_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir as _platform_user_data_dir

    return Path(_platform_user_data_dir("drawdigit", appauthor=False))


def make_folder(folder: Path) -> None:
    """``folder`` made, with the folders above it, unless it is there. A file in the way
    raises ``NotADirectoryError`` naming the folder: ``mkdir`` says "File exists" when the
    folder itself is a file, which reads as if all were well."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None


# Free space asked for before a run that saves a model: the model with its sidecar, the
# copy kept of the one it replaces, and a temp file while writing (~380 kB each).
MODEL_SPACE = 4_000_000


def folder_problem(folder: Path) -> str | None:
    """Why a model cannot be saved in ``folder``, in words (None: it can): a file where the
    folder (or one above it) should be, a folder where files cannot be written (read-only,
    ``/proc``), or too little free space. The folder is made if needed and a temp file
    written and removed: milliseconds, so ``drawdigit train`` and the training dialog check
    before a run rather than fail after it."""
    folder = Path(folder)
    try:
        make_folder(folder)
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            return f"{_file_in_the_way(folder)} is a file, not a folder"
        return f"it cannot be made: {exc.strerror or exc}"
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"0")
            probe.flush()
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return f"files cannot be written there: {exc.strerror or exc}"
    if free < MODEL_SPACE:
        return f"the disk is full: {free // 1000:,} kB free, a model needs about 4 MB"
    return None


def _file_in_the_way(folder: Path) -> Path:
    """The nearest of ``folder`` and the folders above it that exists (a file)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def data_dir_problem() -> str | None:
    """Why the user data folder cannot be used, as a sentence for the user (None: it can),
    looked at without writing anything: said once at start by the window and the commands
    (and failed by the self-test), rather than as "[Errno 20] Not a directory" at the first
    save, or as "no personal samples"."""
    folder = user_data_dir()
    there = _file_in_the_way(folder)
    if there.exists() and not there.is_dir():
        reason = "it is a file" if there == folder else f"{there} is a file"
    elif there.exists() and not os.access(there, os.W_OK | os.X_OK):
        reason = f"{there} cannot be written"
    else:
        return None
    return (
        f"The data folder {folder} cannot be used ({reason}): models you train and samples "
        "you save cannot be kept. Move the file away, or set DRAWDIGIT_DATA_DIR to a folder "
        "you can write."
    )


def active_model_path() -> Path:
    return user_data_dir() / "models" / ACTIVE_MODEL_NAME


def metadata_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def set_aside_active_model() -> Path | None:
    """Stop using the user's active model so the bundled one answers again; delete nothing.

    ``models/active.pt`` (and its ``.json``) is renamed to ``models/set-aside-<stamp>.pt``
    beside it, so a retrained model that took minutes to make can be brought back (the
    Models dialog lists it: ``model_list.list_models``). The rename is atomic: readers see the old
    active model or none, never half a file. When the same weights are already kept in the
    folder under another name (it was activated from there), ``active.pt`` is only removed:
    a second copy would list the same model twice. Returns the path the model is kept
    under, or None when there was no active model.
    """
    active = active_model_path()
    if not active.exists():
        return None
    copy = _kept_copy_of(active)
    if copy is not None:
        active.unlink()  # the switch: from here on the bundled model is in use
        metadata_path(active).unlink(missing_ok=True)
        return copy
    target = _free_name(active.parent, "set-aside")
    os.replace(active, target)  # the switch: from here on the bundled model is in use
    sidecar = metadata_path(active)
    if sidecar.exists():
        os.replace(sidecar, metadata_path(target))
    return target


def _free_name(folder: Path, prefix: str) -> Path:
    """``folder/<prefix>-<local stamp>[-N].pt`` whose weights and sidecar names are free."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{prefix}-{stamp}.pt"
    counter = 1
    while target.exists() or metadata_path(target).exists():
        counter += 1
        target = folder / f"{prefix}-{stamp}-{counter}.pt"
    return target


def _kept_copy_of(path: Path) -> Path | None:
    """Another ``.pt`` file in ``path``'s folder with the very same bytes, if there is one."""
    try:
        size = path.stat().st_size
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    for other in sorted(path.parent.glob("*.pt")):
        if other.name == path.name or other.name.startswith("."):
            continue
        try:
            same_size = other.is_file() and other.stat().st_size == size
            if same_size and hashlib.sha256(other.read_bytes()).hexdigest() == digest:
                return other
        except OSError:
            continue
    return None


def keep_active_model() -> Path | None:
    """Before the model in use is replaced: keep a copy of ``active.pt`` (and its sidecar) as
    ``models/previous-<stamp>.pt``, unless its weights are already kept under another name.
    A copy, not a rename: ``active.pt`` is there all along. A damaged ``active.pt`` is not
    kept (nothing could use it; the app already answers with the bundled model). Returns the
    copy's path, or None when there was nothing to keep (no usable active model, or one kept
    already)."""
    active = active_model_path()
    if not active.is_file() or _kept_copy_of(active) is not None:
        return None
    try:
        load_checkpoint(active)
    except ModelFileError:
        return None
    target = _free_name(active.parent, "previous")
    sidecar = metadata_path(active)
    try:
        if sidecar.is_file() and sidecar.stat().st_size <= MAX_SIDECAR_BYTES:
            atomic_write_bytes(metadata_path(target), sidecar.read_bytes())
        atomic_write_bytes(target, active.read_bytes())
    except BaseException:  # a full disk, SIGTERM: no sidecar left without its weights
        metadata_path(target).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The temp file lives in the same folder (rename is atomic only within a file system) and
    is removed if anything fails, e.g. a full disk; the old file is then untouched.
    """
    path = Path(path)
    make_folder(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600; keep the usual mode
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# --------------------------------------------------------------------------- reading


def open_regular_file(path: Path, error: type[Exception]) -> tuple[BinaryIO, int]:
    """``path`` opened for reading without blocking, and its size; a missing file, a
    folder, a FIFO or a device raises ``error`` with a message naming the file, so that a
    reader never hangs on a pipe nor reads a device without end. Checked on the open file
    (no race with a rename)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise error(f"{path}: no such file") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "it is a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise error(f"{path}: cannot read ({kind}; pipes and devices are not read)")
        return os.fdopen(fd, "rb"), info.st_size
    except OSError as exc:
        os.close(fd)
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except BaseException:
        os.close(fd)
        raise


def read_capped(
    file: BinaryIO, size: int, max_bytes: int, path: Path, error: type[Exception]
) -> bytes:
    """All of an open file of ``size`` bytes (its size when opened), read from its start
    whatever was read before; more than ``max_bytes`` raises ``error`` naming ``path``."""
    if size > max_bytes:
        raise error(f"{path}: too large ({size:,} bytes; at most {max_bytes:,})")
    try:
        file.seek(0)
        # Ask for the size the file has (read(n) reserves n bytes up front), then for
        # anything it grew by meanwhile, never more than the cap.
        data = file.read(size + 1)
        if len(data) > size:
            data += file.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:  # it grew while being read
        raise error(f"{path}: too large (more than {max_bytes:,} bytes)")
    return data


# --------------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    """A model file's content: enough to rebuild the network and say where it came from.

    ``weights`` maps each parameter's name to its values: float32 numpy arrays when read
    from a file (no torch needed to answer with them), or torch tensors when a training
    run built the checkpoint. ``state_dict`` gives them as tensors for the training side.
    ``head`` is the network's own digit-ness head (``digitness.Digitness.from_head``);
    a model file made before every network had one has none, and ``head_problem`` says so.
    """

    config: ModelConfig
    weights: Mapping[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    head: dict[str, Any] | None = None  # the digit-ness head (digitness.checked_head), if any
    head_problem: str | None = None  # why there is none, said to the user

    @property
    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights as CPU tensors (imports torch): for ``load_state_dict`` in training."""
        import torch

        return {name: torch.as_tensor(values) for name, values in self.weights.items()}

    @state_dict.setter
    def state_dict(self, state: Mapping[str, Any]) -> None:
        self.weights = dict(state)

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights as float32 numpy arrays, whatever they were given as."""
        import numpy as np

        return {name: np.asarray(v, dtype=np.float32) for name, v in self.weights.items()}

    def build_model(self) -> DigitNet:
        from drawdigit.model import DigitNet

        model = DigitNet(self.config)
        model.load_state_dict(self.state_dict)
        model.eval()
        return model


def save_checkpoint(
    path: Path,
    state_dict: Mapping[str, torch.Tensor],
    config: ModelConfig,
    metadata: Mapping[str, Any] | None = None,
    head: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Save weights atomically, with the metadata inside and in a JSON file beside them.

    ``metadata`` should hold JSON-able values (test accuracy, recipe, date...). The JSON file
    also records the weights' sha256 and the format version. ``head`` is the network's
    digit-ness head (``digitness.Digitness.to_head()``: its weights, temperature, thresholds
    and how it was made), saved in the same file: a model is whole. Returns the written
    metadata. Weights that cannot answer (``weights_problem``: a run that diverged) raise
    ``ModelFileError`` and nothing is written.
    """
    import io

    import torch

    path = Path(path)
    state = {k: v.detach().to("cpu").clone().contiguous() for k, v in state_dict.items()}
    problem = weights_problem(config, state)
    if problem is not None:
        raise ModelFileError(f"{path}: not saved: {problem}")
    meta = dict(metadata or {})
    meta["format_version"] = FORMAT_VERSION
    content: dict[str, Any] = {
        "format": "drawdigit-model",
        "format_version": FORMAT_VERSION,
        "model_config": config.to_dict(),
        "state_dict": state,
        "metadata_json": json.dumps(meta, sort_keys=True),
    }
    if head is not None:
        content["digitness"] = {
            "weights": {
                k: torch.as_tensor(v, dtype=torch.float32).detach().cpu().clone().contiguous()
                for k, v in head["weights"].items()
            },
            "json": json.dumps({k: v for k, v in head.items() if k != "weights"}, sort_keys=True),
        }
        meta["digitness"] = "included"
        content["metadata_json"] = json.dumps(meta, sort_keys=True)
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return _write_pair(path, buffer.getvalue(), meta)


def _write_pair(path: Path, data: bytes, meta: dict[str, Any]) -> dict[str, Any]:
    """Write a model file's bytes and its sidecar, in an order that is safe at any moment."""
    meta["weights_file"] = path.name
    sidecar = metadata_path(path)
    # The pair is two files and two renames: order them so that whenever a process dies (or
    # a reader looks) the sidecar never holds a checksum of weights that are not there. First
    # the new sidecar without a checksum (a sidecar without one checks nothing), then the
    # weights, then the sidecar with the checksum. The weights carry their own metadata
    # (``metadata_json``), so a sidecar left behind by a kill is only out of date, never a
    # reason to refuse the model. Two writers at once (two processes activating models)
    # take turns (``_pairs_written_alone``): interleaved, one's checksum could land beside
    # the other's weights.
    with _pairs_written_alone(path.parent):
        if path.exists() or sidecar.exists():
            atomic_write_text(sidecar, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        atomic_write_bytes(path, data)
        meta["sha256"] = hashlib.sha256(data).hexdigest()
        atomic_write_text(sidecar, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


@contextlib.contextmanager
def _pairs_written_alone(folder: Path) -> Iterator[None]:
    """Inside, no other process writes a pair of files in ``folder``: an exclusive
    ``flock`` on the folder itself (no lock file left about), released when the block ends
    or the process dies. Where there is no ``fcntl`` (Windows) writers are not serialised;
    readers then fall back on reading again after a pause (``_read_matching_pair``)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    make_folder(folder)
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and validate a model file; any problem raises ``ModelFileError`` naming the file."""
    path = Path(path)
    return _parse_checkpoint(_read_matching_pair(path), path)


def _parse_checkpoint(data: bytes, path: Path) -> Checkpoint:
    """A model file's bytes, validated (see ``load_checkpoint``)."""
    from drawdigit.digitness import checked_head
    from drawdigit.torch_file import TorchFileError, read_torch_file

    try:
        raw = read_torch_file(data, max_bytes=_MAX_READ_BYTES)
    except TorchFileError as exc:  # damaged, foreign, or it names code to run
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != "drawdigit-model":
        raise ModelFileError(f"{path}: not a drawdigit model file")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version!r} is not supported")
    try:
        config = ModelConfig.from_dict(raw["model_config"])
        weights = _checked_weights(raw["state_dict"], config)
    except Exception as exc:
        raise ModelFileError(f"{path}: model content is invalid ({exc})") from exc
    problem = weights_problem(config, weights)
    if problem is not None:
        raise ModelFileError(f"{path}: {problem}")
    metadata = _readable_metadata(raw.get("metadata_json"))
    head, head_problem = None, "it was made before drawdigit fitted a head to every network"
    if "digitness" in raw:
        try:
            head, head_problem = checked_head(raw["digitness"], config.hidden), None
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            head_problem = f"its 'not a digit' head is damaged ({exc})"
    return Checkpoint(config, weights, metadata, path, head, head_problem)


def weights_problem(config: ModelConfig, weights: Mapping[str, Any]) -> str | None:
    """Why a network with these weights (numpy arrays or CPU tensors) cannot be used, or
    None: NaN or infinity in them, or finite weights whose answers overflow to NaN
    (``NumpyDigitNet.answers_finitely``). The one check for a model read (``load_checkpoint``,
    hence the Models list), saved (``save_checkpoint``) or made by a run
    (``runs.report_run``), so such weights are never used, listed as usable or saved."""
    import numpy as np

    from drawdigit.numpy_net import NumpyDigitNet

    shapes = {name: tuple(values.shape) for name, values in weights.items()}
    if shapes != config.parameter_shapes():
        return "the weights do not have the shapes of the model's config"
    arrays = {}
    for name, values in weights.items():
        if hasattr(values, "detach"):  # a tensor
            values = values.detach().cpu().float().numpy()
        with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf: said below
            arrays[name] = np.asarray(values, dtype=np.float32)
    if not all(np.isfinite(values).all() for values in arrays.values()):
        return "model weights contain NaN or infinity"
    if not NumpyDigitNet(config, arrays).answers_finitely():
        return "the model's answers are not finite numbers (its weights are far too large)"
    return None


def _readable_metadata(text: Any) -> dict[str, Any]:
    """The metadata as a dict, or an empty one: it only describes the model (accuracy,
    date, recipe), so metadata that is not a JSON object never makes a good model unusable.
    Readers still check each value's type (``inference.ModelSource.describe``)."""
    if not isinstance(text, str):
        return {}
    try:
        metadata = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def _read_matching_pair(path: Path) -> bytes:
    """The weights' bytes, checked against the sha256 in the sidecar ``.json`` when it has one.

    Models are activated while others read them (the window, ``predict``): a reader can
    get the old weights and then the new sidecar. Writers take turns over a whole pair
    (``_write_pair``), so a checksum that does not match weights that are still the file
    at ``path`` (checked on the open file: its inode cannot be reused meanwhile) is damage;
    weights replaced since they were read are read again. Where writers cannot take turns
    (no ``fcntl``), a mismatch is read once more after a pause. A damaged sidecar is only
    informational.
    """
    unchanged_mismatches = 0
    for _attempt in range(_PAIR_READS):
        file, size = _open_model_file(path)
        with file:
            data = read_capped(file, size, _MAX_READ_BYTES, path, ModelFileError)
            recorded = _recorded_checksum(metadata_path(path))
            if not recorded or recorded == hashlib.sha256(data).hexdigest():
                return data
            if _replaced_since_opened(path, file):
                continue  # a writer put another model there meanwhile: read that one
        unchanged_mismatches += 1
        if unchanged_mismatches == 2:
            break
        time.sleep(0.05)  # a writer that does not take turns: let it finish its renames
    raise ModelFileError(
        f"{path}: weights do not match the checksum in {metadata_path(path).name} "
        "(damaged or partly written)"
    )


# Reads of a pair before a reader gives up on writers that keep replacing it.
_PAIR_READS = 100


def _open_model_file(path: Path) -> tuple[BinaryIO, int]:
    """A model file opened (a regular file only: a FIFO would block, ``/dev/zero`` never
    end) with its size, no larger than any model this app reads; else ``ModelFileError``."""
    if not os.path.lexists(path):
        raise ModelFileError(f"{path}: no such model file")
    file, size = open_regular_file(path, ModelFileError)
    if size > _MAX_READ_BYTES:
        file.close()
        raise ModelFileError(f"{path}: too large to be a drawdigit model ({size:,} bytes)")
    return file, size


def _recorded_checksum(sidecar: Path) -> str | None:
    """The sha256 a sidecar records, or None (none, damaged, of the wrong type): only a
    regular, small sidecar is read, never a FIFO or a link to /dev/zero."""
    recorded = None
    with contextlib.suppress(OSError, ValueError, AttributeError, RecursionError):
        if sidecar.is_file() and sidecar.stat().st_size <= MAX_SIDECAR_BYTES:
            recorded = json.loads(sidecar.read_text("utf-8")).get("sha256")
    return recorded if isinstance(recorded, str) else None


def _replaced_since_opened(path: Path, file: BinaryIO) -> bool:
    """Whether ``path`` is now another file than the open ``file`` (renamed over it)."""
    try:
        now, opened = os.stat(path), os.fstat(file.fileno())
    except OSError:
        return True
    return (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino)


def _checked_weights(state: Any, config: ModelConfig) -> dict[str, np.ndarray]:
    """The state_dict as float32 arrays, after the checks ``load_state_dict(strict=True)``
    makes: exactly the config's names, each with its shape, each a number array."""
    import numpy as np

    if not isinstance(state, dict):
        raise ValueError("state_dict is not a mapping")
    expected = config.parameter_shapes()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"missing keys {missing}, unexpected keys {unexpected}")
    weights = {}
    for name, shape in expected.items():
        values = state[name]
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "fiub":
            raise ValueError(f"{name} is not a tensor of numbers")
        if values.shape != shape:
            raise ValueError(f"size mismatch for {name}: {values.shape} in the file, {shape} here")
        with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf: refused below
            weights[name] = values.astype(np.float32)  # as load_state_dict copies into float32
    return weights


# --------------------------------------------------------------------------- the model in use


def load_checkpoint_in_use(path: Path | None = None) -> tuple[Checkpoint, str, list[str]]:
    """The checkpoint to answer with, its kind ("file", "user" or "bundled"), and warnings
    about a file that was skipped.

    ``path`` given: that file or a ``ModelFileError`` (the caller asked for it). Otherwise
    the user's active model if it is valid, else the bundled one: a damaged user model
    never stops the app, it is reported and the bundled model answers. One rule, read
    once, for the predictor, the training run's starting model and the fine-tune's.
    """
    if path is not None:
        return load_checkpoint(Path(path)), "file", []
    warnings: list[str] = []
    active = active_model_path()
    if active.exists():
        try:
            return load_checkpoint(active), "user", []
        except ModelFileError as exc:
            warnings.append(f"Your saved model could not be used ({exc}); using the bundled one.")
    return load_checkpoint(bundled_model_path()), "bundled", warnings


def activate_model(
    state_dict: Mapping[str, torch.Tensor],
    config: ModelConfig,
    metadata: Mapping[str, Any] | None = None,
    head: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Make these weights the model in use: saved atomically as ``models/active.pt`` (with
    a ``created`` stamp when the metadata has none), read by the next ``load_predictor``.

    The one way every "Use this model" (a training run, a fine-tune) switches models, so
    that the file, its metadata and the atomic write are the same whoever asks. The model
    it replaces is kept first (``keep_active_model``), so no model the user had is lost.
    Returns the written metadata; the caller reloads its predictor.
    """
    from datetime import datetime, timezone

    meta = dict(metadata or {})
    meta.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    keep_active_model()  # the model replaced stays in the Models list
    return save_checkpoint(active_model_path(), state_dict, config, meta, head)
