"""One worker: claim a trial under the global budget, run it, tell the result, repeat."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from data import CelebaData
from model import NonFiniteLossError
from search.budget import Claim, claim_trial, enqueue_warm_starts, study_lock
from search.config import RunConfig
from search.errors import ConfigError
from search.objective import Objective
from search.storage import open_storage, retry_storage
from search.study import create_or_load_study

__all__ = ["WorkerSummary", "run_worker"]

log = logging.getLogger(__name__)

WAIT_POLL_S = 2.0


@dataclass(frozen=True)
class WorkerSummary:
    completed: int
    pruned: int
    failed: int
    interrupted: bool


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
                    log.warning("heartbeat failed: %s", str(exc).splitlines()[0])

        storage.record_heartbeat(trial_id)
        self._thread = threading.Thread(target=beat, daemon=True, name="heartbeat")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_worker(config: RunConfig, data: CelebaData, worker_index: int = 0) -> WorkerSummary:
    """Run trials until the study's budget is spent; returns what this worker did."""
    storage = open_storage(config.storage, grace_period=config.grace_period)
    study = create_or_load_study(storage, config, worker_index)
    with study_lock(config.storage, config.study):
        retry_storage(lambda: enqueue_warm_starts(study, config.space, config.trials), "enqueue")
    objective = Objective(
        data, space=config.space, epochs=config.epochs, metric=config.metric, seed=config.seed
    )
    counts = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
    consecutive_failures = 0
    while True:
        claim = retry_storage(lambda: _locked_claim(config, study), "claim a trial")
        if claim.claim is Claim.DONE:
            break
        if claim.claim is Claim.WAIT:
            time.sleep(WAIT_POLL_S)
            continue
        trial = claim.trial
        started = time.perf_counter()
        try:
            state, value = _run_one(study, storage, trial, objective)
        except KeyboardInterrupt:
            _record_failure(trial, KeyboardInterrupt("interrupted by the user"))
            retry_storage(lambda t=trial: study.tell(t, state=TrialState.FAIL), "record the trial")
            log.warning("interrupted: trial %d marked FAIL", trial.number)
            return _summary(counts, interrupted=True)
        counts[state] += 1
        consecutive_failures = consecutive_failures + 1 if state == TrialState.FAIL else 0
        _print_progress(study, trial, state, value, time.perf_counter() - started, config)
        if consecutive_failures >= config.max_failures:
            raise ConfigError(
                f"{consecutive_failures} trials in a row failed (see fail_reason in the study); "
                "stopping this worker"
            )
    return _summary(counts, interrupted=False)


def _locked_claim(config: RunConfig, study: optuna.Study):
    with study_lock(config.storage, config.study):
        return claim_trial(study, config.trials)


def _run_one(
    study: optuna.Study,
    storage: optuna.storages.RDBStorage,
    trial: optuna.Trial,
    objective: Objective,
) -> tuple[TrialState, float | None]:
    heartbeat = _Heartbeat(storage, trial)
    try:
        value = objective(trial)
        state = TrialState.COMPLETE
    except optuna.TrialPruned:
        state, value = TrialState.PRUNED, None
    except (NonFiniteLossError, MemoryError) as exc:
        state, value = TrialState.FAIL, None
        _record_failure(trial, exc)
    except Exception as exc:  # GPU out of memory, a driver error: fail this trial, go on
        state, value = TrialState.FAIL, None
        log.exception("trial %d failed", trial.number)
        _record_failure(trial, exc)
    finally:
        heartbeat.stop()
    if state == TrialState.COMPLETE and not math.isfinite(value):
        state, value = TrialState.FAIL, None
        trial.set_user_attr("fail_reason", "objective value is not finite")
    retry_storage(lambda: study.tell(trial, value, state=state), "record the trial")
    return state, value


def _record_failure(trial: optuna.Trial, exc: BaseException) -> None:
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    retry_storage(lambda: trial.set_user_attr("fail_reason", reason), "record the failure")
    log.warning("trial %d failed: %s", trial.number, reason)


def _summary(counts: dict[TrialState, int], interrupted: bool) -> WorkerSummary:
    return WorkerSummary(
        completed=counts[TrialState.COMPLETE],
        pruned=counts[TrialState.PRUNED],
        failed=counts[TrialState.FAIL],
        interrupted=interrupted,
    )


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
