"""Read the tensors of a ``torch.save`` file with numpy alone, unpickling no code.

Why not ``torch.load``: importing torch costs 1-2.5 s (10 s on a busy machine), and the app,
``drawdigit predict`` and the self-test answer long before that. Why not a second file
format beside every ``.pt``: the user's existing models would need torch to load, and two
files could disagree. So the same ``.pt`` files are read here, as strictly as
``torch.load(weights_only=True)`` and more narrowly: the pickle may name only the few
globals a saved tensor needs (``torch._utils._rebuild_tensor_v2``, the typed storages,
``collections.OrderedDict``); anything else is refused before it is called. Tensors come
back as writable, contiguous numpy arrays, bounds-checked against their storage.

torch's zip layout (``torch/serialization.py``): ``<prefix>/data.pkl`` (the object, with
persistent ids ``("storage", StorageType, key, location, numel)``), ``<prefix>/data/<key>``
(each storage's raw bytes) and ``<prefix>/byteorder``.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import zipfile
from typing import Any

import numpy as np

from drawdigit.archive import ArchiveError, read_entry

# The storages a saved tensor may name, and their numpy dtypes (torch writes little-endian
# unless the archive's ``byteorder`` record says otherwise). BFloat16 has no numpy dtype.
_STORAGE_DTYPES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


# data.pkl holds names, shapes and short metadata: a few kB for any model this app reads.
_MAX_PICKLE_BYTES = 16_000_000


class TorchFileError(ValueError):
    """The bytes are not a torch.save zip this reader accepts (damaged, foreign or unsafe)."""


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co. inside the pickle: only carries a dtype."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype


class _Unpickler(pickle.Unpickler):
    """Resolves only the whitelisted globals; storages come from the zip, not the pickle.

    Every storage read and every tensor built is charged, at its declared size and before
    any memory is taken for it, against ``max_bytes``: a few-kB file whose storage inflates
    to gigabytes, or whose zero strides spread one number over a huge tensor, is refused
    instead of allocated.
    """

    def __init__(
        self,
        data: bytes,
        archive: zipfile.ZipFile,
        prefix: str,
        byteorder: str,
        max_bytes: int | None,
    ) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._byteorder = byteorder
        self._storages: dict[str, np.ndarray] = {}
        self._bytes_left = max_bytes

    def _charge(self, nbytes: int, what: str) -> None:
        if self._bytes_left is None:
            return
        if nbytes > self._bytes_left:
            raise TorchFileError(f"{what} is larger than any model this app reads")
        self._bytes_left -= nbytes

    def _rebuild_tensor(
        self,
        storage: np.ndarray,
        offset: int,
        size: tuple[int, ...],
        stride: tuple[int, ...],
        requires_grad: bool = False,
        backward_hooks: Any = None,
        metadata: Any = None,
    ) -> np.ndarray:
        """``torch._utils._rebuild_tensor_v2`` for numpy: a view checked to stay in bounds,
        then copied (its size charged first)."""
        if not isinstance(storage, np.ndarray) or storage.ndim != 1:
            raise TorchFileError("a tensor without a storage")
        if not isinstance(size, tuple) or not isinstance(stride, tuple):
            raise TorchFileError("a tensor with an invalid size or stride")
        values = (offset, *size, *stride)
        if not all(type(v) is int and v >= 0 for v in values) or len(size) != len(stride):
            raise TorchFileError("a tensor with an invalid size, stride or offset")
        if backward_hooks:
            raise TorchFileError("a tensor with backward hooks")
        self._charge(math.prod(size) * storage.itemsize, f"a tensor of shape {size}")
        if 0 in size:
            return np.zeros(size, dtype=storage.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= storage.size:
            raise TorchFileError("a tensor reaches past the end of its storage")
        item = storage.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[offset:], shape=size, strides=[s * item for s in stride], writeable=False
        )
        return np.array(view, order="C")  # owns its memory, writable, contiguous

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(self._byteorder + _STORAGE_DTYPES[name]))
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise TorchFileError(f"the file names {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise TorchFileError("an unknown persistent object")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise TorchFileError("a storage of an unknown type")
        if key not in self._storages:
            try:
                info = self._archive.getinfo(f"{self._prefix}/data/{key}")
            except KeyError:
                raise TorchFileError(f"storage {key!r} is missing") from None
            # The zip's declared size, before inflating: reading stops there (and the CRC
            # check fails) if the entry holds more.
            self._charge(info.file_size, f"storage {key!r}")
            raw = read_entry(self._archive, info, None)
            if len(raw) % storage_type.dtype.itemsize:
                raise TorchFileError(f"storage {key!r} is truncated")
            self._storages[key] = np.frombuffer(raw, dtype=storage_type.dtype)
        storage = self._storages[key]
        if storage.dtype != storage_type.dtype or numel != storage.size:
            raise TorchFileError(f"storage {key!r} does not have the recorded size or type")
        return storage


def read_torch_file(data: bytes, max_bytes: int | None = None) -> Any:
    """The object a ``torch.save`` zip holds, tensors as numpy arrays; ``TorchFileError``
    (or ``zipfile.BadZipFile``/``pickle.UnpicklingError`` wrapped in it) for anything else.

    ``max_bytes`` bounds the memory the storages and tensors may take together, checked
    against their declared sizes before each is read or built (None: no bound).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pickles = [n for n in archive.namelist() if n.count("/") == 1]
            pickles = [n for n in pickles if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise TorchFileError("not a torch.save archive (no single data.pkl)")
            prefix = pickles[0][: -len("/data.pkl")]
            names = set(archive.namelist())
            order = "little"
            if f"{prefix}/byteorder" in names:
                record = read_entry(archive, archive.getinfo(f"{prefix}/byteorder"), 16)
                order = record.decode("ascii", "replace")
            if order not in ("little", "big"):
                raise TorchFileError(f"unknown byte order {order!r}")
            info = archive.getinfo(pickles[0])
            if info.file_size > _MAX_PICKLE_BYTES:
                raise TorchFileError("the archive's pickle is larger than any model's")
            byteorder = "<" if order == "little" else ">"
            pickled = read_entry(archive, info, _MAX_PICKLE_BYTES)
            unpickler = _Unpickler(pickled, archive, prefix, byteorder, max_bytes)
            return unpickler.load()
    except TorchFileError:
        raise
    except ArchiveError as exc:  # an entry lies about its size, is encrypted...
        raise TorchFileError(str(exc)) from exc
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise TorchFileError(f"{type(exc).__name__}: {exc}") from exc
    except (TypeError, AttributeError, IndexError, KeyError, OverflowError, MemoryError) as exc:
        raise TorchFileError(f"a malformed pickle ({type(exc).__name__})") from exc
