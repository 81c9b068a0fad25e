"""The study's global trial budget, shared by every worker on every machine.

A worker may start a trial only while COMPLETE + PRUNED + RUNNING trials number fewer than
the budget. Counting and creating the trial happen under one lock per study (a file lock
for SQLite, a PostgreSQL advisory lock), so workers that start at the same moment never
overshoot. The claimed trial beats before the lock is released, and one that never beats
(its worker died in between) is failed after the grace period like any stale trial.
Failed trials free their slot; a killed worker's RUNNING trial is failed by the
heartbeat check, retried with the same parameters (it waits in the queue), and the study
still ends with exactly the budget of finished trials.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

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


def enqueue_warm_starts(study: optuna.Study, space: str, budget: int) -> int:
    """Enqueue the notebook's baseline and best once per study (call under the study lock)."""
    starts = get_space(space).warm_starts[:budget]
    done = int(study.user_attrs.get(_WARM_STARTS_ATTR, 0))
    for params in starts[done:]:
        study.enqueue_trial(params)
    if len(starts) > done:
        study.set_user_attr(_WARM_STARTS_ATTR, len(starts))
    return max(0, len(starts) - done)


def claim_trial(study: optuna.Study, budget: int) -> ClaimResult:
    """Start a trial if the budget allows (call under the study lock)."""
    with warnings.catch_warnings():
        # ask/tell with a heartbeat is what optimize() does inside; the worker beats itself.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        optuna.storages.fail_stale_trials(study)
        counted = study.get_trials(deepcopy=False, states=_COUNTED)
        running = sum(t.state == TrialState.RUNNING for t in counted)
        if len(counted) < budget:
            trial = study.ask()
            first_beat(study, trial)
            return ClaimResult(Claim.STARTED, trial)
    return ClaimResult(Claim.WAIT if running else Claim.DONE)


def budget_spent(study: optuna.Study, budget: int) -> bool:
    """Whether the study already holds `budget` finished trials (a read, no claim)."""
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return len(finished) >= budget
