"""The CPU side of a run's speed: shard threads that compute each batch side by side
(:class:`Workers`), and glibc told to keep freed memory for reuse while a run lasts
(:func:`reuse_freed_memory`). Both are measured in benchmarks/bench_training.py."""

from __future__ import annotations

import contextlib
import ctypes
import platform
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import torch

# --------------------------------------------------------------------------- threads


# Fewer images than this per shard, and a shard's fixed costs outweigh the extra core.
MIN_SHARD = 16


class Workers:
    """Threads that each compute one shard of every batch, with few torch threads apiece.

    Why not just torch's intra-op threads: for this small network they scale poorly (every
    one of the ~40 small operations of a step is a parallel region ending in a barrier where
    finished threads spin), and they collapse as soon as anything else wants a core, since
    every barrier then waits for the one thread the scheduler has put aside: measured here
    under load, 215 images/s for 2 torch threads against 1,514 for 2 shard threads. Shards
    do not wait for each other until the step's end (torch ops release the GIL), so they
    use whatever CPU time they get. On a GPU there is one shard: the device is the worker.
    """

    def __init__(self, count: int, per_worker: int) -> None:
        self.count = count
        self.per_worker = per_worker
        self.pool = None
        if count > 1:
            self.pool = ThreadPoolExecutor(
                count - 1,
                thread_name_prefix="drawdigit-train",
                initializer=torch.set_num_threads,
                initargs=(per_worker,),
            )

    @classmethod
    @contextlib.contextmanager
    def for_run(
        cls, threads: int | None, batch_size: int, device: torch.device
    ) -> Iterator[Workers]:
        """Workers for ``threads`` CPU threads in all (None: torch's count), as many shard
        threads as batches of ``batch_size`` can use; the caller's thread is one of them."""
        total = threads or torch.get_num_threads()
        count = 1
        if device.type == "cpu":
            count = max(1, min(total, batch_size // MIN_SHARD))
        per_worker = max(1, total // count)
        previous = torch.get_num_threads()
        torch.set_num_threads(per_worker)
        workers = cls(count, per_worker)
        try:
            yield workers
        finally:
            if workers.pool is not None:
                workers.pool.shutdown(wait=True)
            torch.set_num_threads(previous)

    @property
    def threads(self) -> int:
        return self.count * self.per_worker

    def shards(self, n: int, limit: int | None = None) -> list[slice]:
        """``n`` items cut into at most ``count`` (and ``limit``) near-equal contiguous
        shards."""
        k = max(1, min(self.count, limit or self.count, n // MIN_SHARD))
        bounds = [round(i * n / k) for i in range(k + 1)]
        return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]

    def map(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``[function(item) for item in items]``, the first in this thread, the rest in
        the pool, results in order (so that sums over them are reproducible)."""
        if self.pool is None or len(items) == 1:
            return [function(item) for item in items]
        futures = [self.pool.submit(function, item) for item in items[1:]]
        try:
            first = function(items[0])
        finally:
            wait(futures)
        return [first] + [future.result() for future in futures]


# --------------------------------------------------------------------------- environment


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
_KEEP_THRESHOLD = 1 << 30
_memory_lock = threading.Lock()
_memory_users = 0


def _glibc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Let glibc keep freed blocks for reuse while training runs (Linux only).

    By default glibc serves every block over ~128 KiB-32 MiB with a fresh ``mmap`` and
    unmaps it on free, so each step's multi-megabyte activations and gradients arrive as
    new pages that fault in one at a time: ~2,400 page faults and 7 ms of kernel time per
    batch-64 step here, a quarter of the step. Raising the thresholds for the run keeps
    that memory mapped and reused; afterwards the defaults come back and the surplus is
    returned to the system. Process-wide, hence counted so overlapping runs nest.
    """
    global _memory_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _memory_lock:
        _memory_users += 1
        if _memory_users == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_THRESHOLD)
    try:
        yield
    finally:
        with _memory_lock:
            _memory_users -= 1
            if _memory_users == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
                libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
                libc.malloc_trim(0)
