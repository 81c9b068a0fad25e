from __future__ import annotations

import numpy as np
import pytest

from model.batches import TrainBatches


def _rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    # each image's pixels hold its row number, so a batch says which rows it read
    images = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    return images, np.zeros((n, 4), dtype=np.uint8)


def _epoch_rows(batches: TrainBatches, epoch: int) -> list[np.ndarray]:
    steps = batches.steps_per_epoch
    return [batches[epoch * steps + s][0][:, 0, 0, 0] for s in range(steps)]


@pytest.mark.parametrize(("n", "batch"), [(103, 10), (100, 10), (7, 10)])
def test_every_batch_is_full_and_every_image_is_trained_each_epoch(n, batch):
    batches = TrainBatches(*_rows(n), batch, seed=3)

    for epoch in range(3):
        rows = _epoch_rows(batches, epoch)
        assert [len(r) for r in rows] == [batch] * batches.steps_per_epoch
        seen = np.concatenate(rows)
        assert set(seen.tolist()) == set(range(n))
        assert len(seen) == batches.images_per_epoch == batches.steps_per_epoch * batch
        # the filler cycles through the epoch's order: no image repeats more than needed
        assert np.bincount(seen).max() == -(-len(seen) // n)


def test_the_earlier_feeding_ends_each_epoch_with_a_smaller_batch():
    batches = TrainBatches(*_rows(103), 10, seed=3, full_batches=False)

    rows = _epoch_rows(batches, 0)

    assert [len(r) for r in rows] == [10] * 10 + [3]
    assert sorted(np.concatenate(rows).tolist()) == list(range(103))
    assert batches.images_per_epoch == 103


def test_the_stream_is_a_pure_function_of_the_batch_index():
    batches = TrainBatches(*_rows(103), 10, seed=3)
    forward = [batches[i][0] for i in range(25)]

    again = TrainBatches(*_rows(103), 10, seed=3)
    backward = [again[i][0] for i in reversed(range(25))][::-1]

    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(_epoch_rows(batches, 0)[0], _epoch_rows(batches, 1)[0])
