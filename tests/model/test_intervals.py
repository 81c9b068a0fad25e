"""Bootstrap intervals: weighted figures equal the figures of the resampled images."""

from __future__ import annotations

import numpy as np
import pytest

from model import evaluate, roc_auc
from model.intervals import resample_counts, split_intervals, weighted_auc, weighted_mean


def test_weighted_auc_is_the_auc_of_the_drawn_images():
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(2, 30))
        labels = rng.random(n) < 0.4
        scores = np.round(rng.random(n), 1)  # ties, counted half
        counts = resample_counts(n, 15, rng)
        aucs = weighted_auc(labels, scores, counts)
        for row, auc in zip(counts, aucs, strict=True):
            drawn = np.repeat(np.arange(n), row)
            if labels[drawn].all() or not labels[drawn].any():
                assert np.isnan(auc)
            else:
                assert auc == pytest.approx(roc_auc(labels[drawn], scores[drawn]), abs=1e-12)


def test_weighted_mean_is_the_mean_of_the_drawn_images():
    values = np.array([1.0, 0.0, 0.0, 1.0])
    counts = np.array([[4, 0, 0, 0], [1, 1, 1, 1], [0, 2, 1, 1]])
    np.testing.assert_allclose(weighted_mean(values, counts), [1.0, 0.5, 0.25])


def test_each_resample_draws_n_images():
    counts = resample_counts(7, 50, np.random.default_rng(1))
    assert counts.shape == (50, 7) and (counts.sum(axis=1) == 7).all()


def _model(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random((n, 5)) < 0.3
    probs = np.clip(0.35 * labels + 0.65 * rng.random((n, 5)), 0, 1)
    return labels, probs


def test_intervals_hold_the_point_figures_and_narrow_with_more_images():
    names = list("ABCDE")
    widths = []
    for n in (90, 1500):
        labels, probs = _model(n, seed=2)
        point = evaluate(labels, probs, names)
        bounds = split_intervals(labels, probs, names, np.full(5, 0.5), resamples=400)
        for figure in ("macro_auc", "micro_auc", "mean_accuracy"):
            b = getattr(bounds, figure)
            assert b.low <= getattr(point, figure) <= b.high
        assert bounds.mean_accuracy == bounds.mean_accuracy_tuned  # same thresholds
        widths.append(bounds.macro_auc.high - bounds.macro_auc.low)
    assert widths[1] < widths[0] / 2  # about 1/sqrt(n)


def test_an_attribute_with_two_positives_has_no_auc_interval():
    labels, probs = _model(90, seed=3)
    labels[:, 0] = False
    labels[:2, 0] = True  # most resamples of 90 images miss one of the two
    bounds = split_intervals(labels, probs, list("ABCDE"), np.full(5, 0.5), resamples=200)
    assert bounds.per_attribute_auc["A"] is None
    assert bounds.per_attribute_auc["B"] is not None


def test_the_same_seed_gives_the_same_intervals():
    labels, probs = _model(60, seed=4)
    args = (labels, probs, list("ABCDE"), np.full(5, 0.5))
    assert split_intervals(*args, resamples=100) == split_intervals(*args, resamples=100)
