"""What a configuration costs where it ships, known before training: parameters and the
batch-1 latency of one prediction on this process's device (weights do not change it)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np

from model.network import build_model
from model.params import ModelParams

__all__ = ["Footprint", "measure_footprint"]


@dataclass(frozen=True)
class Footprint:
    n_params: int
    latency_ms: float  # median of warm batch-1 predictions


def measure_footprint(
    params: ModelParams, image_size: int, n_attrs: int, *, runs: int = 5, dtype_policy=None
) -> Footprint:
    """Build a throwaway model of `params` and time `runs` warm batch-1 predictions."""
    model = build_model(params, image_size, n_attrs, dtype_policy=dtype_policy)
    image = np.zeros((1, image_size, image_size, 3), dtype=np.uint8)
    model.predict_on_batch(image)  # the trace and first-call set-up are not latency
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        np.asarray(model.predict_on_batch(image))
        seconds.append(time.perf_counter() - started)
    n_params = model.count_params()
    del model
    keras.backend.clear_session()
    return Footprint(n_params=n_params, latency_ms=1000 * float(np.median(seconds)))
