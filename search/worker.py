"""One worker: claim a trial under the global budget, run it, tell the result, repeat."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from functools import partial

import keras
import optuna
from optuna.trial import TrialState

from data import CelebaData
from model import NonFiniteLossError
from search.budget import (
    Claim,
    ClaimResult,
    budget_spent,
    claim_trial,
    enqueue_warm_starts,
    study_lock,
)
from search.config import RunConfig
from search.errors import ConfigError
from search.objective import Objective
from search.storage import open_storage, retry_storage, storage_reason
from search.study import create_or_load_study

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


class _Heartbeat:
    """Records the trial's heartbeat in the background while it trains (ask/tell has none)."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial: optuna.Trial) -> None:
        self._stop = threading.Event()
        interval = storage.get_heartbeat_interval() or 10
        # Trial exposes no public id; the storage's heartbeat API needs it.
        trial_id = trial._trial_id

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    storage.record_heartbeat(trial_id)
                except Exception as exc:  # a missed beat is retried at the next interval
                    log.warning("heartbeat failed: %s", storage_reason(exc))

        storage.record_heartbeat(trial_id)
        self._thread = threading.Thread(target=beat, daemon=True, name="heartbeat")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class _Interrupts:
    """Ctrl-C and SIGTERM become a request to stop, honoured at safe points.

    The points are: between training batches (a Keras callback), between trials and while
    waiting for a slot. Raising KeyboardInterrupt at an arbitrary bytecode could land inside a
    garbage-collector callback, where Python swallows it, or between creating a trial and
    knowing it is ours. A second Ctrl-C stops at once.
    """

    def __init__(self) -> None:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after the current batch (Ctrl-C again to stop at once)")

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def keras_callback(self) -> keras.callbacks.Callback:
        interrupts = self

        class StopOnInterrupt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                interrupts.check()

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                interrupts.check()

        return StopOnInterrupt()


def run_worker(config: RunConfig, data: CelebaData, worker_index: int = 0) -> WorkerSummary:
    """Run trials until the study's budget is spent; returns what this worker did.

    After `config.trials_per_process` trials it returns early with `recycle` set: TensorFlow
    keeps some memory from every model built in a process, which only a new process frees.
    """
    storage = open_storage(config.storage, grace_period=config.grace_period)
    with study_lock(config.storage, config.study):
        # Under the lock: a worker must not read the study's settings while another writes them.
        study = create_or_load_study(storage, config, worker_index)
        if config.warm_start:
            enqueue = partial(enqueue_warm_starts, study, config.space, config.trials)
            retry_storage(enqueue, "enqueue the warm starts")
    interrupts = _Interrupts()
    objective = Objective(
        data,
        space=config.space,
        epochs=config.epochs,
        metric=config.metric,
        seed=config.seed,
        callbacks=[interrupts.keras_callback()],
    )
    counts = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
    consecutive_failures = 0
    trial: optuna.Trial | None = None  # the trial this worker holds, until it is told
    try:
        while True:
            interrupts.check()
            if sum(counts.values()) >= config.trials_per_process:
                spent = retry_storage(lambda: budget_spent(study, config.trials), "read progress")
                return _summary(counts, recycle=not spent)
            claim = retry_storage(lambda: _locked_claim(config, study), "claim a trial")
            trial = claim.trial
            if claim.claim is Claim.DONE:
                break
            if claim.claim is Claim.WAIT:
                time.sleep(WAIT_POLL_S)
                continue
            started = time.perf_counter()
            state, value = _run_one(storage, trial, objective)
            told = _tell(study, trial, state, value)
            trial = None
            if not told:
                continue
            counts[state] += 1
            _print_progress(
                study, claim.trial, state, value, time.perf_counter() - started, config
            )
            consecutive_failures = consecutive_failures + 1 if state == TrialState.FAIL else 0
            if consecutive_failures >= config.max_failures:
                raise ConfigError(
                    f"{consecutive_failures} trials in a row failed (see fail_reason in the "
                    "study); stopping this worker"
                )
    except KeyboardInterrupt:
        if trial is not None:
            _record_failure(trial, KeyboardInterrupt("interrupted by the user"))
            _tell(study, trial, TrialState.FAIL, None)
            log.warning("interrupted: trial %d marked FAIL", trial.number)
        return _summary(counts, interrupted=True)
    return _summary(counts)


def _locked_claim(config: RunConfig, study: optuna.Study) -> ClaimResult:
    with study_lock(config.storage, config.study):
        return claim_trial(study, config.trials)


def _run_one(
    storage: optuna.storages.RDBStorage, trial: optuna.Trial, objective: Objective
) -> tuple[TrialState, float | None]:
    """Train one trial; a failure inside it fails the trial, not the worker."""
    heartbeat = _Heartbeat(storage, trial)
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
    worker drops its result and goes on.
    """
    try:
        rss_mb = round(_resident_mb(), 1)
        retry_storage(lambda: trial.set_user_attr("worker_rss_mb", rss_mb), "record the trial")
        retry_storage(partial(study.tell, trial, value, state=state), "record the trial")
    except optuna.exceptions.UpdateFinishedTrialError:
        log.warning("trial %d was failed as stale by another worker; its retry counts instead",
                    trial.number)  # fmt: skip
        return False
    return True


def _record_failure(trial: optuna.Trial, exc: BaseException) -> None:
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # _tell reports it
        retry_storage(lambda: trial.set_user_attr("fail_reason", reason), "record the failure")
    log.warning("trial %d failed: %s", trial.number, reason)


def _summary(counts: dict[TrialState, int], **flags: bool) -> WorkerSummary:
    return WorkerSummary(
        completed=counts[TrialState.COMPLETE],
        pruned=counts[TrialState.PRUNED],
        failed=counts[TrialState.FAIL],
        **flags,
    )


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
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    shown = "-" if value is None else f"{value:.4f}"
    if state == TrialState.PRUNED and frozen.intermediate_values:
        shown = f"{frozen.intermediate_values[max(frozen.intermediate_values)]:.4f}"
    params = " ".join(f"{k}={_short(v)}" for k, v in frozen.params.items())
    best_text = f"best {best.value:.4f} (#{best.number})" if best else "best -"
    print(
        f"[{len(finished)}/{config.trials}] trial {trial.number} {state.name:<8} "
        f"{config.metric} AUC {shown} in {seconds:.0f}s | {params} | {best_text}",
        flush=True,
    )


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
