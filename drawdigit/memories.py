"""Nearest memories: the MNIST training digits the network "sees" as most like a drawing.

"Like" is measured where the network decides: fc1's 64 ReLU outputs, the last hidden layer
before the ten scores. The 60,000 training images' vectors are computed once per model
(about a minute on a busy 2-core machine) and cached in the user's data folder under the
weights' digest, so a retrained or fine-tuned model gets its own cache and a stale one is
never used. A search is then one (N, 64) x (64,) product and an ``argpartition``.

Numpy only; no torch, no Qt. ``load_memories`` is a plain function (a worker thread calls
it with ``progress`` and ``cancelled``); a ``MemoryIndex`` is read-only, so thread-safe.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drawdigit.numpy_net import NumpyDigitNet

CACHE_VERSION = 1
BUILD_CHUNK = 500  # images per forward batch while building; progress is reported per chunk
HOW_TO_GET_MNIST = (
    "download it with the training dialog's Download button or `drawdigit download-mnist`"
)


class MemoriesUnavailable(Exception):
    """MNIST's training set is not found or cannot be read; ``str()`` says how to get it."""


class MemoriesCancelled(Exception):
    """``cancelled()`` turned true while the cache was being built; nothing was written."""


@dataclass(frozen=True)
class Memory:
    """One training digit close to the drawing."""

    index: int  # index in the MNIST training set
    label: int
    distance: float  # Euclidean, between fc1 vectors
    image: np.ndarray  # (28, 28) uint8, the training image as stored (ink bright)


class MemoryIndex:
    """The training set's fc1 vectors (float32), labels and images, searched by distance."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, images: np.ndarray) -> None:
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.labels = np.asarray(labels)
        self.images = images
        # |a - b|^2 = |a|^2 - 2 a.b + |b|^2: the |b|^2 term is computed once, here.
        self._norms = np.einsum("ij,ij->i", self.features, self.features)

    def __len__(self) -> int:
        return len(self.features)

    def nearest(self, hidden: np.ndarray, k: int = 8) -> list[Memory]:
        """The ``k`` training digits closest to ``hidden`` (fc1's (64,) vector), closest
        first; ties keep the lower index first."""
        query = np.asarray(hidden, dtype=np.float32).reshape(-1)
        if query.shape != (self.features.shape[1],):
            raise ValueError(f"expected a ({self.features.shape[1]},) vector, got {query.shape}")
        k = max(0, min(int(k), len(self.features)))
        if k == 0:
            return []
        squared = self.features @ (-2.0 * query)  # one pass over the matrix, one temporary
        squared += self._norms
        squared += float(query @ query)
        picked = np.argpartition(squared, k - 1)[:k] if k < len(squared) else np.arange(k)
        picked = picked[np.lexsort((picked, squared[picked]))]
        return [
            Memory(
                index=int(i),
                label=int(self.labels[i]),
                distance=float(np.sqrt(max(float(squared[i]), 0.0))),
                image=self.images[i],
            )
            for i in picked
        ]


# --------------------------------------------------------------------------- the cache


def cache_path(net: NumpyDigitNet, count: int) -> Path:
    """Where the vectors of ``net`` for the first ``count`` training images are cached."""
    from drawdigit.store import user_data_dir

    return user_data_dir() / "cache" / f"memories-{net.weights_digest()[:32]}-{count}.npz"


def _read_cache(path: Path, digest: str, count: int, hidden: int) -> np.ndarray | None:
    """The cached vectors when the file is there, whole and for these weights; else None
    (a missing, damaged, foreign or stale cache is simply rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["version"])
            stored_digest = str(data["digest"])
            features = data["features"]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None
    if version != CACHE_VERSION or stored_digest != digest:
        return None
    if features.shape != (count, hidden) or features.dtype != np.float16:
        return None
    if not np.isfinite(features).all():
        return None
    return features.astype(np.float32)


def _write_cache(path: Path, digest: str, features: np.ndarray, model_path: Path) -> None:
    from drawdigit.store import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez(
        buffer,
        version=np.int64(CACHE_VERSION),
        digest=np.str_(digest),
        model=np.str_(str(model_path)),  # for a person looking at the folder
        features=features.astype(np.float16),  # half the size; ~1e-3 relative, plenty here
    )
    atomic_write_bytes(path, buffer.getvalue())


def _training_set(mnist_dir: Path | None, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training images and labels (checked against their MD5s), or
    ``MemoriesUnavailable`` saying how to get them."""
    from drawdigit.mnist import (
        MNIST_FILES,
        TRAIN_IMAGES,
        TRAIN_LABELS,
        MnistError,
        find_data_dir,
        find_file,
        read_idx,
    )

    try:
        folder = find_data_dir(mnist_dir)
    except MnistError as exc:
        raise MemoriesUnavailable(f"{exc}; {HOW_TO_GET_MNIST}") from exc
    if folder is None:
        raise MemoriesUnavailable(
            f"Nearest memories need the MNIST training set, which was not found: "
            f"{HOW_TO_GET_MNIST}."
        )
    try:
        arrays = []
        for name in (TRAIN_IMAGES, TRAIN_LABELS):
            path = find_file(folder, name)
            if path is None:
                raise MnistError(f"{folder}: missing {name}")
            arrays.append(read_idx(path, MNIST_FILES[name].md5))
    except MnistError as exc:
        raise MemoriesUnavailable(f"{exc}; {HOW_TO_GET_MNIST}") from exc
    images, labels = arrays
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def load_memories(
    net: NumpyDigitNet,
    model_path: Path,
    mnist_dir: Path | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    limit: int | None = None,
) -> MemoryIndex:
    """The nearest-memories index for ``net``: from the cache when it is valid, else built
    (``progress(done, total)`` per chunk; ``MemoriesCancelled`` as soon as ``cancelled()``
    is true) and cached atomically.

    ``mnist_dir`` None: MNIST where the app finds it (``DRAWDIGIT_MNIST_DIR``, then the
    user cache). ``model_path`` is recorded in the cache for people; the key is the
    weights' digest, so it does not matter where the model was loaded from. ``limit``:
    only the first N training images (quick tests); it has its own cache file.
    Raises ``MemoriesUnavailable`` (its message says how to get MNIST).
    """
    images, labels = _training_set(mnist_dir, limit)
    count, hidden = len(images), net.config.hidden
    digest = net.weights_digest()
    path = cache_path(net, count)
    features = _read_cache(path, digest, count, hidden)
    if features is None:
        features = _build(net, images, progress, cancelled)
        # A read-only data folder: the index still works; it is just rebuilt next time.
        with contextlib.suppress(OSError):
            _write_cache(path, digest, features, model_path)
        features = features.astype(np.float16).astype(np.float32)  # as a cache read gives
    elif progress is not None:
        progress(count, count)
    return MemoryIndex(features, labels, images)


def _build(
    net: NumpyDigitNet,
    images: np.ndarray,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> np.ndarray:
    total = len(images)
    features = np.empty((total, net.config.hidden), dtype=np.float32)
    for start in range(0, total, BUILD_CHUNK):
        if cancelled is not None and cancelled():
            raise MemoriesCancelled("building the nearest memories was cancelled")
        chunk = images[start : start + BUILD_CHUNK].astype(np.float32) / 255.0
        features[start : start + len(chunk)] = net.logits_and_features(chunk)[1]
        if progress is not None:
            progress(start + len(chunk), total)
    return features
