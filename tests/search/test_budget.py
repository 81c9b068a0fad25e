"""The global budget: exactly N finished trials whatever the number of workers.

Workers here are real processes on real SQLite and PostgreSQL storages; their objective is a
cheap function so that hundreds of claims race within seconds.
"""

from __future__ import annotations

import multiprocessing
import random
import time

import optuna
import pytest
from optuna.trial import TrialState

from search import run
from search.config import RunConfig, stored_settings
from search.coordination.budget import (
    RESERVED_ATTR,
    Claim,
    EpochBudget,
    budget_spent,
    claim_trial,
    enqueue_warm_starts,
    epochs_reported,
    trained_trials,
)
from search.coordination.lock import study_lock
from search.coordination.storage import open_storage
from search.refit import best_complete_trial
from search.trial.records import StudySettings
from search.trial.space import SPACES, decoded

from .conftest import TINY_RUN

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _race(url: str, study_name: str, budget: int, fail_every: int, seed: int) -> None:
    """A worker loop like search.trial.worker's, with a fast fake objective."""
    rng = random.Random(seed)
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    with study_lock(url, study_name):
        enqueue_warm_starts(study, "demo", budget)
    while True:
        with study_lock(url, study_name):
            result = claim_trial(study, budget)
        if result.claim is Claim.DONE:
            return
        if result.claim is Claim.WAIT:
            time.sleep(0.05)
            continue
        trial = result.trial
        trial.suggest_float("x", 0, 1)
        time.sleep(rng.uniform(0, 0.02))
        if fail_every and trial.number % fail_every == 0:
            study.tell(trial, state=TrialState.FAIL)
        elif trial.number % 3 == 0:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, rng.random())


def _in_processes(url: str, name: str, workers: int, target, *args) -> optuna.Study:
    """A new study raced by `workers` spawned processes, each `target(url, name, *args, i)`."""
    study = optuna.create_study(storage=open_storage(url), study_name=name)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=target, args=(url, name, *args, i)) for i in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)  # generous: a loaded CI machine runs six of them on 2 cores
        assert process.exitcode == 0
    return study


def _run_race(url: str, workers: int, budget: int, fail_every: int = 0) -> optuna.Study:
    return _in_processes(url, "race", workers, _race, budget, fail_every)


def _finished(study: optuna.Study) -> list:
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


def test_four_workers_on_sqlite_finish_exactly_the_budget(tmp_path):
    study = _run_race(f"sqlite:///{tmp_path}/race.db", workers=4, budget=25)
    assert len(_finished(study)) == 25
    assert not study.get_trials(states=(TrialState.RUNNING,))


def test_failed_trials_do_not_use_up_the_budget(tmp_path):
    study = _run_race(f"sqlite:///{tmp_path}/race.db", workers=3, budget=12, fail_every=4)
    assert len(_finished(study)) == 12
    assert study.get_trials(states=(TrialState.FAIL,))


@pytest.mark.postgres
def test_six_workers_on_postgres_finish_exactly_the_budget(postgres_url):
    study = _run_race(postgres_url, workers=6, budget=30, fail_every=7)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert len(_finished(study)) == 30


@pytest.mark.postgres
def test_warm_starts_are_enqueued_once_when_workers_start_together(postgres_url):
    study = _run_race(postgres_url, workers=4, budget=6)
    enqueued = [t for t in study.trials if "fixed_params" in t.system_attrs]
    assert len(enqueued) == 2
    assert study.user_attrs["warm_starts_enqueued"] == 2


def test_a_budget_smaller_than_the_warm_starts_enqueues_only_what_fits(tmp_path):
    study = _run_race(f"sqlite:///{tmp_path}/race.db", workers=1, budget=1)
    assert len(_finished(study)) == 1
    assert [t.state for t in study.trials] in ([TrialState.COMPLETE], [TrialState.PRUNED])


def _race_epochs(url: str, study_name: str, total: int, per_trial: int, seed: int) -> None:
    """A worker under an epoch budget: trials report epochs, some are pruned or fail early."""
    rng = random.Random(seed)
    budget = EpochBudget(total=total, per_trial=per_trial)
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    while True:
        with study_lock(url, study_name):
            result = claim_trial(study, None, budget)
        if result.claim is Claim.DONE:
            return
        if result.claim is Claim.WAIT:
            time.sleep(0.02)
            continue
        trial = result.trial
        assert 1 <= result.epochs <= per_trial
        ending = rng.choice(("complete", "complete", "pruned", "fail"))
        reported = result.epochs if ending == "complete" else rng.randint(0, result.epochs)
        for epoch in range(1, reported + 1):
            trial.report(rng.random(), epoch)
            time.sleep(rng.uniform(0, 0.005))
        if ending == "fail":
            study.tell(trial, state=TrialState.FAIL)
        elif ending == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, rng.random())


