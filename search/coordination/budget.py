"""The study's budgets of trials and of epochs, shared by every worker on every machine.

A worker may start a trial only while trained COMPLETE + PRUNED trials and RUNNING ones number
fewer than the budget. Counting and creating the trial happen under one lock per study (a file
lock for SQLite, a PostgreSQL advisory lock), so workers that start at the same moment never
overshoot. The claimed trial beats before the lock is released, and one that never beats
(its worker died in between) is failed after the grace period like any stale trial.
Failed trials free their slot; a killed worker's RUNNING trial is failed by the
heartbeat check, retried with the same parameters (it waits in the queue), and the study
still ends with exactly the budget of trained trials.

An epoch counts once a trial has reported it. A trial starts only with epochs reserved for
it (at most `--epochs`, at most what is left) and trains no more than its reservation; while
it runs its whole reservation counts, and once it has finished (complete, pruned or failed)
only the epochs it reported do, so a pruned or failed trial gives the rest back. Reserving
happens under the study lock with the trial's creation (`claim_trial`), so the epochs
reported over the whole study never exceed the budget.

A configuration that breaks --max-params or --max-latency-ms is never trained: it is recorded
(pruned, with the constraint it broke) but counts toward neither budget, so a user asking for
N trials gets N trained ones. Where (almost) nothing is feasible sampling would then never
end: the search also ends once `max_untrained` such trials have been recorded, and the
closing summary says so (search/summary.py).
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.config import RunConfig
from search.coordination.heartbeat import first_beat
from search.coordination.storage import retry_storage
from search.trial.records import TrialRecord
from search.trial.space import encoded, get_space

__all__ = [
    "BUDGET_ATTR",
    "RESERVED_ATTR",
    "SPENT_ATTR",
    "Claim",
    "ClaimResult",
    "EpochBudget",
    "budget_spent",
    "claim_trial",
    "enqueue_warm_starts",
    "epoch_budget",
    "epochs_reported",
    "trained_trials",
    "untrained_trials",
]

_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
_WARM_STARTS_ATTR = "warm_starts_enqueued"


class Claim(enum.Enum):
    STARTED = "started"  # a trial was created (or taken from the queue) for this worker
    WAIT = "wait"  # the budget is taken, but running trials may still fail and free a slot
    DONE = "done"  # the budget is spent: every counted trial has finished


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    trial: optuna.Trial | None = None
    epochs: int | None = None  # the most epochs the trial may train, under an epoch budget


def enqueue_warm_starts(study: optuna.Study, space: str, budget: int | None) -> int:
    """Enqueue the notebook's baseline and best once per study (call under the study lock)."""
    starts = get_space(space).warm_starts[:budget]
    done = int(study.user_attrs.get(_WARM_STARTS_ATTR, 0))
    for params in starts[done:]:
        study.enqueue_trial(encoded(params))
    if len(starts) > done:
        study.set_user_attr(_WARM_STARTS_ATTR, len(starts))
    return max(0, len(starts) - done)


def claim_trial(
    study: optuna.Study,
    budget: int | None,
    epochs: EpochBudget | None = None,
    max_untrained: int | None = None,
) -> ClaimResult:
    """Start a trial if the budgets allow (call under the study lock).

    `budget`: trained trials (None: no limit); `epochs`: the study's epochs, if limited;
    `max_untrained`: untrained (infeasible) trials after which the search ends.
    """
    with warnings.catch_warnings():
        # ask/tell with a heartbeat is what optimize() does inside; the worker beats itself.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        counted = [t for t in trials if t.state in _COUNTED and _trained(t)]
        running = any(t.state == TrialState.RUNNING for t in trials)
        reservation = None if epochs is None else epochs.reservation(trials)
        if epochs is not None:
            epochs.publish(study, trials)
        room = (budget is None or len(counted) < budget) and reservation != 0
        if room and not _untrained_limit_reached(trials, max_untrained):
            trial = study.ask()
            if epochs is not None:
                epochs.reserve(trial, reservation)
            first_beat(study, trial)
            return ClaimResult(Claim.STARTED, trial, reservation)
    return ClaimResult(Claim.WAIT if running else Claim.DONE)


def budget_spent(
    study: optuna.Study,
    budget: int | None,
    epochs: EpochBudget | None = None,
    max_untrained: int | None = None,
) -> bool:
    """Whether the search is over: `budget` trained trials, all its epochs, or too many
    untrained trials."""
    trials = study.get_trials(deepcopy=False)
    if budget is not None and trained_trials(trials) >= budget:
        return True
    if _untrained_limit_reached(trials, max_untrained):
        return True
    return epochs is not None and epochs.reservation(trials) == 0


RESERVED_ATTR = "epochs_reserved"  # on a trial: the most epochs it may train
BUDGET_ATTR = "budget_epochs"  # on the study, for the dashboard and the report
SPENT_ATTR = "epochs_spent"


@dataclass(frozen=True)
class EpochBudget:
    total: int  # epochs the whole study may spend
    per_trial: int  # epochs one trial trains at most (--epochs)

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
        """Epochs the next trial may reserve now (0: none left)."""
        return max(0, min(self.per_trial, self.total - self.committed(trials)))

    def reserve(self, trial: optuna.Trial, epochs: int) -> None:
        retry_storage(lambda: trial.set_user_attr(RESERVED_ATTR, epochs), "reserve epochs")

    def publish(self, study: optuna.Study, trials: Sequence[FrozenTrial]) -> None:
        """Write budget and epochs spent on the study (shown by the dashboard), if changed."""
        figures = {BUDGET_ATTR: self.total, SPENT_ATTR: epochs_reported(trials)}
        stored = study.user_attrs
        for name, value in figures.items():
            if stored.get(name) != value:
                retry_storage(lambda n=name, v=value: study.set_user_attr(n, v), "publish")


def epoch_budget(config: RunConfig) -> EpochBudget | None:
    """The run's budget of epochs, None when it has none."""
    if config.budget_epochs is None:
        return None
    return EpochBudget(total=config.budget_epochs, per_trial=config.epochs)


def epochs_reported(trials: Sequence[FrozenTrial]) -> int:
    """Epochs that trials have reported so far, over the whole study."""
    return sum(len(trial.intermediate_values) for trial in trials)


def trained_trials(trials: Sequence[FrozenTrial]) -> int:
    """Finished (COMPLETE or PRUNED) trials that were trained: what --trials counts."""
    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) and _trained(t) for t in trials)


def _trained(trial: FrozenTrial) -> bool:
    """False for a configuration that broke a constraint: it is recorded, never trained."""
    return TrialRecord.of(trial).infeasible is None


def _untrained_limit_reached(trials: Sequence[FrozenTrial], limit: int | None) -> bool:
    return limit is not None and untrained_trials(trials) >= limit


def untrained_trials(trials: Sequence[FrozenTrial]) -> int:
    """Finished trials that broke a constraint and were never trained."""
    return sum(
        trial.state.is_finished() and TrialRecord.of(trial).infeasible is not None
        for trial in trials
    )
