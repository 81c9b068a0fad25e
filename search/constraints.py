"""Deployment constraints as Optuna sees them: one value per constraint, <= 0 is feasible.

TPESampler(constraints_func=Constraints(...)) calls it after each trial and stores the
values in the trial's system attrs, so the sampler learns where the feasible region is.
The figures come from the trial's record (search/records.py), written before training.
"""

from __future__ import annotations

from dataclasses import dataclass

from optuna.trial import FrozenTrial

from search.records import TrialRecord

__all__ = ["Constraints"]


@dataclass(frozen=True)
class Constraints:
    max_params: int | None = None
    max_latency_ms: float | None = None

    def __call__(self, trial: FrozenTrial) -> list[float]:
        record = TrialRecord.of(trial)
        values = []
        if self.max_params is not None:
            # a trial that failed before it was measured counts as neither side
            values.append(0.0 if record.n_params is None else record.n_params - self.max_params)
        if self.max_latency_ms is not None:
            latency = record.latency_ms
            values.append(0.0 if latency is None else latency - self.max_latency_ms)
        return values

    def feasible(self, trial: FrozenTrial) -> bool:
        return all(value <= 0 for value in self(trial))
