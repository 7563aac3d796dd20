"""The MNIST data: read the four standard IDX files, check them, and find where they are.

The files are read whole and turned into arrays with ``np.frombuffer`` (no per-item Python
work), so all four load in a fraction of a second. Every check a damaged or foreign file can
fail (gzip, magic, header vs size, item count, label range, MD5 of the decompressed bytes)
raises :class:`MnistError` with the file's name and what is wrong, because a half-read data
set would silently train a worse model.

Where the data lives, in order: an explicit folder (``--data-dir``), ``DRAWDIGIT_MNIST_DIR``,
then the user's cache ``user_data_dir()/"mnist"`` (where ``drawdigit.download`` puts it).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_MNIST_DIR = "DRAWDIGIT_MNIST_DIR"

_GZIP_MAGIC = b"\x1f\x8b"
# The most bytes an IDX file may hold (decompressed), whatever its name: the largest
# MNIST file holds 47 MB.
MAX_IDX_BYTES = 100_000_000
# Decompressed beyond what the header declares, to say how much trailing data there is.
_TRAILING_SLACK = 1 << 20
_UINT8_TYPE = 0x08


class MnistError(Exception):
    """An MNIST file or folder is missing, damaged or not what it claims to be."""


@dataclass(frozen=True)
class MnistFile:
    """One of the four standard files: its name, the MD5 of its raw bytes, its shape."""

    name: str  # raw file name, without ".gz"
    md5: str  # of the *decompressed* content
    shape: tuple[int, ...]  # (count,) for labels, (count, 28, 28) for images

    @property
    def count(self) -> int:
        return self.shape[0]

    @property
    def is_labels(self) -> bool:
        return len(self.shape) == 1


TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

# The well-known MD5s of the original raw files (see ../shared/mnist/README.md); gzip
# wrappers differ between mirrors, so only the decompressed bytes are compared.
MNIST_FILES: dict[str, MnistFile] = {
    f.name: f
    for f in (
        MnistFile(TRAIN_IMAGES, "6bbc9ace898e44ae57da46a324031adb", (60000, 28, 28)),
        MnistFile(TRAIN_LABELS, "a25bea736e30d166cdddb491f175f624", (60000,)),
        MnistFile(TEST_IMAGES, "2646ac647ad5339dbf082846283269ea", (10000, 28, 28)),
        MnistFile(TEST_LABELS, "27ae3e4e09519cfbb04c329615203637", (10000,)),
    )
}


@dataclass
class MnistData:
    """The whole data set as uint8 arrays: images (N, 28, 28) with ink bright, labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def subset(self, train: int, test: int | None = None) -> MnistData:
        """The first ``train`` training (and ``test`` test) images: quick runs and checks."""
        test = len(self.test_labels) if test is None else test
        return MnistData(
            self.train_images[:train],
            self.train_labels[:train],
            self.test_images[:test],
            self.test_labels[:test],
        )


# --------------------------------------------------------------------------- one file