def _run_epoch_race(url: str, workers: int, total: int, per_trial: int) -> optuna.Study:
    return _in_processes(url, "epochs", workers, _race_epochs, total, per_trial)


def _assert_epoch_budget_spent_exactly(study: optuna.Study, total: int, per_trial: int) -> None:
    trials = study.get_trials()
    assert epochs_reported(trials) == total  # never more, and nothing left unspent
    assert not study.get_trials(states=(TrialState.RUNNING,))
    for trial in trials:
        assert len(trial.intermediate_values) <= trial.user_attrs[RESERVED_ATTR] <= per_trial
    assert study.user_attrs["budget_epochs"] == total
    assert study.user_attrs["epochs_spent"] == total


def test_four_workers_on_sqlite_spend_exactly_the_epoch_budget(tmp_path):
    study = _run_epoch_race(f"sqlite:///{tmp_path}/race.db", workers=4, total=61, per_trial=5)
    _assert_epoch_budget_spent_exactly(study, total=61, per_trial=5)
    # pruned and failed trials gave epochs back, which later trials spent
    assert any(
        len(t.intermediate_values) < t.user_attrs[RESERVED_ATTR]
        for t in study.get_trials(states=(TrialState.PRUNED, TrialState.FAIL))
    )


@pytest.mark.postgres
def test_six_workers_on_postgres_spend_exactly_the_epoch_budget(postgres_url):
    study = _run_epoch_race(postgres_url, workers=6, total=97, per_trial=8)
    _assert_epoch_budget_spent_exactly(study, total=97, per_trial=8)


def test_a_trial_budget_and_an_epoch_budget_stop_at_whichever_comes_first(tmp_path):
    url = f"sqlite:///{tmp_path}/both.db"
    study = optuna.create_study(storage=open_storage(url), study_name="both")
    budget = EpochBudget(total=100, per_trial=4)
    started = 0
    while (result := claim_trial(study, 3, budget)).claim is Claim.STARTED:
        result.trial.report(0.5, 1)
        study.tell(result.trial, 0.5)
        started += 1
    assert started == 3 and result.claim is Claim.DONE
    assert epochs_reported(study.get_trials()) == 3


def test_untrained_trials_do_not_count_toward_the_trial_budget(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path}/u.db"), study_name="u")
    outcomes = iter(["infeasible", "trained", "infeasible", "trained", "unused"])
    while (result := claim_trial(study, 2, max_untrained=20)).claim is Claim.STARTED:
        if next(outcomes) == "infeasible":
            result.trial.set_user_attr("infeasible", "too big")
            study.tell(result.trial, state=TrialState.PRUNED)
        else:
            study.tell(result.trial, 0.5)
    assert result.claim is Claim.DONE and next(outcomes) == "unused"
    assert budget_spent(study, 2) and trained_trials(study.get_trials()) == 2


def test_the_cap_on_untrained_trials_ends_a_search_where_nothing_fits(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path}/n.db"), study_name="n")
    while (result := claim_trial(study, 2, max_untrained=3)).claim is Claim.STARTED:
        result.trial.set_user_attr("infeasible", "too big")
        study.tell(result.trial, state=TrialState.PRUNED)
    assert result.claim is Claim.DONE and len(study.trials) == 3
    assert budget_spent(study, 2, max_untrained=3) and not budget_spent(study, 2)


def test_a_trial_the_epoch_budget_stops_is_pruned_never_complete(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/cut.db"
    # --epochs 2 and a budget of 3: the second trial gets one epoch and is cut by the budget
    args = [*TINY_RUN, "--budget-epochs", "3", "--pruner", "none", "--study", "cut"]
    assert run.main([*args, "--storage", url]) == 0
    study = optuna.load_study(study_name="cut", storage=open_storage(url))
    first, cut = study.trials
    assert first.state == TrialState.COMPLETE and len(first.intermediate_values) == 2
    assert cut.state == TrialState.PRUNED and len(cut.intermediate_values) == 1
    assert cut.user_attrs["pruned_by"] == "budget" and cut.user_attrs["epochs_reserved"] == 1
    out = capsys.readouterr().out
    assert "1 complete, 1 pruned (1 stopped by the epoch budget)" in out
    assert "epoch budget spent after 1" in out
    assert best_complete_trial(study).number == first.number
    # the dashboard names the objective; the warm starts are enqueued in the stored form
    assert study.metric_names == ["val macro AUC"]
    assert decoded(first.params) == SPACES["demo"].warm_starts[0]


def test_refit_skips_a_budget_cut_trial_that_an_older_version_recorded_complete(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/old.db", direction="maximize")
    StudySettings.save(study, stored_settings(RunConfig(epochs=4)))
    for reserved, value in ((4, 0.6), (1, 0.9)):  # the 1-epoch score looks best
        trial = study.ask()
        trial.set_user_attr(RESERVED_ATTR, reserved)
        study.tell(trial, value)
    assert best_complete_trial(study).value == 0.6
