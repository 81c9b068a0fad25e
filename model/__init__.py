"""The CNN, its training loop, exact metrics and the exported model's format; knows nothing
of Optuna.

params = ModelParams(conv_widths=(32, 64, 128, 256))
result = train(params, data, epochs=10, batch_size=64, patience=3)
probs = predict_proba(result.model, data.test.images)
metrics = evaluate(data.test.labels, probs, data.attr_names)

Names are imported on first use, so that code which only names a configuration or reads a
model card (`ModelParams`, `ModelCard`) does not load Keras and its backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import common.environment  # noqa: F401  (before any backend is imported)
from common.lazy import lazy_attributes
from model.params import ModelParams

if TYPE_CHECKING:
    from model.errors import NonFiniteLossError, TrainingError
    from model.metrics import Metrics, evaluate, roc_auc
    from model.network import build_model
    from model.prediction import PREDICT_BATCH, predict_proba
    from model.training import (
        MIXED_POLICY,
        EpochResult,
        TrainResult,
        default_dtype_policy,
        gpu_available,
        train,
    )

__all__ = [
    "MIXED_POLICY",
    "PREDICT_BATCH",
    "EpochResult",
    "Metrics",
    "ModelParams",
    "NonFiniteLossError",
    "TrainResult",
    "TrainingError",
    "build_model",
    "default_dtype_policy",
    "evaluate",
    "gpu_available",
    "predict_proba",
    "roc_auc",
    "train",
]

_LAZY = {
    "NonFiniteLossError": "model.errors",
    "TrainingError": "model.errors",
    "Metrics": "model.metrics",
    "evaluate": "model.metrics",
    "roc_auc": "model.metrics",
    "build_model": "model.network",
    "MIXED_POLICY": "model.training",
    "PREDICT_BATCH": "model.prediction",
    "EpochResult": "model.training",
    "TrainResult": "model.training",
    "default_dtype_policy": "model.training",
    "gpu_available": "model.training",
    "predict_proba": "model.prediction",
    "train": "model.training",
}

__getattr__ = lazy_attributes("model", _LAZY)
