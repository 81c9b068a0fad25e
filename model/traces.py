"""Counting how often Keras traces a model's train and predict steps.

The body of `train_step` / `predict_step` runs in Python only when the backend traces it
(TensorFlow's function tracing or jax.jit), never when a traced step is replayed; so
counting calls to that body counts traces. Install the counter on a model before its first
fit or predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

__all__ = ["TraceCounter"]


@dataclass
class TraceCounter:
    """`train` and `predict` traces of one model since `TraceCounter.install(model)`."""

    train: int = 0
    predict: int = 0

    @classmethod
    def install(cls, model: keras.Model) -> TraceCounter:
        counter = cls()
        model.train_step = counter._counting("train", model.train_step)
        model.predict_step = counter._counting("predict", model.predict_step)
        return counter

    def _counting(self, name: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            setattr(self, name, getattr(self, name) + 1)
            return step(*args, **kwargs)

        return counted
