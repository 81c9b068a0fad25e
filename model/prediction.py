"""Probabilities from a model, batch by batch: a Keras model or an export run with NumPy.

Nothing here imports Keras, so that `serve.predict` with a NumPy model never loads it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["PREDICT_BATCH", "Predictor", "predict_proba"]

# every prediction batch (val, test, predict) has this many rows, the last one padded, so
# that a model traces its predict step once
PREDICT_BATCH = 256


class Predictor(Protocol):
    """What predict_proba needs of a model: keras.Model and model.numpy_model.NumpyModel."""

    output_shape: tuple[int | None, ...]

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray: ...


def predict_proba(
    model: Predictor, images: np.ndarray, batch_size: int = PREDICT_BATCH, *, pad: bool = True
) -> np.ndarray:
    """Probabilities (N, A) float32 for uint8 images (N, S, S, 3), read batch by batch.

    With `pad` the last batch is filled up with black images to `batch_size` rows and their
    predictions dropped: one input shape, one trace. Inference treats rows independently
    (BatchNorm uses its moving statistics, dropout is off), so padding changes no real row.
    """
    chunks = []
    for start in range(0, len(images), batch_size):
        chunk = np.asarray(images[start : start + batch_size])
        rows = len(chunk)
        if pad and rows < batch_size:
            filler = np.zeros((batch_size - rows, *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, filler])
        chunks.append(np.asarray(model.predict_on_batch(chunk))[:rows])
    if not chunks:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
