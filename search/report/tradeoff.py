"""The accuracy/cost trade-off of a study: which trials no other trial beats on both."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["pareto_front"]


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates (cost as low and score as high, one
    strictly better), in order of increasing cost."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -scores[i]))
    front: list[int] = []
    best = float("-inf")
    for i in order:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return front
