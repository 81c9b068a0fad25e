"""Exact metrics from the predictions on a whole split (not Keras' streaming estimates)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Metrics", "evaluate", "roc_auc"]


@dataclass(frozen=True)
class Metrics:
    """Metrics of one split.

    micro_auc: one AUC over all labels flattened (the notebook's number). It flatters: a
        model that outputs each attribute's base rate already scores about 0.80 on CelebA.
    macro_auc: mean of the per-attribute AUCs (0.5 for a constant model), the honest number;
        attributes with a single class in the split are left out (NaN if none is left).
    mean_accuracy: mean over attributes of the accuracy at the thresholds (0.5 by default),
        the figure the CelebA literature reports.
    """

    micro_auc: float
    macro_auc: float
    mean_accuracy: float
    per_attribute_auc: dict[str, float | None]
    per_attribute_accuracy: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def roc_auc(labels_1d: np.ndarray, scores_1d: np.ndarray) -> float:
    """Exact ROC AUC: the Mann-Whitney U statistic with ties counted as half.

    Raises ValueError when the labels hold only one class (the AUC is undefined).
    """
    labels = np.asarray(labels_1d).reshape(-1).astype(bool)
    scores = np.asarray(scores_1d, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in length")
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC is undefined when the labels hold only one class")
    ranks = _average_ranks(scores)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    group_ranks = (starts + ends + 1) / 2.0
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(group_ranks, ends - starts)
    return ranks


def evaluate(
    labels: np.ndarray,
    probs: np.ndarray,
    attr_names: Sequence[str],
    thresholds: np.ndarray | None = None,
) -> Metrics:
    """Metrics of `probs` (N, A) against 0/1 `labels` (N, A).

    An attribute counts as predicted present where its probability is above its threshold
    (`thresholds`: one per attribute or a scalar; 0.5 by default). An attribute with a
    single class in `labels` gets AUC None and is left out of the macro AUC, with a warning.
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    if labels.ndim != 2 or labels.shape != probs.shape:
        raise ValueError(f"labels {labels.shape} and probs {probs.shape} must be equal (N, A)")
    if labels.shape[1] != len(attr_names):
        raise ValueError(f"{labels.shape[1]} label columns but {len(attr_names)} attribute names")
    if labels.shape[0] == 0:
        raise ValueError("cannot evaluate an empty split")
    cut = np.broadcast_to(0.5 if thresholds is None else np.asarray(thresholds), labels.shape[1:])
    positive = labels.astype(bool)

    per_auc: dict[str, float | None] = {}
    one_class: list[str] = []
    for j, name in enumerate(attr_names):
        column = positive[:, j]
        if column.all() or not column.any():
            per_auc[name] = None
            one_class.append(name)
        else:
            per_auc[name] = roc_auc(column, probs[:, j])
    if one_class:
        warnings.warn(
            f"{len(one_class)} attribute(s) have a single class in this split and no AUC; "
            f"left out of the macro AUC: {', '.join(one_class)}",
            stacklevel=2,
        )
    aucs = [a for a in per_auc.values() if a is not None]
    macro = float(np.mean(aucs)) if aucs else float("nan")
    micro = roc_auc(positive, probs) if 0 < positive.sum() < positive.size else float("nan")

    accuracy = ((probs > cut) == positive).mean(axis=0)
    per_acc = {name: float(a) for name, a in zip(attr_names, accuracy, strict=True)}
    return Metrics(
        micro_auc=micro,
        macro_auc=macro,
        mean_accuracy=float(accuracy.mean()),
        per_attribute_auc=per_auc,
        per_attribute_accuracy=per_acc,
    )
