"""Who the model fails: each attribute's test AUC and accuracy for Male / not Male and
Young / not Young, the gaps between the two groups, and whether a gap is beyond noise.

Each group is resampled on its own (bootstrap), so a gap's 95% interval shows how much it
would move with other test images. Of some 150 gaps, about 8 would leave 0 out of a 95%
interval by chance alone, and those would be the "largest"; so a gap is marked beyond noise
only when it exceeds z bootstrap standard errors, z corrected for the number of gaps compared
(Bonferroni: at most a 5% chance that any mark is due to noise alone). A group too small to
say anything gives no figure but a note saying why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from model.card import GroupGap, GroupReport, GroupSplit
from model.intervals import RESAMPLES, percentiles, resample_counts, weighted_auc, weighted_mean
from model.metrics import roc_auc

__all__ = ["GROUPS", "MIN_CLASS", "MIN_GROUP", "TOP_GAPS", "group_report"]

GROUPS = ("Male", "Young")
MIN_GROUP = 20  # fewest images in each group for any figure
MIN_CLASS = 5  # fewest positives and fewest negatives in each group for an AUC
TOP_GAPS = 10
FAMILY_ERROR = 0.05  # chance that any gap at all is marked beyond noise by noise alone


def group_report(
    labels: np.ndarray,
    probs: np.ndarray,
    names: Sequence[str],
    thresholds: np.ndarray,
    *,
    groups: Sequence[str] = GROUPS,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> GroupReport | None:
    """Per-group figures of the split; None when the data has none of the group attributes."""
    positive = np.asarray(labels).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    right = (probs > np.asarray(thresholds)) == positive
    rng = np.random.default_rng(seed)
    splits = []
    for group in (g for g in groups if g in names):
        member = positive[:, list(names).index(group)]
        counts = {side: resample_counts(int(side_mask.sum()), resamples, rng)
                  for side, side_mask in (("with", member), ("without", ~member))}  # fmt: skip
        gaps = []
        for j, name in enumerate(names):
            if name == group:
                continue
            sides = (member, ~member)
            gaps.append(_auc_gap(group, name, positive[:, j], probs[:, j], sides, counts))
            gaps.append(_accuracy_gap(group, name, right[:, j], sides, counts))
        splits.append(GroupSplit(group, int(member.sum()), int((~member).sum()), tuple(gaps)))
    if not splits:
        return None
    measured = sum(gap.gap is not None for split in splits for gap in split.gaps)
    z = NormalDist().inv_cdf(1 - FAMILY_ERROR / (2 * max(1, measured)))
    splits = [dataclasses.replace(s, gaps=tuple(_mark(g, z) for g in s.gaps)) for s in splits]
    largest = sorted(
        (gap for split in splits for gap in split.gaps if gap.gap is not None),
        key=lambda gap: -abs(gap.gap),
    )[:TOP_GAPS]
    return GroupReport(MIN_GROUP, MIN_CLASS, round(z, 3), tuple(splits), tuple(largest))


def _mark(gap: GroupGap, z: float) -> GroupGap:
    beyond = gap.gap is not None and bool(gap.gap_se) and abs(gap.gap) > z * gap.gap_se
    return dataclasses.replace(gap, beyond_noise=beyond)


def _auc_gap(
    group: str,
    name: str,
    column: np.ndarray,
    scores: np.ndarray,
    sides: tuple[np.ndarray, np.ndarray],
    counts: dict[str, np.ndarray],
) -> GroupGap:
    notes, values, replicates = [], [], []
    for side, mask in zip(("with", "without"), sides, strict=True):
        y, s = column[mask], scores[mask]
        scarce = min(int(y.sum()), int((~y).sum()))
        if mask.sum() < MIN_GROUP:
            notes.append(f"{_label(group, side)}: {mask.sum()} images (< {MIN_GROUP})")
        elif scarce < MIN_CLASS:
            kind = "positives" if y.sum() < (~y).sum() else "negatives"
            notes.append(f"{_label(group, side)}: {scarce} {kind} (< {MIN_CLASS})")
        else:
            values.append(roc_auc(y, s))
            replicates.append(weighted_auc(y, s, counts[side]))
    return _gap(group, name, "AUC", values, replicates, notes)


def _accuracy_gap(
    group: str,
    name: str,
    right: np.ndarray,
    sides: tuple[np.ndarray, np.ndarray],
    counts: dict[str, np.ndarray],
) -> GroupGap:
    notes, values, replicates = [], [], []
    for side, mask in zip(("with", "without"), sides, strict=True):
        if mask.sum() < MIN_GROUP:
            notes.append(f"{_label(group, side)}: {mask.sum()} images (< {MIN_GROUP})")
        else:
            values.append(float(right[mask].mean()))
            replicates.append(weighted_mean(right[mask], counts[side]))
    return _gap(group, name, "accuracy", values, replicates, notes)


def _gap(
    group: str,
    name: str,
    metric: str,
    values: list[float],
    replicates: list[np.ndarray],
    notes: list[str],
) -> GroupGap:
    """The gap record; figures only when both groups have one."""
    if notes:
        note = "too few to say: " + "; ".join(notes)
        return GroupGap(group, name, metric, None, None, None, None, None, None, False, note)
    differences = replicates[0] - replicates[1]
    bounds = percentiles(differences)
    low, high = bounds if bounds is not None else (None, None)
    se = None if bounds is None else float(np.nanstd(differences))
    gap = values[0] - values[1]
    return GroupGap(group, name, metric, values[0], values[1], gap, low, high, se, False, "")


def _label(group: str, side: str) -> str:
    return group if side == "with" else f"not {group}"
