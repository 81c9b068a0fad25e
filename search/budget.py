"""The study's global trial budget, shared by every worker on every machine.

A worker may start a trial only while COMPLETE + PRUNED + RUNNING trials number fewer than
the budget. Counting and creating the trial happen under one lock per study (a file lock
for SQLite, a PostgreSQL advisory lock), so workers that start at the same moment never
overshoot. The claimed trial beats before the lock is released, and one that never beats
(its worker died in between) is failed after the grace period like any stale trial.
Failed trials free their slot; a killed worker's RUNNING trial is failed by the
heartbeat check, retried with the same parameters (it waits in the queue), and the study
still ends with exactly the budget of finished trials. A budget of epochs
(search/epoch_budget.py) is claimed under the same lock: a trial starts only with epochs
reserved for it.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from search.epoch_budget import EpochBudget
from search.heartbeat import first_beat
from search.space import get_space

__all__ = [
    "Claim",
    "ClaimResult",
    "budget_spent",
    "claim_trial",
    "enqueue_warm_starts",
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
        study.enqueue_trial(params)
    if len(starts) > done:
        study.set_user_attr(_WARM_STARTS_ATTR, len(starts))
    return max(0, len(starts) - done)


def claim_trial(
    study: optuna.Study, budget: int | None, epochs: EpochBudget | None = None
) -> ClaimResult:
    """Start a trial if the budgets allow (call under the study lock).

    `budget`: finished trials (None: no limit); `epochs`: the study's epochs, if limited.
    """
    with warnings.catch_warnings():
        # ask/tell with a heartbeat is what optimize() does inside; the worker beats itself.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        counted = [t for t in trials if t.state in _COUNTED]
        running = sum(t.state == TrialState.RUNNING for t in counted)
        reservation = None if epochs is None else epochs.reservation(trials)
        if epochs is not None:
            epochs.publish(study, trials)
        if (budget is None or len(counted) < budget) and reservation != 0:
            trial = study.ask()
            if epochs is not None:
                epochs.reserve(trial, reservation)
            first_beat(study, trial)
            return ClaimResult(Claim.STARTED, trial, reservation)
    return ClaimResult(Claim.WAIT if running else Claim.DONE)


def budget_spent(
    study: optuna.Study, budget: int | None, epochs: EpochBudget | None = None
) -> bool:
    """Whether the study has spent a budget: `budget` finished trials or all its epochs."""
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    if budget is not None and len(finished) >= budget:
        return True
    return epochs is not None and epochs.reservation(trials) == 0
