"""Re-estimate BatchNorm's moving statistics from a sample of training images.

During an epoch BatchNorm normalises with each batch's own statistics, while inference uses
moving averages that lag behind weights that are still moving fast (momentum 0.99: about a
hundred batches of memory). After one or two epochs those averages describe an older network,
so validation scores then rank configurations almost at random. Setting the moving statistics
to the statistics of the current network on a few hundred training images fixes that.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["CALIBRATION_IMAGES", "calibration_sample", "recalibrate_batchnorm"]

CALIBRATION_IMAGES = 256  # one forward pass; enough for stable per-channel means and variances


def calibration_sample(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` training images drawn once per training run (a copy, in memory)."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
    return np.asarray(images[picked])


def recalibrate_batchnorm(model: keras.Model, images: np.ndarray) -> None:
    """Set every BatchNorm layer's moving mean and variance to those of `images` now.

    One forward pass in training mode with momentum 0: each layer's update then replaces
    its moving statistics by the batch's, computed on the inputs the layers before produce.
    """
    batchnorm = keras.layers.BatchNormalization
    layers = [layer for layer in model.layers if isinstance(layer, batchnorm)]
    if not layers or len(images) == 0:
        return
    momenta = [layer.momentum for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0
        model(images, training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
