"""The exported model's decisions (intervals, thresholds, group gaps, trust) as the rows of
text that the report's page shows; the template only lays them out."""

from __future__ import annotations

from model.card import GroupGap, GroupReport, ModelCard
from model.card_text import interval_text, threshold_summary, trust_summary

__all__ = ["decisions_view"]


def decisions_view(card: ModelCard) -> dict:
    bounds = card.test_intervals
    figures = (
        []
        if bounds is None
        else [bounds.micro_auc, bounds.macro_auc, bounds.mean_accuracy, bounds.mean_accuracy_tuned]
    )
    return {
        "intervals": [interval_text(b) for b in figures] or None,
        "resamples": None if bounds is None else bounds.resamples,
        "thresholds": threshold_summary(card),
        "trust": trust_summary(card) if card.trust else None,
        "attributes": [_attribute_row(card, name) for name in card.attr_names],
        "gaps": [] if card.groups is None else _gap_rows(card.groups),
        "group_notes": [] if card.groups is None else _group_notes(card.groups),
        "z": None if card.groups is None else f"{card.groups.z_beyond_noise:.1f}",
    }


def _attribute_row(card: ModelCard, name: str) -> dict[str, str]:
    choice, trust = card.threshold_choices.get(name), card.trust.get(name)
    return {
        "name": name,
        "threshold": f"{card.thresholds[name]:.3f}",
        "why": "" if choice is None else choice.reason,
        "trust": "" if trust is None else trust.level,
        "trust_why": "" if trust is None else trust.reason,
    }


def _gap_rows(groups: GroupReport) -> list[dict]:
    sizes = {s.group: (s.n_with, s.n_without) for s in groups.splits}
    return [_gap_row(gap, *sizes[gap.group]) for gap in groups.largest]


def _gap_row(gap: GroupGap, n_with: int, n_without: int) -> dict:
    return {
        "group": f"{gap.group} / not {gap.group}",
        "attribute": gap.attribute,
        "metric": gap.metric,
        "with": f"{gap.with_value:.3f}",
        "without": f"{gap.without_value:.3f}",
        "sizes": f"{n_with} / {n_without}",
        "gap": f"{gap.gap:+.3f}",
        "interval": "-" if gap.gap_low is None else f"{gap.gap_low:+.3f} to {gap.gap_high:+.3f}",
        "beyond": gap.beyond_noise,
    }


def _group_notes(groups: GroupReport) -> list[str]:
    return [
        f"{s.group} {s.n_with} images, not {s.group} {s.n_without}: "
        f"{sum(g.gap is None for g in s.gaps)} of {len(s.gaps)} figures too few to say "
        f"(a group needs {groups.min_group} images, and {groups.min_class} positives and "
        f"negatives for an AUC)"
        for s in groups.splits
    ]
