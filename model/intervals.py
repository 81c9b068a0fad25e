"""95% bootstrap intervals of a split's figures: resample the images, recompute, take the
2.5th and 97.5th percentiles.

A resample is a row of counts (how often each image was drawn), so every figure is computed
as a weighted one over the images in their original order: the scores are sorted once and
each AUC is a weighted Mann-Whitney U (ties counted half) over all resamples at a time.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from model.card import Interval, SplitIntervals

__all__ = [
    "RESAMPLES",
    "interval",
    "percentiles",
    "resample_counts",
    "split_intervals",
    "weighted_auc",
    "weighted_mean",
]

RESAMPLES = 1000
_CELLS_PER_CHUNK = 4_000_000  # resamples x scores held at once (memory, not speed)


def resample_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) counts: each row draws n of the n images with replacement."""
    draws = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n), dtype=np.int32)
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    return counts


def weighted_auc(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of `scores` (n,) against 0/1 `labels` (n,) under each row of `counts` (B, n).

    NaN for a row whose drawn images hold one class only.
    """
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores, positive = scores[order], labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    out = np.empty(len(counts))
    step = max(1, _CELLS_PER_CHUNK // max(1, scores.size))
    for lo in range(0, len(counts), step):
        weights = np.asarray(counts[lo : lo + step], dtype=np.float64)[:, order]
        pos = np.add.reduceat(weights * positive, starts, axis=1)  # per tie group
        neg = np.add.reduceat(weights * ~positive, starts, axis=1)
        neg_below = np.cumsum(neg, axis=1) - neg
        u = (pos * (neg_below + neg / 2)).sum(axis=1)
        n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo : lo + step] = np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)
    return out


def weighted_mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The mean of `values` (n,) under each row of `counts` (B, n); NaN for an empty row."""
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts @ np.asarray(values, dtype=np.float64) / total, np.nan)


def percentiles(
    replicates: np.ndarray, most_undefined: float = 0.05
) -> tuple[float, float] | None:
    """The 95% percentile interval (low, high), None when over `most_undefined` are NaN."""
    replicates = np.asarray(replicates, dtype=np.float64)
    defined = replicates[~np.isnan(replicates)]
    if defined.size == 0 or defined.size < (1 - most_undefined) * replicates.size:
        return None
    low, high = np.percentile(defined, [2.5, 97.5])
    return float(low), float(high)


def interval(replicates: np.ndarray) -> Interval | None:
    """`percentiles` of a figure between 0 and 1, as the card stores it."""
    bounds = percentiles(replicates)
    return None if bounds is None else Interval(*bounds)


def split_intervals(
    labels: np.ndarray,
    probs: np.ndarray,
    names: Sequence[str],
    thresholds: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> SplitIntervals:
    """Bootstrap intervals of the macro and micro AUC, the mean accuracy at 0.5 and at
    `thresholds`, and each attribute's AUC, over `resamples` resamples of the images."""
    positive = np.asarray(labels).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    n, n_attrs = probs.shape
    counts = resample_counts(n, resamples, np.random.default_rng(seed))
    per_attribute = np.full((resamples, n_attrs), np.nan)
    for j in range(n_attrs):
        if 0 < positive[:, j].sum() < n:  # an attribute of one class has no AUC at all
            per_attribute[:, j] = weighted_auc(positive[:, j], probs[:, j], counts)
    defined = ~np.isnan(per_attribute).all(axis=0)
    with warnings.catch_warnings():  # a resample may leave every attribute of one class
        warnings.simplefilter("ignore", RuntimeWarning)
        macro = np.nanmean(per_attribute[:, defined], axis=1) if defined.any() else None
    micro = _micro(positive, probs, counts)
    right_half = ((probs > 0.5) == positive).mean(axis=1)
    right_tuned = ((probs > np.asarray(thresholds)) == positive).mean(axis=1)
    return SplitIntervals(
        resamples=resamples,
        macro_auc=None if macro is None else interval(macro),
        micro_auc=None if np.isnan(micro).all() else interval(micro),
        mean_accuracy=_sure(interval(weighted_mean(right_half, counts))),
        mean_accuracy_tuned=_sure(interval(weighted_mean(right_tuned, counts))),
        per_attribute_auc={
            name: interval(per_attribute[:, j]) for j, name in enumerate(names)
        },  # fmt: skip
    )


def _micro(positive: np.ndarray, probs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The micro AUC (all labels flattened) per resample, an image's count on each label."""
    if not 0 < positive.sum() < positive.size:
        return np.full(len(counts), np.nan)
    n_attrs = probs.shape[1]
    parts = [
        weighted_auc(positive.reshape(-1), probs.reshape(-1), np.repeat(chunk, n_attrs, axis=1))
        for chunk in _chunks(counts, n_attrs)
    ]
    return np.concatenate(parts)


def _chunks(counts: np.ndarray, widen: int) -> Iterator[np.ndarray]:
    step = max(1, _CELLS_PER_CHUNK // max(1, counts.shape[1] * widen))
    for lo in range(0, len(counts), step):
        yield counts[lo : lo + step]


def _sure(value: Interval | None) -> Interval:
    # a mean over images is defined for every resample: each draws n images
    if value is None:
        raise ValueError("a mean accuracy had undefined resamples")
    return value
