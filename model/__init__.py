"""The CNN, its training loop and exact metrics; knows nothing of Optuna.

params = ModelParams(conv_widths=(32, 64, 128, 256))
result = train(params, data, epochs=10, batch_size=64, patience=3)
probs = predict_proba(result.model, data.test.images)
metrics = evaluate(data.test.labels, probs, data.attr_names)
"""

from __future__ import annotations

from model.errors import NonFiniteLossError, TrainingError
from model.metrics import Metrics, evaluate, roc_auc
from model.network import ModelParams, build_model
from model.training import (
    MIXED_POLICY,
    EpochResult,
    TrainResult,
    gpu_available,
    predict_proba,
    train,
)

__all__ = [
    "MIXED_POLICY",
    "EpochResult",
    "Metrics",
    "ModelParams",
    "NonFiniteLossError",
    "TrainResult",
    "TrainingError",
    "build_model",
    "evaluate",
    "gpu_available",
    "predict_proba",
    "roc_auc",
    "train",
]
