"""Training batches drawn from a (memory-mapped) split without loading it whole."""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["TrainBatches"]


class TrainBatches(keras.utils.PyDataset):
    """An endless stream of shuffled (uint8 images, float32 labels) batches.

    Batch `i` belongs to epoch `i // steps_per_epoch`, and each epoch's order is a
    permutation drawn from (seed, epoch); so the stream is a pure function of `i`, and
    prefetching across an epoch boundary cannot mix two epochs' orders. Fit it with
    `steps_per_epoch=batches.steps_per_epoch`.

    With `full_batches` (the default) every batch has `batch_size` rows: an epoch's last
    batch is filled up with the first images of the same epoch's order, so that one step
    function shape serves the whole training (a smaller last batch makes Keras trace the
    step again). Every image is still trained on once per epoch; `images_per_epoch` counts
    the images an epoch trains on, repeats included.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        seed: int,
        *,
        full_batches: bool = True,
    ):
        super().__init__()
        if len(images) != len(labels) or len(images) == 0:
            raise ValueError(f"{len(images)} images and {len(labels)} labels: need equal, > 0")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.seed = seed
        self.full_batches = full_batches
        self.steps_per_epoch = -(-len(images) // batch_size)
        self.images_per_epoch = self.steps_per_epoch * batch_size if full_batches else len(images)
        self._epoch = -1
        self._order = np.arange(0)

    @property
    def num_batches(self) -> None:
        return None

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, step = divmod(index, self.steps_per_epoch)
        if epoch != self._epoch:
            order = np.random.default_rng((self.seed, epoch)).permutation(len(self.images))
            # np.resize repeats the order cyclically up to the epoch's full-batch length
            self._order = np.resize(order, self.images_per_epoch)
            self._epoch = epoch
        # sorted indices read the memory map front to back
        batch = np.sort(self._order[step * self.batch_size : (step + 1) * self.batch_size])
        return self.images[batch], self.labels[batch].astype(np.float32)