def known_file(path: Path | str) -> MnistFile | None:
    """The standard file ``path`` is, judged by its name (``.gz`` or raw, ``-`` or ``.``)."""
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    # The original archives unpacked on Windows as e.g. "train-images.idx3-ubyte".
    name = name.replace("images.idx", "images-idx").replace("labels.idx", "labels-idx")
    return MNIST_FILES.get(name)


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip (by name or by its first bytes).

    Bounded by what the file can hold: a raw file over ``MAX_IDX_BYTES`` is not read, and a
    gzip stream is decompressed only as far as its own header says the data goes (plus
    ``_TRAILING_SLACK`` to report trailing bytes), so a small archive that would inflate to
    gigabytes (a "gzip bomb") is refused after that much work, not after all of it.
    """
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > MAX_IDX_BYTES + _TRAILING_SLACK:
                raise MnistError(
                    f"{path.name}: {size:,} bytes, more than an IDX file drawdigit reads "
                    f"({MAX_IDX_BYTES:,})"
                )
            data = file.read(size + 1)
    except FileNotFoundError:
        raise MnistError(f"{path}: no such file") from None
    except OSError as exc:
        raise MnistError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    looks_gzip = data[:2] == _GZIP_MAGIC
    if path.name.endswith(".gz") and not looks_gzip:
        raise MnistError(f"{path.name}: not valid gzip (the file does not start with 1f 8b)")
    if not looks_gzip:
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as archive:
            head = archive.read(4)
            head += archive.read(4 * head[3] if len(head) == 4 else 0)
            declared = _declared_size(path.name, head)
            return head + archive.read(declared - len(head) + _TRAILING_SLACK)
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; a cut-off archive gives EOFError.
        raise MnistError(f"{path.name}: not valid gzip ({exc or type(exc).__name__})") from exc


def _declared_size(name: str, head: bytes) -> int:
    """The file size an IDX header declares (header + items; Python integers, no overflow);
    refused when over ``MAX_IDX_BYTES``. A header too short to say is left to ``_parse_idx``."""
    if len(head) < 4 or len(head) < 4 + 4 * head[3]:
        return len(head)
    dims = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(head[3])]
    declared = len(head) + math.prod(dims)
    if declared > MAX_IDX_BYTES:
        raise _too_large(name, dims)
    return declared


def _too_large(name: str, dims: list[int] | tuple[int, ...]) -> MnistError:
    """The error for a header declaring more data than an IDX file may hold: short, however
    many dimensions it declares (255 of them made a 300-digit byte count)."""
    shown = f"dimensions {list(dims)}" if len(dims) <= 4 else f"{len(dims)} dimensions"
    return MnistError(
        f"{name}: the header declares more bytes of data ({shown}) than an IDX file "
        f"drawdigit reads ({MAX_IDX_BYTES:,})"
    )


def _parse_idx(name: str, data: bytes) -> np.ndarray:
    """Header checks and a zero-copy view; size must match the header exactly."""
    if len(data) < 4:
        raise MnistError(f"{name}: not an IDX file (only {len(data)} bytes)")
    zero, dtype, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or ndim == 0:
        raise MnistError(f"{name}: not an IDX file (bad magic 0x{magic:08x})")
    if dtype != _UINT8_TYPE:
        raise MnistError(
            f"{name}: unsupported IDX data type 0x{dtype:02x} (magic 0x{magic:08x}); "
            "MNIST files hold unsigned bytes (0x08)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MnistError(
            f"{name}: truncated: the header needs {header} bytes, the file has {len(data)}"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    # Python integers: a header's product of dimensions can exceed int64 and must not wrap.
    item_size = math.prod(dims[1:])
    expected = dims[0] * item_size
    if expected > MAX_IDX_BYTES:
        raise _too_large(name, dims)
    body = len(data) - header
    if body < expected:
        have = body // item_size if item_size else 0
        raise MnistError(
            f"{name}: truncated: header says {dims[0]} items, file has {have}"
            f" ({body} of {expected} data bytes)"
        )
    if body > expected:
        raise MnistError(
            f"{name}: {body - expected} bytes of trailing data after the {dims[0]} items "
            "the header declares"
        )
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(dims)


def read_idx(path: Path | str, expected_md5: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip or raw) into a writable uint8 array, checking everything.

    For the four standard files (known by name) the shape is checked too; label files
    (one dimension) must hold only 0-9. ``expected_md5`` is compared with the MD5 of the
    decompressed bytes, the digest that stays the same whatever gzip wrapper a mirror uses.
    Raises :class:`MnistError` naming the file and the problem.
    """
    path = Path(path)
    data = _read_bytes(path)
    name = path.name
    array = _parse_idx(name, data)
    spec = known_file(path)
    if spec is not None:
        if array.ndim != len(spec.shape):
            raise MnistError(
                f"{name}: holds a {array.ndim}-dimensional array, expected {len(spec.shape)} "
                f"dimensions {spec.shape}"
            )
        if array.shape[0] != spec.count:
            raise MnistError(f"{name}: wrong count: {array.shape[0]} items, expected {spec.count}")
        if array.shape != spec.shape:
            raise MnistError(f"{name}: items of shape {array.shape[1:]}, expected {spec.shape[1:]}")
    if array.ndim == 1 and array.size:
        top = int(array.max())
        if top > 9:
            where = int(np.argmax(array > 9))
            raise MnistError(
                f"{name}: label {top} is out of range (labels are 0-9; first bad one at "
                f"index {where}: {int(array[where])})"
            )
    if expected_md5 is not None:
        actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if actual != expected_md5.lower():
            raise MnistError(
                f"{name}: checksum mismatch: MD5 of the decompressed content is {actual}, "
                f"expected {expected_md5.lower()} (damaged or a different data set)"
            )
    # A copy makes the array writable and lets the (large) bytes object go.
    return array.copy()


