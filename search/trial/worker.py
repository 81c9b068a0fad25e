"""One worker: claim a trial under the global budget, run it, tell the result, repeat."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import optuna
from optuna.trial import TrialState

from common.cli import short
from data import CelebaData
from model import NonFiniteLossError
from search.config import RunConfig
from search.coordination.budget import (
    Claim,
    ClaimResult,
    budget_spent,
    claim_trial,
    enqueue_warm_starts,
    epoch_budget,
    epochs_reported,
    trained_trials,
)
from search.coordination.heartbeat import Heartbeat
from search.coordination.interrupts import Interrupts
from search.coordination.lock import study_lock
from search.coordination.storage import open_storage, retry_storage
from search.errors import ConfigError
from search.trial.objective import Objective
from search.trial.records import BUDGET, TIME, TrialRecord
from search.trial.space import decoded
from search.trial.study import create_or_load_study

__all__ = ["WorkerSummary", "run_worker"]

log = logging.getLogger(__name__)

WAIT_POLL_S = 2.0


@dataclass(frozen=True)
class WorkerSummary:
    completed: int
    pruned: int
    failed: int
    interrupted: bool = False
    recycle: bool = False  # stopped after its share of trials: restart it to free memory


def run_worker(
    config: RunConfig, data: CelebaData, worker_index: int = 0, parent_pid: int | None = None
) -> WorkerSummary:
    """Run trials until the study's budget is spent; returns what this worker did.

    With `parent_pid`, the worker stops (as on SIGTERM) when that process is gone.

    After `config.trials_per_process` trials it returns early with `recycle` set: TensorFlow
    keeps some memory from every model built in a process, which only a new process frees.
    """
    storage = open_storage(config.storage, grace_period=config.grace_period)
    study = _join_study(storage, config, worker_index)
    interrupts = Interrupts(parent_pid)
    objective = Objective(
        data,
        space=config.space,
        epochs=config.epochs,
        metric=config.metric,
        seed=config.seed,
        callbacks=[interrupts.keras_callback()],
        max_params=config.max_params,
        max_latency_ms=config.max_latency_ms,
        deadline=config.deadline,
    )
    loop = _TrialLoop(config, storage, study, objective, interrupts)
    try:
        return loop.run()
    except KeyboardInterrupt:
        loop.fail_held_trial()
        return loop.summary(interrupted=True)


def _join_study(
    storage: optuna.storages.RDBStorage, config: RunConfig, worker_index: int
) -> optuna.Study:
    # Under the lock: a worker must not read the study's settings while another writes them.
    with study_lock(config.storage, config.study):
        study = create_or_load_study(storage, config, worker_index)
        _name_the_objective(study, config.metric)
        if config.warm_start:
            enqueue = partial(enqueue_warm_starts, study, config.space, config.trials)
            retry_storage(enqueue, "enqueue the warm starts")
    return study


def _name_the_objective(study: optuna.Study, metric: str) -> None:
    """optuna-dashboard and Optuna's plots show this name instead of "Objective 0"."""
    names = [f"val {metric} AUC"]
    if study.metric_names != names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry_storage(lambda: study.set_metric_names(names), "name the objective")


class _TrialLoop:
    """Claims, runs and tells trials one after another, counting what happened."""

    def __init__(
        self,
        config: RunConfig,
        storage: optuna.storages.RDBStorage,
        study: optuna.Study,
        objective: Objective,
        interrupts: Interrupts,
    ) -> None:
        self.config = config
        self.storage = storage
        self.study = study
        self.objective = objective
        self.interrupts = interrupts
        self.counts = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
        self.consecutive_failures = 0
        self.held: optuna.Trial | None = None  # the trial this worker runs, until it is told

    def run(self) -> WorkerSummary:
        config = self.config
        while True:
            self.interrupts.check()
            # a trial cut after its first epoch is wasted: start none that has no time for one
            if config.out_of_time(within_s=self.objective.first_epoch_seconds):
                retry_storage(lambda: _locked_publish(config, self.study), "publish progress")
                return self.summary()
            if sum(self.counts.values()) >= config.trials_per_process:
                spent = retry_storage(
                    lambda: budget_spent(
                        self.study, config.trials, epoch_budget(config), config.untrained_limit
                    ),
                    "read progress",
                )
                return self.summary(recycle=not spent)
            claim = retry_storage(lambda: _locked_claim(config, self.study), "claim a trial")
            if claim.claim is Claim.DONE:
                return self.summary()
            if claim.claim is Claim.WAIT:
                time.sleep(WAIT_POLL_S)
                continue
            self.held = claim.trial
            self._run_held(claim.epochs)

    def _run_held(self, epochs: int | None) -> None:
        trial = self.held
        started = time.perf_counter()
        state, value = _run_one(self.storage, trial, partial(self.objective, epochs=epochs))
        told = _tell(self.study, trial, state, value)
        self.held = None
        if not told:
            return
        self.counts[state] += 1
        _print_progress(
            self.study, trial, state, value, time.perf_counter() - started, self.config
        )
        failed = state == TrialState.FAIL
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        if self.consecutive_failures >= self.config.max_failures:
            raise ConfigError(
                f"{self.consecutive_failures} trials in a row failed (see fail_reason in the "
                "study); stopping this worker"
            )

    def fail_held_trial(self) -> None:
        """Ctrl-C: the trial being run is failed (its slot freed), never left RUNNING."""
        if self.held is not None:
            _record_failure(self.held, KeyboardInterrupt("interrupted by the user"))
            _tell(self.study, self.held, TrialState.FAIL, None)
            log.warning("interrupted: trial %d marked FAIL", self.held.number)

    def summary(self, **flags: bool) -> WorkerSummary:
        return WorkerSummary(
            completed=self.counts[TrialState.COMPLETE],
            pruned=self.counts[TrialState.PRUNED],
            failed=self.counts[TrialState.FAIL],
            **flags,
        )


