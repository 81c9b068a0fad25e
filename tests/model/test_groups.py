"""Who the model fails: per-group figures, gaps beyond noise, and groups too small to say."""

from __future__ import annotations

import numpy as np

from model.card import SplitIntervals
from model.groups import MIN_GROUP, group_report
from model.intervals import split_intervals
from model.scoring import split_scores
from model.trust import trust_levels

NAMES = ("Male", "Young", "Smiling", "Eyeglasses")


def _split(n: int, seed: int, men: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A model that reads Smiling well on women and at random on men; Eyeglasses alike."""
    rng = np.random.default_rng(seed)
    labels = rng.random((n, 4)) < [men, 0.7, 0.5, 0.4]
    probs = np.clip(0.45 * labels + 0.55 * rng.random((n, 4)), 0, 1)
    men_rows = labels[:, 0]
    probs[men_rows, 2] = rng.random(men_rows.sum())  # Smiling: chance on men
    return labels, probs


def test_a_real_gap_is_found_and_beyond_noise():
    labels, probs = _split(400, seed=0)
    report = group_report(labels, probs, NAMES, np.full(4, 0.5), resamples=300)
    male = next(s for s in report.splits if s.group == "Male")
    assert (male.n_with, male.n_without) == (labels[:, 0].sum(), (~labels[:, 0]).sum())
    assert all(g.attribute != "Male" for g in male.gaps)  # no figure of a group on itself
    smiling = next(g for g in male.gaps if g.attribute == "Smiling" and g.metric == "AUC")
    assert smiling.with_value < 0.65 and smiling.without_value > 0.9
    assert smiling.beyond_noise and smiling.gap_high < 0
    glasses = next(g for g in male.gaps if g.attribute == "Eyeglasses" and g.metric == "AUC")
    assert not glasses.beyond_noise and glasses.gap_low < 0 < glasses.gap_high
    assert report.largest[0].attribute == "Smiling" and report.largest[0].group == "Male"
    gaps = [abs(g.gap) for g in report.largest]
    assert gaps == sorted(gaps, reverse=True)


def test_a_group_too_small_says_so_instead_of_a_number():
    labels, probs = _split(200, seed=1, men=0.04)  # a handful of men
    assert 0 < labels[:, 0].sum() < MIN_GROUP
    report = group_report(labels, probs, NAMES, np.full(4, 0.5), resamples=100)
    male = next(s for s in report.splits if s.group == "Male")
    for gap in male.gaps:
        assert gap.gap is None and gap.with_value is None and not gap.beyond_noise
        assert gap.note.startswith("too few to say: Male: ") and f"(< {MIN_GROUP})" in gap.note
    young = next(s for s in report.splits if s.group == "Young")
    assert all(g.gap is not None for g in young.gaps if g.attribute != "Male")
    # Male within Young / not Young: groups large enough, but a handful of positives
    male_auc = next(g for g in young.gaps if g.attribute == "Male" and g.metric == "AUC")
    assert male_auc.gap is None and "positives (< 5)" in male_auc.note
    assert all(g.group == "Young" for g in report.largest)


def test_data_without_the_group_attributes_has_no_group_report():
    labels, probs = _split(50, seed=2)
    assert group_report(labels, probs, ("A", "B", "C", "D"), np.full(4, 0.5)) is None


def test_trust_follows_the_lower_end_of_the_auc_interval():
    labels, probs = _split(300, seed=3)
    labels[:, 3] = False
    labels[:2, 3] = True  # Eyeglasses: two positives, no interval
    thresholds = np.full(4, 0.5)
    scores = split_scores(labels, probs, NAMES, thresholds)
    bounds: SplitIntervals = split_intervals(labels, probs, NAMES, thresholds, resamples=300)
    trust = trust_levels(scores, bounds)
    assert trust["Male"].level == "high" and bounds.per_attribute_auc["Male"].low >= 0.85
    assert trust["Smiling"].level in ("medium", "low")  # chance on the men
    assert trust["Eyeglasses"].level == "unknown" and "too few" in trust["Eyeglasses"].reason
    assert "95% interval" in trust["Male"].reason


def test_with_no_real_gap_nothing_is_marked_though_some_95_intervals_leave_out_zero():
    rng = np.random.default_rng(5)
    names = tuple(f"A{i}" for i in range(38)) + ("Male", "Young")
    labels = rng.random((300, 40)) < 0.4
    probs = np.clip(0.4 * labels + 0.6 * rng.random(labels.shape), 0, 1)  # same for everyone
    report = group_report(labels, probs, names, np.full(40, 0.5), resamples=300)
    gaps = [g for s in report.splits for g in s.gaps if g.gap is not None]
    assert len(gaps) == 2 * 2 * 39 and report.z_beyond_noise > 3
    assert any(g.gap_low > 0 or g.gap_high < 0 for g in gaps)  # chance, among 156
    assert not any(g.beyond_noise for g in gaps)
