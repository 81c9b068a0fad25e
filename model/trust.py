"""A trust level per attribute (high / medium / low / unknown) from its test AUC's interval,
for people who read a prediction: the serve page shows it beside each attribute.

The lower end of the 95% bootstrap interval decides, so a high AUC measured on a handful of
images does not earn "high": high from 0.85, medium from 0.70, low below (the model may be
little better than chance there); unknown where the test split cannot tell.
"""

from __future__ import annotations

from model.card import AttributeTrust, SplitIntervals, SplitScores

__all__ = ["HIGH", "MEDIUM", "trust_levels"]

HIGH = 0.85  # lowest lower bound of the test AUC's interval for "high"
MEDIUM = 0.70


def trust_levels(test: SplitScores, intervals: SplitIntervals) -> dict[str, AttributeTrust]:
    """Each attribute's trust level and the figures behind it."""
    levels = {}
    for name, scores in test.per_attribute.items():
        bounds = intervals.per_attribute_auc[name]
        if scores.auc is None:
            levels[name] = AttributeTrust("unknown", "the test split holds one class only")
            continue
        if bounds is None:
            reason = f"test AUC {scores.auc:.2f} on too few positives or negatives to resample"
            levels[name] = AttributeTrust("unknown", reason)
            continue
        reason = f"test AUC {scores.auc:.2f} (95% interval {bounds.low:.2f}-{bounds.high:.2f})"
        if bounds.low >= HIGH:
            level = "high"
        elif bounds.low >= MEDIUM:
            level = "medium"
        else:
            level = "low"
            if bounds.low <= 0.5:
                reason += ", possibly no better than chance"
        levels[name] = AttributeTrust(level, reason)
    return levels
