"""Per-attribute decision thresholds that are expected to beat 0.5 on new faces.

The cut of highest validation accuracy (`best_cuts`) fits the validation split's noise when
that split is small, most of all for rare attributes: on new data it often loses to 0.5. Even
a cross-validated gain is not enough: with 40 attributes some show a held-out gain by chance,
and choosing those to tune is itself fitted to the validation split (on 5,400 real CelebA test
faces the tuned attributes lost to 0.5 in all three refits of issue 23).

`choose_thresholds` therefore tunes an attribute only when its gain is shown beyond chance,
with the chance of any of the attributes being tuned by luck held at `alpha`:

1. fewer than `min_class` positives or negatives in validation: kept at 0.5 ("too few");
2. otherwise the validation split is cut into `folds` random folds; on each held-out fold
   the best cut of the other folds is compared image by image with 0.5: a win is an image the
   tuned cut gets right and 0.5 gets wrong, a loss the reverse;
3. a one-sided sign test of wins against losses (if tuning did not help, each image where the
   two disagree is a win with probability at most 1/2) gives a p-value; the attribute is tuned
   (to the best cut of the whole split) only when p <= alpha / m, m the number of attributes
   tested in step 2 (Bonferroni), else it keeps 0.5 ("gain not shown").

On a validation split of a few hundred images this keeps 0.5 nearly everywhere; that is the
honest answer there. With thousands of images a real miscalibration is tuned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.card import ThresholdChoice

__all__ = ["ThresholdRule", "best_cuts", "choose_thresholds", "sign_test"]

HALF = 0.5


@dataclass(frozen=True)
class ThresholdRule:
    folds: int = 5  # cross-validation folds inside the validation split
    alpha: float = 0.05  # chance that any attribute is tuned although tuning does not help it
    min_class: int = 10  # fewest positives and fewest negatives in validation to try tuning

    def __post_init__(self) -> None:
        if self.folds < 2 or not 0 < self.alpha < 1 or self.min_class < 0:
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
    choices: dict[str, ThresholdChoice] = {}
    held_out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for j, name in enumerate(names):
        column = positive[:, j]
        n_pos, n_neg = int(column.sum()), int((~column).sum())
        if min(n_pos, n_neg) < rule.min_class:
            scarce = "positives" if n_pos < n_neg else "negatives"
            reason = f"kept 0.5: too few {scarce} ({min(n_pos, n_neg)} < {rule.min_class})"
            choices[name] = ThresholdChoice(HALF, False, reason, n_pos, n_neg)
        else:
            folds = _random_folds(column.size, rule.folds, rng)
            held_out[j] = _fold_wins(column, probs[:, j], folds)
    # Bonferroni over the attributes tested: screening by class counts never looks at a gain
    level = rule.alpha / max(len(held_out), 1)
    for j, (wins, losses) in held_out.items():
        column, name = positive[:, j], names[j]
        won, lost = int(wins.sum()), int(losses.sum())
        p_value = sign_test(won, lost)
        gains = wins - losses
        evidence = {
            "positives": int(column.sum()),
            "negatives": int((~column).sum()),
            "cv_gain": won - lost,
            "folds_won": int((gains > 0).sum()),
            "folds_lost": int((gains < 0).sum()),
            "heldout_wins": won,
            "heldout_losses": lost,
            "p_value": p_value,
        }
        shown = f"{won} held-out images won, {lost} lost, p = {p_value:.2g}"
        if p_value <= level and full[j] != HALF:
            reason = f"tuned: gain shown ({shown} <= {level:.3g})"
            choices[name] = ThresholdChoice(float(full[j]), True, reason, **evidence)
        else:
            reason = f"kept 0.5: gain not shown ({shown}, needs <= {level:.3g})"
            choices[name] = ThresholdChoice(HALF, False, reason, **evidence)
    return {name: choices[name] for name in names}


def sign_test(wins: int, losses: int) -> float:
    """One-sided p-value of `wins` or more wins in `wins + losses` fair coin tosses."""
    n = wins + losses
    # exact integer sums: n is at most the validation split's size
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n


def _random_folds(size: int, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number per image, dealt at random (sizes within one of each other).

    Not stratified on purpose: a stratified held-out fold shares the other folds' share of
    positives, so a cut that only fits the validation split's share of positives would win
    there; the sign test needs held-out images independent of the images the cut was tuned on.
    """
    return rng.permutation(np.arange(size) % folds)


def _fold_wins(
    column: np.ndarray, p: np.ndarray, fold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per fold: held-out images the cut tuned on the other folds gets right and 0.5 wrong
    (wins), and the reverse (losses)."""
    wins, losses = [], []
    for k in np.unique(fold):
        fit, held = fold != k, fold == k
        cut = best_cuts(column[fit, None], p[fit, None])[0]
        right_tuned = (p[held] > cut) == column[held]
        right_half = (p[held] > HALF) == column[held]
        wins.append(int((right_tuned & ~right_half).sum()))
        losses.append(int((right_half & ~right_tuned).sum()))
    return np.array(wins), np.array(losses)
