"""Process pools for the data layer's CPU-bound steps (decoding, drawing faces).

A plain process forks its workers: nothing is imported again and they start at once.
A process with TensorFlow, JAX or PyTorch loaded (a search worker) should not fork, since
their thread pools may hold locks a child would then wait on forever; it starts workers
from a fork server instead, which re-imports the main module in each of them, so scripts
that build caches there need the usual `if __name__ == "__main__":` guard.

The pool is a `concurrent.futures.ProcessPoolExecutor`, not `multiprocessing.Pool`: when a
worker dies (it cannot import its modules at start-up, or it is killed) the executor
breaks and says so, where `multiprocessing.Pool` starts a replacement that dies the same
way, forever, and the command hangs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from data.errors import DataError

__all__ = ["map_unordered", "worker_count"]

_THREADED = ("tensorflow", "jax", "torch")

Task = TypeVar("Task")
Result = TypeVar("Result")


def worker_count(workers: int | None) -> int:
    """`workers`, checked, or the number of cores this process may use."""
    if workers is None:
        return len(os.sched_getaffinity(0))
    if workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    return workers


def map_unordered(
    function: Callable[[Task], Result], tasks: Iterable[Task], workers: int, preload: str
) -> Iterator[Result]:
    """`function(task)` for every task on `workers` processes, each result as it is ready.

    `preload` is the module `function` lives in. Raises `DataError` (one line, no hang)
    when a worker process dies; `--workers 1` then runs the work in-process and shows why.
    """
    with ProcessPoolExecutor(workers, mp_context=_context(preload), initializer=_signals) as pool:
        try:
            pending = {pool.submit(function, task) for task in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BrokenProcessPool:
            raise DataError(
                "a worker process died (at start-up, or killed); run with --workers 1 to see why"
            ) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _context(preload: str) -> multiprocessing.context.BaseContext:
    if not any(name in sys.modules for name in _THREADED):
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    return context


def _signals() -> None:
    # A forked worker inherits its parent's handlers (search.run turns SIGTERM into Ctrl-C);
    # a worker stopped with SIGTERM must simply end. Ctrl-C is the parent's to handle.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
