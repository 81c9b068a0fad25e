"""`python -m search.run` end to end: real Keras training, real SQLite and PostgreSQL."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import typing

import optuna
import pytest
from optuna.trial import TrialState

from common.native_logs import has_nvidia_device
from search.config import RunConfig, setting_fields
from search.coordination.storage import open_storage
from search.report.page import main as report_main
from search.run import (
    WORKER_CONFIG_ENV,
    build_parser,
    config_from_args,
    main,
    worker_config_from_environment,
    worker_environment_of,
)
from search.trial.objective import Objective
from search.trial.space import encoded

from .conftest import TINY_RUN, start_search

optuna.logging.set_verbosity(optuna.logging.WARNING)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _unlike_defaults(cls: type[RunConfig] = RunConfig) -> RunConfig:
    """A config whose every setting differs from its default, whatever settings there are."""
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for spec in setting_fields(cls):
        kind = hints[spec.name]
        if kind is bool:
            values[spec.name] = not spec.default
        elif kind is str:
            values[spec.name] = f"{spec.default}-changed"
        elif float in typing.get_args(kind) or kind is float:
            values[spec.name] = (spec.default or 0.0) + 2.5
        else:
            values[spec.name] = (spec.default or 0) + 3
    return cls(**values)


def test_a_worker_process_gets_every_setting_as_data():
    # Every field, found by listing them: a setting added to RunConfig is covered unasked.
    config = _unlike_defaults()
    env = {**os.environ, **worker_environment_of(config)}
    show = "from search.run import worker_config_from_environment as w; print(repr(w()))"

    child = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True)

    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == repr((config, os.getpid()))
    assert all(getattr(config, s.name) != s.default for s in setting_fields())


def test_the_command_line_reaches_a_worker_unchanged(monkeypatch):
    given = ["--preset", "demo", "--budget-epochs", "40", "--workers", "3", "--seed", "7",
             "--max-params", "50000", "--max-latency-ms", "2.5", "--no-warm-start",
             "--pruner", "median", "--metric", "micro", "--workers-per-gpu", "2"]  # fmt: skip
    config = config_from_args(build_parser().parse_args(given))
    for name, value in worker_environment_of(config).items():
        monkeypatch.setenv(name, value)

    assert worker_config_from_environment() == (config, os.getpid())
    # the worker's command line holds its index only: the storage URL may hold a password
    assert build_parser().parse_args(["--worker", "1"]).worker == 1


def test_a_worker_flag_without_its_config_gets_one_clear_line(capsys, monkeypatch):
    monkeypatch.delenv(WORKER_CONFIG_ENV, raising=False)
    assert main(["--worker", "0"]) == 2
    assert capsys.readouterr().err == (
        "error: --worker is internal: worker processes are started by search.run\n"
    )


def test_help_states_each_default_once_from_the_config():
    text = " ".join(build_parser().format_help().split())
    assert "maximum epochs per trial (default: 5; --preset demo: 8)" in text
    assert "(default: 120)" in text and "(default: hyperband)" in text
    assert "configurations that break --max-params or --max-latency-ms are recorded " in text
    assert "--synthetic-n" not in text and "--worker" not in text.replace("--workers", "")


def _study(url: str, name: str = "demo") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


def _wait_for_running_trial(
    url: str, name: str, process, *, trained_epochs: int = 0, timeout: float = 120
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            running = _study(url, name).get_trials(states=(TrialState.RUNNING,))
        except KeyError:  # the study does not exist yet
            running = []
        running = [t for t in running if len(t.intermediate_values) >= trained_epochs]
        if running:
            return running[0].number
        time.sleep(0.2)
    raise AssertionError("no trial started")


def test_one_worker_runs_the_budget_then_resume_adds_to_it(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/one.db"
    assert main([*TINY_RUN, "--trials", "3", "--storage", url]) == 0
    first = _study(url).get_trials(states=FINISHED)
    assert len(first) == 3
    for trial in first:
        assert trial.intermediate_values, "every trial reports validation AUC per epoch"
        assert trial.user_attrs["epochs_run"] == len(trial.intermediate_values)
    complete = [t for t in first if t.state == TrialState.COMPLETE]
    assert complete
    for key in ("test_macro_auc", "test_micro_auc", "test_mean_accuracy", "val_micro_auc",
                "n_params", "seconds_per_epoch", "images_per_second"):  # fmt: skip
        assert key in complete[0].user_attrs
    assert complete[0].value == complete[0].user_attrs["val_macro_auc"]
    out = capsys.readouterr().out
    assert "[3/3] trial" in out and "best trial #" in out and "search.refit" in out

    assert main([*TINY_RUN, "--trials", "5", "--storage", url]) == 0
    study = _study(url)
    assert len(study.get_trials(states=FINISHED)) == 5
    kept = {t.number: t.datetime_complete for t in study.trials[:3]}
    assert kept == {t.number: t.datetime_complete for t in first}
    warm = [t.params for t in study.trials if "fixed_params" in t.system_attrs]
    assert len(warm) == 2, "the notebook's two configurations are enqueued once per study"


@pytest.mark.postgres
def test_two_worker_processes_share_the_budget_and_hide_the_password(
    in_search_home, postgres_url, capfd
):
    url = postgres_url.replace("postgres@", "postgres:pw-s3cret-word@")
    assert main([*TINY_RUN, "--trials", "4", "--workers", "2", "--storage", url]) == 0
    study = _study(postgres_url)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert len(study.get_trials(states=FINISHED)) == 4
    out, err = capfd.readouterr()
    assert "pw-s3cret-word" not in out + err
    assert "postgres:***@" in out


def test_a_killed_worker_trial_is_failed_retried_and_the_budget_still_exact(search_home):
    url = f"sqlite:///{search_home}/killed.db"
    # many epochs, so the trial is surely still running when the kill lands (an epoch of
    # these tiny faces takes a fraction of a second)
    args = ["--trials", "3", "--study", "killed", "--grace-period", "6", "--epochs", "30"]
    victim = start_search(search_home, *args, storage=url)
    killed = _wait_for_running_trial(url, "killed", victim, trained_epochs=1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert _study(url, "killed").trials[killed].state == TrialState.RUNNING

    replacement = start_search(search_home, *args, storage=url)
    out, _ = replacement.communicate(timeout=300)
    assert replacement.returncode == 0, out
    study = _study(url, "killed")
    assert study.trials[killed].state == TrialState.FAIL
    assert len(study.get_trials(states=FINISHED)) == 3
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].state in FINISHED
    assert retried[0].params == study.trials[killed].params


def test_ctrl_c_fails_the_running_trial_and_exits_130(search_home):
    url = f"sqlite:///{search_home}/interrupted.db"
    args = ["--trials", "3", "--study", "int", "--epochs", "5"]
    worker = start_search(search_home, *args, storage=url)
    number = _wait_for_running_trial(url, "int", worker, trained_epochs=1)
    worker.send_signal(signal.SIGINT)
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 130, out
    trial = _study(url, "int").trials[number]
    assert trial.state == TrialState.FAIL
    assert "interrupted" in trial.user_attrs["fail_reason"]
    assert "Traceback" not in out


@pytest.mark.skipif(has_nvidia_device(), reason="on a GPU machine the native lines stay")
def test_workers_print_no_native_start_up_lines(search_home):
    url = f"sqlite:///{search_home}/quiet.db"
    args = ["--trials", "2", "--workers", "2", "--epochs", "1", "--pruner", "none",
            "--study", "quiet"]  # fmt: skip
    search = start_search(search_home, *args, storage=url)
    out, _ = search.communicate(timeout=300)

    assert search.returncode == 0, out
    assert out.count("COMPLETE") == 2, out  # both workers trained and reported
    # TensorFlow's abseil lines and its cuInit error on a machine without a GPU
    for noise in ("absl::InitializeLog", "cuInit", "cudart_stub", "I0000", "E0000"):
        assert noise not in out, out


def test_a_nan_trial_fails_with_its_reason_and_the_worker_goes_on(in_search_home):
    url = f"sqlite:///{in_search_home}/nan.db"
    study = optuna.create_study(study_name="demo", storage=open_storage(url))
    poison = {"c1": 4, "c2": 8, "c3": 16, "c4": 32, "batch_size": 32, "learning_rate": math.inf}
    study.enqueue_trial(encoded(poison))
    assert main([*TINY_RUN, "--trials", "2", "--storage", url]) == 0
    study = _study(url)
    poisoned = study.trials[0]
    assert poisoned.state == TrialState.FAIL
    assert "NonFiniteLossError" in poisoned.user_attrs["fail_reason"]
    assert len(study.get_trials(states=FINISHED)) == 2


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_a_pruner_that_says_prune_stops_the_trial_after_one_epoch(in_search_home):
    from search.trial.study_data import prepare_data

    data = prepare_data("synthetic", image_size=16, synthetic_n=300, seed=0)
    study = optuna.create_study(direction="maximize", pruner=_AlwaysPrune())
    study.optimize(Objective(data, space="demo", epochs=3), n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]
    assert trial.user_attrs["epochs_run"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "--trials must be at least 1"),
        (["--trials", "2", "--sampler", "annealing"], "unknown --sampler 'annealing'"),
        (["--trials", "2", "--sampler", "grid"], "--sampler grid needs a space with a grid"),
        (["--trials", "2", "--data", "/nowhere/celeba"], "no CelebA folder at /nowhere/celeba"),
        (
            ["--trials", "2", "--storage", "postgresql+psycopg://u@127.0.0.1:1/x"],
            "cannot open storage postgresql+psycopg://u@127.0.0.1:1/x",
        ),
    ],
)
def test_bad_arguments_get_one_clear_line(in_search_home, capsys, args, message):
    assert main([*TINY_RUN, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1


def test_an_unreachable_storage_never_shows_its_password(in_search_home, capsys, monkeypatch):
    monkeypatch.setenv("OPTUNA_STORAGE", "postgresql+psycopg://u:topsecret@127.0.0.1:1/x")
    assert main([*TINY_RUN, "--trials", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open storage postgresql+psycopg://u:***@127.0.0.1:1/x: ")
    assert "topsecret" not in err and err.count("\n") == 1

    assert main([*TINY_RUN, "--trials", "2", "--storage", os.environ["OPTUNA_STORAGE"]]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert "visible in the process list" in warning and "OPTUNA_STORAGE" in warning
    assert "topsecret" not in warning + error


def test_a_worker_replaces_itself_after_its_share_of_trials(search_home):
    url = f"sqlite:///{search_home}/recycled.db"
    args = ["--trials", "3", "--study", "recycled", "--trials-per-process", "1"]
    worker = start_search(search_home, *args, storage=url)
    out, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, out
    assert out.count("restarting to free memory") == 2
    trials = _study(url, "recycled").get_trials(states=FINISHED)
    assert len(trials) == 3
    assert all(t.user_attrs["worker_rss_mb"] > 0 for t in trials)


def test_two_workers_spend_exactly_the_epoch_budget_and_say_so(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/epochs.db"
    args = [*TINY_RUN, "--budget-epochs", "7", "--workers", "2", "--study", "epochs"]
    assert main([*args, "--storage", url]) == 0
    study = _study(url, "epochs")
    trials = study.get_trials()
    assert sum(len(t.intermediate_values) for t in trials) == 7  # --epochs 2: 2+2+2+1 at most
    assert all(len(t.intermediate_values) <= t.user_attrs["epochs_reserved"] for t in trials)
    assert study.user_attrs["budget_epochs"] == 7 and study.user_attrs["epochs_spent"] == 7
    out = capsys.readouterr().out
    assert "budget 7 epochs" in out and "epochs spent: 7 of the budget of 7" in out

    assert report_main(["--storage", url, "--study", "epochs"]) == 0
    page = (in_search_home / "studies" / "epochs" / "report" / "index.html").read_text()
    assert "7 of 7" in page and "epochs spent of the budget" in page
