"""Deployment constraints as Optuna sees them: figure minus limit per constraint, <= 0 feasible.

The objective measures a configuration before training it and records these values with
`trial.set_constraint` (Optuna 5's replacement for TPESampler's `constraints_func`), so
TPE learns where the feasible region is, even from trials it never trained. Refit reads
the same figures back from the trial's record (search/trial/records.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from optuna.trial import FrozenTrial

from search.trial.records import TrialRecord

__all__ = ["Constraints"]


@dataclass(frozen=True)
class Constraints:
    max_params: int | None = None
    max_latency_ms: float | None = None

    def excess(self, n_params: int | None, latency_ms: float | None) -> dict[str, float]:
        """How far each set constraint is exceeded (<= 0: met); an unmeasured figure meets it."""
        values = {}
        if self.max_params is not None:
            values["max_params"] = 0.0 if n_params is None else n_params - self.max_params
        if self.max_latency_ms is not None:
            values["max_latency_ms"] = (
                0.0 if latency_ms is None else latency_ms - self.max_latency_ms
            )
        return values

    def feasible(self, trial: FrozenTrial) -> bool:
        record = TrialRecord.of(trial)
        excess = self.excess(record.n_params, record.latency_ms)
        return all(value <= 0 for value in excess.values())
