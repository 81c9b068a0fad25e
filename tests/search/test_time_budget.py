"""--budget-minutes: no trial starts after them; one still training stops at its epoch's end."""

from __future__ import annotations

import time
from dataclasses import replace

import optuna
import pytest
from optuna.trial import TrialState

from search import run
from search.config import RunConfig
from search.coordination.storage import open_storage
from search.summary import print_summary
from search.trial.objective import Objective
from search.trial.study_data import prepare_data

from .conftest import TINY_RUN

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_a_trial_training_when_the_time_runs_out_stops_after_its_epoch(in_search_home):
    data = prepare_data("synthetic", image_size=16, synthetic_n=300, seed=0)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    objective = Objective(data, space="demo", epochs=3, deadline=time.time())
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]
    assert trial.user_attrs["pruned_by"] == "time" and trial.user_attrs["epochs_run"] == 1


def test_a_trial_times_its_first_epoch_for_the_worker_to_judge_the_next(in_search_home):
    data = prepare_data("synthetic", image_size=16, synthetic_n=300, seed=0)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    objective = Objective(data, space="demo", epochs=2)
    assert objective.first_epoch_seconds == 0  # nothing measured: no trial is held back
    started = time.perf_counter()
    study.optimize(objective, n_trials=1)
    trial_seconds = time.perf_counter() - started
    training = study.trials[0].user_attrs["seconds_per_epoch"]  # training only, no scoring
    assert training < objective.first_epoch_seconds < trial_seconds


def test_a_worker_counts_as_out_of_time_when_what_it_needs_is_not_left():
    config = RunConfig(budget_minutes=1, deadline=time.time() + 30)
    assert not config.out_of_time()
    assert not config.out_of_time(within_s=20)
    assert config.out_of_time(within_s=40)


def test_the_summary_says_time_stopped_workers_that_stopped_before_the_deadline(
    in_search_home, capsys
):
    # workers stop early when a first epoch would not fit: the deadline is still ahead
    url = f"sqlite:///{in_search_home}/early.db"
    optuna.create_study(study_name="early", storage=open_storage(url), direction="maximize")
    config = RunConfig(study="early", storage=url, trials=3, budget_minutes=1)
    print_summary(replace(config, deadline=time.time() + 30))
    out = capsys.readouterr().out
    assert "stopped by --budget-minutes 1 before the rest of the budget was spent" in out


def test_a_search_out_of_time_starts_no_trial_and_says_how_to_go_on(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/minutes.db"
    args = [*TINY_RUN, "--trials", "1", "--budget-epochs", "4", "--study", "minutes"]
    args += ["--storage", url]
    assert run.main([*args, "--budget-minutes", "0.0001"]) == 0
    study = optuna.load_study(study_name="minutes", storage=open_storage(url))
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.COMPLETE))
    # the dashboard's figures, written by the worker on its way out
    assert study.user_attrs["budget_epochs"] == 4 and study.user_attrs["epochs_spent"] == 0
    out = capsys.readouterr().out
    assert "budget 1 trained trials and 4 epochs, at most 0.0001 minutes" in out
    assert "stopped by --budget-minutes 0.0001 before the rest of the budget was spent" in out

    assert run.main(args) == 0  # the same command without the limit finishes the budget
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 1
    assert "stopped by --budget-minutes" not in capsys.readouterr().out


def test_preparing_the_data_counts_toward_the_minutes(in_search_home, monkeypatch):
    deadlines = []
    prepare = run._prepare

    def noting_the_deadline(config):
        deadlines.append(config.deadline)
        return prepare(config)

    monkeypatch.setattr(run, "_prepare", noting_the_deadline)
    args = [*TINY_RUN, "--trials", "1", "--budget-minutes", "2", "--study", "early-clock"]
    before = time.time()
    assert run.main([*args, "--storage", f"sqlite:///{in_search_home}/clock.db"]) == 0
    assert deadlines and before + 120 <= deadlines[0] <= time.time() + 120


def test_a_replacing_process_keeps_the_deadline_it_was_handed(monkeypatch):
    config = RunConfig(budget_minutes=2)
    monkeypatch.setenv(run.DEADLINE_ENV, "1234.5")
    handed = run._handed_deadline(config)
    assert run._with_deadline(config, handed).deadline == 1234.5
    assert run.DEADLINE_ENV not in run.os.environ  # a later run in this process starts anew
    before = time.time()
    fresh = run._with_deadline(config, run._handed_deadline(config)).deadline
    assert before + 120 <= fresh <= time.time() + 120


def test_a_replacing_process_says_how_many_minutes_are_left(in_search_home, monkeypatch, capsys):
    monkeypatch.setenv(run.DEADLINE_ENV, repr(time.time() + 90))
    args = [*TINY_RUN, "--trials", "1", "--budget-minutes", "2", "--study", "left"]
    assert run.main([*args, "--storage", f"sqlite:///{in_search_home}/left.db"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "at most 2 minutes (1.5 of them left)," in header


def test_no_time_budget_means_no_deadline(monkeypatch):
    monkeypatch.setenv(run.DEADLINE_ENV, "1234.5")  # left by nothing that applies here
    config = RunConfig()
    assert run._with_deadline(config, run._handed_deadline(config)).deadline is None


@pytest.mark.parametrize("minutes", ["0", "-1"])
def test_a_budget_of_no_minutes_gets_one_clear_line(in_search_home, capsys, minutes):
    assert run.main([*TINY_RUN, "--budget-minutes", minutes]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --budget-minutes must be positive, got {float(minutes)}\n"