def verify_file(path: Path | str) -> None:
    """Check a standard file fully (structure and MD5); raise :class:`MnistError` if bad."""
    spec = known_file(path)
    if spec is None:
        raise MnistError(f"{Path(path).name}: not one of the four MNIST files")
    read_idx(path, spec.md5)


# --------------------------------------------------------------------------- a folder


def find_file(data_dir: Path, name: str) -> Path | None:
    """The file for standard ``name`` in ``data_dir``: ``name.gz`` first, then raw variants.

    Besides the plain names this accepts the ``MNIST/raw`` layout torchvision leaves behind
    and the dotted names of the original archives unpacked on Windows.
    """
    data_dir = Path(data_dir)
    dotted = name.replace("-idx", ".idx")
    folders = (data_dir, data_dir / "MNIST" / "raw", data_dir / "raw")
    for folder in folders:
        for candidate in (name + ".gz", name, dotted, dotted + ".gz"):
            path = folder / candidate
            if path.is_file():
                return path
    return None


def missing_files(data_dir: Path) -> list[str]:
    """The standard names that ``data_dir`` does not hold (by existence, not content)."""
    return [name for name in MNIST_FILES if find_file(data_dir, name) is None]


def has_all_files(data_dir: Path) -> bool:
    return Path(data_dir).is_dir() and not missing_files(data_dir)


def _complete_folder(folder: Path, role: str) -> Path:
    """``folder`` if it holds all four files; else a ``MnistError`` naming all that is missing,
    so the user learns everything in one go rather than one file at a time."""
    if not folder.is_dir():
        raise MnistError(f"{folder}: no such folder ({role})")
    missing = missing_files(folder)
    if missing:
        listed = ", ".join(f"{name}[.gz]" for name in missing)
        raise MnistError(f"{folder}: missing MNIST file(s): {listed}")
    return folder


def load_mnist(data_dir: Path | str, verify: bool = True) -> MnistData:
    """Read the four files from ``data_dir``, checking structure and (by default) MD5s.

    A missing folder or files raise :class:`MnistError` listing all that is missing, so
    the user learns everything in one go rather than one file at a time.
    """
    data_dir = _complete_folder(Path(data_dir), "expected the four MNIST files there")
    arrays: dict[str, np.ndarray] = {}
    for name, spec in MNIST_FILES.items():
        path = find_file(data_dir, name)
        assert path is not None  # checked above
        arrays[name] = read_idx(path, spec.md5 if verify else None)
    return MnistData(
        train_images=arrays[TRAIN_IMAGES],
        train_labels=arrays[TRAIN_LABELS],
        test_images=arrays[TEST_IMAGES],
        test_labels=arrays[TEST_LABELS],
    )


# --------------------------------------------------------------------------- where it lives


def mnist_cache_dir() -> Path:
    """The per-user MNIST cache, where downloads go: ``user_data_dir()/"mnist"``."""
    from drawdigit.store import user_data_dir  # lazy: store imports torch

    return user_data_dir() / "mnist"


def data_dir_candidates(explicit: Path | str | None = None) -> list[tuple[str, Path]]:
    """The places looked in, in order, with where each came from (for messages)."""
    candidates: list[tuple[str, Path]] = []
    if explicit is not None:
        candidates.append(("--data-dir", Path(explicit)))
    env = os.environ.get(ENV_MNIST_DIR)
    if env:
        candidates.append((ENV_MNIST_DIR, Path(env)))
    candidates.append(("user cache", mnist_cache_dir()))
    return candidates


def find_data_dir(explicit: Path | str | None = None) -> Path | None:
    """The first folder holding all four files: explicit, then the env variable, then cache.

    An explicit folder that lacks files is an error (the user asked for it by name), not a
    reason to look elsewhere; the others are simply skipped. ``None`` means "download or
    point me at the data". Only existence is checked here; :func:`load_mnist` verifies.
    """
    if explicit is not None:
        return _complete_folder(Path(explicit), "given as the MNIST data folder")
    for _source, folder in data_dir_candidates():
        if has_all_files(folder):
            return folder
    return None