def _locked_claim(config: RunConfig, study: optuna.Study) -> ClaimResult:
    with study_lock(config.storage, config.study):
        return claim_trial(study, config.trials, epoch_budget(config), config.untrained_limit)


def _locked_publish(config: RunConfig, study: optuna.Study) -> None:
    """The epochs spent, for the dashboard: a worker out of time makes no last claim, which
    would have published them."""
    budget = epoch_budget(config)
    if budget is not None:
        with study_lock(config.storage, config.study):
            budget.publish(study, study.get_trials(deepcopy=False))


def _run_one(
    storage: optuna.storages.RDBStorage,
    trial: optuna.Trial,
    objective: Callable[[optuna.Trial], float],
) -> tuple[TrialState, float | None]:
    """Train one trial; a failure inside it fails the trial, not the worker."""
    heartbeat = Heartbeat(storage, trial)
    try:
        value = objective(trial)
    except optuna.TrialPruned:
        return TrialState.PRUNED, None
    except optuna.exceptions.UpdateFinishedTrialError:
        return TrialState.FAIL, None  # failed as stale meanwhile: _tell finds out
    except (NonFiniteLossError, MemoryError) as exc:
        _record_failure(trial, exc)
        return TrialState.FAIL, None
    except Exception as exc:  # GPU out of memory, a driver error: fail this trial, go on
        log.exception("trial %d failed", trial.number)
        _record_failure(trial, exc)
        return TrialState.FAIL, None
    finally:
        heartbeat.stop()
    if not math.isfinite(value):
        _record_failure(trial, ValueError("objective value is not finite"))
        return TrialState.FAIL, None
    return TrialState.COMPLETE, value


def _tell(
    study: optuna.Study, trial: optuna.Trial, state: TrialState, value: float | None
) -> bool:
    """Record the trial's end; False if another worker had already failed it as stale.

    That happens when this worker's heartbeat could not reach the storage for longer than the
    grace period (a long database outage): the trial is being retried elsewhere, so this
    worker drops its result and goes on. A tell retried because the database went away may
    find its own first try recorded (only the reply was lost): that is this worker's result.
    """
    try:
        TrialRecord(worker_rss_mb=round(_resident_mb(), 1)).save(trial)
        recorded = retry_storage(
            partial(study.tell, trial, value, state=state, skip_if_finished=True),
            "record the trial",
        )
    except optuna.exceptions.UpdateFinishedTrialError:
        recorded = None
    if recorded is None or recorded.state != state:
        log.warning("trial %d was failed as stale by another worker; its retry counts instead",
                    trial.number)  # fmt: skip
        return False
    return True


def _record_failure(trial: optuna.Trial, exc: BaseException) -> None:
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # _tell reports it
        TrialRecord(fail_reason=reason).save(trial)
    log.warning("trial %d failed: %s", trial.number, reason)


def _resident_mb() -> float:
    """This process's resident memory now (Linux), to show it does not grow across trials."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _print_progress(
    study: optuna.Study,
    trial: optuna.Trial,
    state: TrialState,
    value: float | None,
    seconds: float,
    config: RunConfig,
) -> None:
    trials = retry_storage(lambda: study.get_trials(deepcopy=False), "read progress")
    frozen = next(t for t in trials if t.number == trial.number)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    shown = "-" if value is None else f"{value:.4f}"
    if state == TrialState.PRUNED and frozen.intermediate_values:
        shown = f"{frozen.intermediate_values[max(frozen.intermediate_values)]:.4f}"
        cut_by = {BUDGET: "epoch", TIME: "time"}.get(TrialRecord.of(frozen).pruned_by)
        if cut_by is not None:
            shown += f" ({cut_by} budget spent after {len(frozen.intermediate_values)})"
    params = " ".join(f"{k}={short(v)}" for k, v in decoded(frozen.params).items())
    best_text = f"best {best.value:.4f} (#{best.number})" if best else "best -"
    trained = trained_trials(trials)  # what --trials counts
    progress = f"{trained}" if config.trials is None else f"{trained}/{config.trials}"
    if config.budget_epochs is not None:
        progress += f", {epochs_reported(trials)}/{config.budget_epochs} epochs"
    print(
        f"[{progress}] trial {trial.number} {state.name:<8} "
        f"{config.metric} AUC {shown} in {seconds:.0f}s | {params} | {best_text}",
        flush=True,
    )
