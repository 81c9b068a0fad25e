"""Per-attribute decision thresholds chosen on a validation split."""

from __future__ import annotations

import numpy as np

__all__ = ["tune_thresholds"]


def tune_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per attribute, the threshold t (present where p > t) of highest accuracy on `labels`.

    Every cut between two distinct sorted probabilities is tried at once (cumulative counts
    over the sorted column); among equally accurate cuts the one nearest 0.5 wins.
    """
    positive = np.asarray(labels).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    if positive.shape != probs.shape or probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"labels {positive.shape} and probs {probs.shape} must be equal (N, A)")
    order = np.argsort(probs, axis=0, kind="stable")
    p = np.take_along_axis(probs, order, axis=0)
    y = np.take_along_axis(positive, order, axis=0)
    zero = np.zeros((1, probs.shape[1]))
    # cut k (0..N): the k lowest probabilities are predicted absent, the others present
    negatives_below = np.vstack([zero, np.cumsum(~y, axis=0)])
    positives_below = np.vstack([zero, np.cumsum(y, axis=0)])
    correct = negatives_below + (y.sum(axis=0) - positives_below)
    below_all = np.minimum(p[:1] / 2, p[:1] - 1e-6)  # below 0 only for a column with p = 0
    cuts = np.vstack([below_all, (p[:-1] + p[1:]) / 2, (p[-1:] + 1) / 2])
    always = np.ones_like(zero, dtype=bool)
    valid = np.vstack([always, p[:-1] < p[1:], always])
    correct = np.where(valid, correct, -1)
    best = correct == correct.max(axis=0)
    chosen = np.argmax(np.where(best, -np.abs(cuts - 0.5), -np.inf), axis=0)
    return cuts[chosen, np.arange(probs.shape[1])]
