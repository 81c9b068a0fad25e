"""The study's budget of epochs, shared like the trial budget by every worker on every machine.

An epoch counts once a trial has reported it. A trial starts only with epochs reserved for
it (at most `--epochs`, at most what is left) and trains no more than its reservation; while
it runs its whole reservation counts, and once it has finished (complete, pruned or failed)
only the epochs it reported do, so a pruned or failed trial gives the rest back. Reserving
happens under the study lock with the trial's creation (search/budget.py), so the epochs
reported over the whole study never exceed the budget.

A configuration that breaks --max-params or --max-latency-ms is never trained and spends no
epoch, so a budget of epochs alone would never end where (almost) nothing is feasible: the
budget also ends once `max_untrained` such trials have been recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.records import TrialRecord
from search.storage import retry_storage

__all__ = [
    "BUDGET_ATTR",
    "RESERVED_ATTR",
    "SPENT_ATTR",
    "EpochBudget",
    "epochs_reported",
    "untrained_trials",
]

RESERVED_ATTR = "epochs_reserved"  # on a trial: the most epochs it may train
BUDGET_ATTR = "budget_epochs"  # on the study, for the dashboard and the report
SPENT_ATTR = "epochs_spent"


@dataclass(frozen=True)
class EpochBudget:
    total: int  # epochs the whole study may spend
    per_trial: int  # epochs one trial trains at most (--epochs)
    max_untrained: int | None = None  # infeasible (untrained) trials after which it ends

    def committed(self, trials: Sequence[FrozenTrial]) -> int:
        """Epochs reported by finished trials plus those reserved by running ones."""
        spent = 0
        for trial in trials:
            reported = len(trial.intermediate_values)
            if trial.state == TrialState.RUNNING:
                # a trial created but not yet given its reservation holds the most it could
                reserved = int(trial.user_attrs.get(RESERVED_ATTR, self.per_trial))
                spent += max(reported, reserved)
            elif trial.state != TrialState.WAITING:
                spent += reported
        return spent

    def reservation(self, trials: Sequence[FrozenTrial]) -> int:
        """Epochs the next trial may reserve now (0: none left, or too many untrained trials)."""
        if self.untrained_limit_reached(trials):
            return 0
        return max(0, min(self.per_trial, self.total - self.committed(trials)))

    def untrained_limit_reached(self, trials: Sequence[FrozenTrial]) -> bool:
        return self.max_untrained is not None and untrained_trials(trials) >= self.max_untrained

    def reserve(self, trial: optuna.Trial, epochs: int) -> None:
        retry_storage(lambda: trial.set_user_attr(RESERVED_ATTR, epochs), "reserve epochs")

    def publish(self, study: optuna.Study, trials: Sequence[FrozenTrial]) -> None:
        """Write budget and epochs spent on the study (shown by the dashboard), if changed."""
        figures = {BUDGET_ATTR: self.total, SPENT_ATTR: epochs_reported(trials)}
        stored = study.user_attrs
        for name, value in figures.items():
            if stored.get(name) != value:
                retry_storage(lambda n=name, v=value: study.set_user_attr(n, v), "publish")


def epochs_reported(trials: Sequence[FrozenTrial]) -> int:
    """Epochs that trials have reported so far, over the whole study."""
    return sum(len(trial.intermediate_values) for trial in trials)


def untrained_trials(trials: Sequence[FrozenTrial]) -> int:
    """Finished trials that broke a constraint and were never trained."""
    return sum(
        trial.state.is_finished() and TrialRecord.of(trial).infeasible is not None
        for trial in trials
    )
