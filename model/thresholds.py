"""Per-attribute decision thresholds that are expected to beat 0.5 on new faces.

The cut of highest validation accuracy (`best_cuts`) fits the validation split's noise when
that split is small, most of all for rare attributes: on new data it often loses to 0.5.
`choose_thresholds` therefore keeps 0.5 unless a tuned cut has shown, out of sample, that it
does better: the validation split is cut into k folds (stratified per attribute); for each
fold a cut tuned on the other folds is scored on the held-out one against 0.5, and the
attribute is tuned only when those held-out gains add up to at least `margin` images and no
fold loses. Attributes with too few positives or negatives in validation keep 0.5 outright.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.card import ThresholdChoice

__all__ = ["ThresholdRule", "best_cuts", "choose_thresholds"]

HALF = 0.5


@dataclass(frozen=True)
class ThresholdRule:
    folds: int = 5  # cross-validation folds inside the validation split
    margin: int = 2  # images the tuned cuts must win by, summed over the held-out folds
    min_class: int = 10  # fewest positives and fewest negatives in validation to try tuning

    def __post_init__(self) -> None:
        if self.folds < 2 or self.margin < 0 or self.min_class < 0:
            raise ValueError(f"invalid threshold rule {self}")


def best_cuts(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
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
    chosen = np.argmax(np.where(best, -np.abs(cuts - HALF), -np.inf), axis=0)
    return cuts[chosen, np.arange(probs.shape[1])]


def choose_thresholds(
    labels: np.ndarray,
    probs: np.ndarray,
    names: list[str] | tuple[str, ...],
    rule: ThresholdRule = ThresholdRule(),
    seed: int = 0,
) -> dict[str, ThresholdChoice]:
    """Each attribute's threshold on the validation split, with why it was chosen."""
    positive = np.asarray(labels).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    if positive.shape != probs.shape or probs.ndim != 2 or probs.shape[1] != len(names):
        raise ValueError(f"labels {positive.shape}, probs {probs.shape}, {len(names)} names")
    full = best_cuts(positive, probs)
    rng = np.random.default_rng(seed)
    choices = {}
    for j, name in enumerate(names):
        column, p = positive[:, j], probs[:, j]
        n_pos, n_neg = int(column.sum()), int((~column).sum())
        evidence = {"positives": n_pos, "negatives": n_neg}
        if min(n_pos, n_neg) < rule.min_class:
            scarce = "positives" if n_pos < n_neg else "negatives"
            reason = f"kept 0.5: too few {scarce} ({min(n_pos, n_neg)} < {rule.min_class})"
            choices[name] = ThresholdChoice(HALF, False, reason, **evidence)
            continue
        gains = _fold_gains(column, p, _stratified_folds(column, rule.folds, rng))
        gain, lost = int(gains.sum()), int((gains < 0).sum())
        won = int((gains > 0).sum())
        evidence |= {"cv_gain": gain, "folds_won": won, "folds_lost": lost}
        shown = f"{gain:+d} images over {rule.folds} folds, {won} won, {lost} lost"
        if gain >= rule.margin and lost == 0 and full[j] != HALF:
            reason = f"tuned: cross-validated gain {shown}"
            choices[name] = ThresholdChoice(float(full[j]), True, reason, **evidence)
        else:
            reason = f"kept 0.5: no cross-validated gain ({shown}; needs +{rule.margin}, 0 lost)"
            choices[name] = ThresholdChoice(HALF, False, reason, **evidence)
    return choices


def _stratified_folds(column: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number per image, positives and negatives each dealt round the folds."""
    fold = np.empty(column.size, dtype=np.int64)
    for members in (np.flatnonzero(column), np.flatnonzero(~column)):
        shuffled = rng.permutation(members)
        fold[shuffled] = (np.arange(shuffled.size) + rng.integers(folds)) % folds
    return fold


def _fold_gains(column: np.ndarray, p: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Per fold: held-out images right at the cut tuned on the other folds, minus at 0.5."""
    gains = []
    for k in np.unique(fold):
        fit, held = fold != k, fold == k
        cut = best_cuts(column[fit, None], p[fit, None])[0]
        right_tuned = ((p[held] > cut) == column[held]).sum()
        right_half = ((p[held] > HALF) == column[held]).sum()
        gains.append(int(right_tuned) - int(right_half))
    return np.array(gains)
