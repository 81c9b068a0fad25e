"""The figures a model card carries, computed from a model's predictions on a split."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from model.card import AttributeScores, BaseRateScores, SplitScores
from model.metrics import Metrics, evaluate

__all__ = ["base_rate_probs", "base_rate_scores", "split_scores"]


def base_rate_probs(train_labels: np.ndarray, n: int) -> np.ndarray:
    """(n, A): every image gets each attribute's positive rate in the train split."""
    rates = np.asarray(train_labels, dtype=np.float64).mean(axis=0)
    return np.broadcast_to(rates, (n, rates.size))


def split_scores(
    labels: np.ndarray, probs: np.ndarray, names: Sequence[str], thresholds: np.ndarray
) -> SplitScores:
    """AUCs and accuracies at 0.5 and at `thresholds`, overall and per attribute."""
    at_half = evaluate(labels, probs, names)
    with warnings.catch_warnings():  # the same single-class warning as just above
        warnings.simplefilter("ignore", UserWarning)
        tuned = evaluate(labels, probs, names, thresholds=thresholds)
    return SplitScores(
        micro_auc=_finite(at_half.micro_auc),
        macro_auc=_finite(at_half.macro_auc),
        mean_accuracy=at_half.mean_accuracy,
        mean_accuracy_tuned=tuned.mean_accuracy,
        per_attribute={
            name: AttributeScores(
                auc=_finite(at_half.per_attribute_auc[name]),
                accuracy=at_half.per_attribute_accuracy[name],
                accuracy_tuned=tuned.per_attribute_accuracy[name],
            )
            for name in names
        },
    )


def base_rate_scores(
    train_labels: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> BaseRateScores:
    """The figures of a constant model (AUC 0.5 each; accuracy of guessing the majority)."""
    probs = base_rate_probs(train_labels, len(labels))
    with warnings.catch_warnings():  # single-class attributes were reported for the model
        warnings.simplefilter("ignore", UserWarning)
        metrics: Metrics = evaluate(labels, probs, names)
    return BaseRateScores(
        micro_auc=_finite(metrics.micro_auc),
        macro_auc=_finite(metrics.macro_auc),
        mean_accuracy=metrics.mean_accuracy,
        per_attribute_accuracy=metrics.per_attribute_accuracy,
    )


def _finite(value: float | None) -> float | None:
    # JSON has no NaN: an undefined AUC (one class only) is stored as null
    return None if value is None or math.isnan(value) else float(value)
