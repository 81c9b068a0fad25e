"""Thresholds: the best cut on a split, and the cross-validated choice that keeps 0.5 unless
a tuned cut wins out of sample."""

from __future__ import annotations

import numpy as np
import pytest

from model.thresholds import ThresholdRule, best_cuts, choose_thresholds


def test_best_cuts_reach_the_best_accuracy_of_any_cut():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 15))
        probs = np.round(rng.random((n, 4)), 1)  # rounding makes ties
        probs[:, 0] = 0.0  # a column that is all zeros: "always present" must stay possible
        labels = rng.random((n, 4)) < 0.4
        cut = best_cuts(labels, probs)
        for j in range(4):
            candidates = [-1.0, *np.unique(probs[:, j]), 1.0]
            best = max(((probs[:, j] > c) == labels[:, j]).mean() for c in candidates)
            assert ((probs[:, j] > cut[j]) == labels[:, j]).mean() == pytest.approx(best)


def test_best_cuts_prefer_the_cut_nearest_one_half():
    labels = np.array([[0], [1]])
    probs = np.array([[0.1], [0.9]])
    assert best_cuts(labels, probs)[0] == pytest.approx(0.5)


def _shifted(n: int, rate: float, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of a calibrated-looking model whose scores are all `shift`
    too high: the accuracy-maximising cut sits near 0.5 + shift, not at 0.5."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < rate
    logits = np.where(labels, 1.5, -1.5) + rng.normal(0, 1.2, n)
    probs = 1 / (1 + np.exp(-logits)) + shift
    return labels[:, None], np.clip(probs, 0, 1)[:, None]


def test_a_real_shift_is_tuned_and_beats_one_half_on_new_data():
    val_labels, val_probs = _shifted(400, 0.4, 0.25, seed=1)
    (choice,) = choose_thresholds(val_labels, val_probs, ["Shifted"]).values()
    assert choice.tuned and choice.cv_gain >= 2 and choice.folds_lost == 0
    assert choice.threshold > 0.6 and choice.reason.startswith("tuned")
    test_labels, test_probs = _shifted(4000, 0.4, 0.25, seed=2)
    at = lambda t: ((test_probs[:, 0] > t) == test_labels[:, 0]).mean()  # noqa: E731
    assert at(choice.threshold) > at(0.5) + 0.02


def test_a_rare_attribute_with_a_handful_of_positives_keeps_one_half():
    labels, probs = _shifted(90, 0.05, 0.3, seed=3)
    assert 1 <= labels.sum() < 10
    # tuning on the whole split would move the cut, and look better there
    assert best_cuts(labels, probs)[0] != 0.5
    (choice,) = choose_thresholds(labels, probs, ["Rare"]).values()
    assert choice.threshold == 0.5 and not choice.tuned
    assert "too few positives" in choice.reason
    assert (choice.positives, choice.negatives) == (int(labels.sum()), int((~labels).sum()))
    assert choice.cv_gain is None


def test_a_calibrated_model_keeps_one_half_where_tuning_only_fits_noise():
    # scores already centred on 0.5: a tuned cut wins nothing out of sample
    labels, probs = _shifted(90, 0.5, 0.0, seed=4)
    (choice,) = choose_thresholds(labels, probs, ["Calibrated"]).values()
    assert choice.threshold == 0.5 and not choice.tuned
    assert "no cross-validated gain" in choice.reason and choice.cv_gain is not None


def test_the_rule_is_checked():
    with pytest.raises(ValueError):
        ThresholdRule(folds=1)


def test_choices_are_the_same_for_the_same_seed():
    labels, probs = _shifted(200, 0.3, 0.15, seed=5)
    first = choose_thresholds(labels, probs, ["A"], seed=7)
    assert choose_thresholds(labels, probs, ["A"], seed=7) == first
