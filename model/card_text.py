"""Short texts of a card's decisions, the same in refit's output and in the report."""

from __future__ import annotations

from collections import Counter

from model.card import TRUST_LEVELS, GroupGap, Interval, ModelCard

__all__ = ["gap_line", "interval_text", "threshold_summary", "training_stop", "trust_summary"]


def interval_text(bounds: Interval | None) -> str:
    """'0.71-0.75', or '-' where there is no interval."""
    return "-" if bounds is None else f"{bounds.low:.2f}-{bounds.high:.2f}"


def training_stop(card: ModelCard) -> str:
    """The best epoch and why training ended, as in 'best 10; stopped: no gain in 3 epochs'."""
    why = {
        "epochs": f"all {card.max_epochs} epochs asked for",
        "patience": f"stopped: no gain in {card.patience} epochs",
        "time": "stopped: the time budget ran out",
        "callback": "stopped by a callback",
    }.get(card.stopped_by)
    return f"best {card.best_epoch}" + ("" if why is None else f"; {why}")


def threshold_summary(card: ModelCard) -> str:
    """How many thresholds were tuned and why the others were kept at 0.5."""
    choices = card.threshold_choices.values()
    if not choices:
        return "thresholds: how they were chosen is not recorded (an older card)"
    tuned = sum(c.tuned for c in choices)
    scarce = sum(c.reason.startswith("kept 0.5: too few") for c in choices)
    no_gain = len(choices) - tuned - scarce
    # cards written before the sign test (no p-values) were chosen by the older, looser rule
    signed = any(c.p_value is not None for c in choices)
    how = "held-out gain beyond chance" if signed else "cross-validated gain"
    not_shown = "gain not shown" if signed else "no cross-validated gain"
    return (
        f"thresholds: {tuned} of {len(choices)} tuned on validation ({how}), "
        f"{scarce} kept at 0.5 (too few positives or negatives), "
        f"{no_gain} kept at 0.5 ({not_shown})"
    )


def trust_summary(card: ModelCard) -> str:
    counts = Counter(t.level for t in card.trust.values())
    return "trust: " + ", ".join(f"{level} {counts[level]}" for level in TRUST_LEVELS)


def gap_line(gap: GroupGap, n_with: int, n_without: int) -> str:
    """'Male vs not Male, Wearing_Lipstick accuracy: 0.91 (40 images) vs 0.75 (50), gap ...'"""
    head = f"{gap.group} vs not {gap.group}, {gap.attribute} {gap.metric}"
    if gap.gap is None:
        return f"{head}: {gap.note}"
    bounds = "" if gap.gap_low is None else f" (95% {gap.gap_low:+.2f} to {gap.gap_high:+.2f})"
    mark = ", beyond noise" if gap.beyond_noise else ", within noise"
    return (
        f"{head}: {gap.with_value:.2f} ({n_with} images) vs {gap.without_value:.2f} "
        f"({n_without}), gap {gap.gap:+.2f}{bounds}{mark}"
    )
