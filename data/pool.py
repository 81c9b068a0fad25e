"""Process pools for the data layer's CPU-bound steps (decoding, drawing faces).

A plain process forks its workers: nothing is imported again and they start at once.
A process with TensorFlow, JAX or PyTorch loaded (a search worker) should not fork, since
their thread pools may hold locks a child would then wait on forever; it starts workers
from a fork server instead, which re-imports the main module in each of them, so scripts
that build caches there need the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from multiprocessing.pool import Pool

from data.errors import DataError

__all__ = ["process_pool", "worker_count"]

_THREADED = ("tensorflow", "jax", "torch")


def worker_count(workers: int | None) -> int:
    """`workers`, checked, or the number of cores this process may use."""
    if workers is None:
        return len(os.sched_getaffinity(0))
    if workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    return workers


def _runs_thread_pools() -> bool:
    """Whether a library that keeps its own threads (and locks) is loaded."""
    return any(name in sys.modules for name in _THREADED)


def _default_signals() -> None:
    # A forked worker inherits its parent's handlers (search.run turns SIGTERM into Ctrl-C);
    # the pool stops its workers with SIGTERM, which must simply end them. Ctrl-C is the
    # parent's to handle.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(workers: int, preload: str) -> Pool:
    """A pool of `workers` processes; `preload` is the module their tasks live in."""
    if not _runs_thread_pools():
        return multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    return context.Pool(workers, initializer=_default_signals)
