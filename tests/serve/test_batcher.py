"""The dynamic batcher on its own: who waits for whom, and whose row goes where."""

from __future__ import annotations

import asyncio

import numpy as np

from serve.batcher import DynamicBatcher


def row_sums(images: np.ndarray) -> np.ndarray:
    """(N, 2): each image's pixel sum, and the batch size it was computed in."""
    sums = images.reshape(len(images), -1).sum(axis=1)
    return np.stack([sums, np.full(len(images), len(images))], axis=1).astype(float)


def image(value: int) -> np.ndarray:
    return np.full((2, 2, 3), value, dtype=np.uint8)


async def _lone_request(max_wait_s: float):
    batcher = DynamicBatcher(row_sums, max_batch=8, max_wait_s=max_wait_s)
    await batcher.start()
    try:  # nobody else is being decoded: the request must not sit out the hour
        return await asyncio.wait_for(batcher.predict(image(1)), timeout=30)
    finally:
        await batcher.stop()


def test_a_lone_request_does_not_wait_for_company():
    result = asyncio.run(_lone_request(max_wait_s=3600))
    assert result.batch_size == 1 and result.probabilities[0] == 12


async def _two_arriving_apart():
    batcher = DynamicBatcher(row_sums, max_batch=8, max_wait_s=3600)
    await batcher.start()
    try:

        async def second() -> object:
            with batcher.preparing():
                await asyncio.sleep(0.05)  # still decoding when the first face arrives
            return await batcher.predict(image(2))

        with batcher.preparing():
            later = asyncio.create_task(second())
            await asyncio.sleep(0)
        first = await batcher.predict(image(1))
        return first, await later
    finally:
        await batcher.stop()


def test_a_face_still_being_decoded_joins_the_batch_and_each_gets_its_row():
    first, second = asyncio.run(asyncio.wait_for(_two_arriving_apart(), timeout=60))
    assert first.batch_size == second.batch_size == 2
    assert (first.probabilities[0], second.probabilities[0]) == (12, 24)


async def _failing_model():
    calls = []

    def fails_once(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return row_sums(images)

    batcher = DynamicBatcher(fails_once, max_batch=8, max_wait_s=0.001)
    await batcher.start()
    try:  # both faces are queued before the loop runs: one call, which fails
        results = await asyncio.gather(
            batcher.predict(image(1)), batcher.predict(image(2)), return_exceptions=True
        )
        return results, await batcher.predict(image(3))
    finally:
        await batcher.stop()


def test_a_failed_model_call_fails_its_requests_and_the_loop_goes_on():
    results, after = asyncio.run(asyncio.wait_for(_failing_model(), timeout=60))
    assert all(isinstance(r, RuntimeError) for r in results)
    assert after.probabilities[0] == 36
