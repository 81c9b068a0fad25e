"""Dynamic batching: requests that arrive together share one model call.

Each request puts its face on a queue and awaits its row of probabilities. One loop takes
the first waiting face and everything that queued up while the previous call ran, waits up
to `max_wait_s` for more only while other requests are still being decoded (`preparing`:
a lone request never waits), up to `max_batch`, and runs the model once on the stack in a
single worker thread, so the event loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

__all__ = ["BatchedResult", "DynamicBatcher"]


@dataclass(frozen=True)
class BatchedResult:
    probabilities: np.ndarray  # (A,) this request's row
    batch_size: int  # faces in the model call this request was part of
    queue_s: float  # from submission to the start of the model call
    model_s: float  # the whole batch's model call


@dataclass
class _Pending:
    pixels: np.ndarray
    future: asyncio.Future[BatchedResult]
    submitted: float


class DynamicBatcher:
    """Batches `predict(images (N, S, S, 3) uint8) -> (N, A)` calls across requests."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
    ) -> None:
        self._predict = predict
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._loop_task: asyncio.Task | None = None
        self._preparing = 0  # requests that will submit a face once decoded

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Around a request's decoding: a batch being gathered waits for it."""
        self._preparing += 1
        try:
            yield
        finally:
            self._preparing -= 1

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def predict(self, pixels: np.ndarray) -> BatchedResult:
        """This face's probabilities, computed in a batch with whatever else is waiting."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(pixels, future, time.perf_counter()))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            started = time.perf_counter()
            try:
                stacked = np.stack([item.pixels for item in batch])
                probs = await loop.run_in_executor(self._executor, self._predict, stacked)
            except Exception as err:  # one failed call fails its requests, not the service
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(err)
                continue
            model_s = time.perf_counter() - started
            for item, row in zip(batch, probs, strict=True):
                if not item.future.done():  # its client may have gone away
                    item.future.set_result(
                        BatchedResult(row, len(batch), started - item.submitted, model_s)
                    )

    async def _gather(self) -> list[_Pending]:
        batch = [await self._queue.get()]
        deadline = time.perf_counter() + self._max_wait_s
        while len(batch) < self._max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or self._preparing == 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch
