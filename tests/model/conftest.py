"""Tiny in-memory datasets for the model tests: synthetic pictures with drawn attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data import CelebaData, Split
from model import ModelParams

# what each synthetic attribute draws; "Noise" is drawn from nothing and cannot be learnt
SYNTHETIC_ATTRS = ("Square", "Red", "Bar", "Noise")

# a few thousand parameters: seconds per epoch on two CPU cores
TINY = ModelParams(
    conv_widths=(4, 8, 8, 8), dense_widths=(16, 16), dropout=0.0, learning_rate=3e-3
)


def draw_pictures(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 pictures (n, size, size, 3) and their 0/1 labels (n, 4) in SYNTHETIC_ATTRS order."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=(n, len(SYNTHETIC_ATTRS)), dtype=np.uint8)
    images = rng.integers(40, 90, size=(n, size, size, 3)).astype(np.float64)
    half = size // 2
    for i, (square, red, bar, _) in enumerate(labels):
        if red:
            images[i, :, :, 0] += 90
        else:
            images[i, :, :, 2] += 90
        if square:
            top, left = rng.integers(0, size - half + 1, size=2)
            images[i, top : top + half, left : left + half] = 250
        if bar:
            row = rng.integers(0, size - 3)
            images[i, row : row + 3, :] = 0
    return images.clip(0, 255).astype(np.uint8), labels


def make_data(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    attr_names: tuple[str, ...] = SYNTHETIC_ATTRS,
) -> CelebaData:
    """A CelebaData over in-memory arrays; the test split repeats val."""

    def split(images: np.ndarray, labels: np.ndarray) -> Split:
        ids = np.array([f"{i:06d}.jpg" for i in range(len(images))])
        return Split(ids=ids, images=images, labels=labels)

    return CelebaData(
        path=Path("in-memory"),
        attr_names=attr_names,
        image_size=train[0].shape[1],
        train=split(*train),
        val=split(*val),
        test=split(*val),
        fingerprint="synthetic",
        manifest={},
    )


@pytest.fixture(scope="session")
def pictures() -> CelebaData:
    """400 training and 200 validation pictures of 16x16 pixels."""
    return make_data(draw_pictures(400, 16, seed=1), draw_pictures(200, 16, seed=2))
