"""The study: sampler seeds that no two workers, seeds or rejoins share; the settings a
resumed study must keep, on real SQLite."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

import optuna
import pytest

from search import run
from search.config import (
    RunConfig,
    add_setting_flags,
    config_from_json,
    config_to_json,
    setting,
    stored_settings,
)
from search.coordination.storage import open_storage
from search.errors import ConfigError
from search.run import build_parser, config_from_args
from search.trial.space import get_space
from search.trial.study import check_resumable, create_or_load_study

from .conftest import TINY_RUN

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _proposals(study: optuna.Study, n: int) -> list[tuple]:
    """The next `n` configurations the study's sampler proposes (each told, as a worker does)."""
    proposed = []
    for _ in range(n):
        trial = study.ask()
        params = get_space("demo").sample(trial)
        proposed.append((params.model.conv_widths, params.batch_size, params.model.learning_rate))
        study.tell(trial, 0.5)
    return proposed


def _config(tmp_path, study: str, seed: int) -> RunConfig:
    return RunConfig(
        storage=f"sqlite:///{tmp_path}/s.db", study=study, space="demo", sampler="random",
        seed=seed,
    )  # fmt: skip


def test_seed_s_worker_1_does_not_repeat_seed_s_plus_1_worker_0(tmp_path):
    one = _config(tmp_path, "seed0", seed=0)
    two = _config(tmp_path, "seed1", seed=1)
    storage = open_storage(one.storage)
    worker_1 = _proposals(create_or_load_study(storage, one, worker_index=1), 4)
    next_seed_worker_0 = _proposals(create_or_load_study(storage, two, worker_index=0), 4)
    assert worker_1 != next_seed_worker_0


def test_a_recycled_worker_draws_new_configurations(tmp_path):
    config = _config(tmp_path, "recycled", seed=0)
    storage = open_storage(config.storage)
    first_life = _proposals(create_or_load_study(storage, config, worker_index=0), 4)
    second_life = _proposals(create_or_load_study(storage, config, worker_index=0), 4)
    assert not set(first_life) & set(second_life)


def _created(url: str) -> optuna.Study:
    """A study as `TINY_RUN` creates it, without training anything."""
    config = config_from_args(build_parser().parse_args([*TINY_RUN, "--storage", url]))
    return create_or_load_study(open_storage(url), config)


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["--synthetic-n", "400"], "synthetic_n 300 (asked 400)"),
        (["--sampler", "random"], "sampler 'tpe' (asked 'random')"),
        (["--pruner", "median"], "pruner 'hyperband' (asked 'median')"),
        (["--max-params", "50000"], "max_params None (asked 50000)"),
        (["--max-latency-ms", "5"], "max_latency_ms None (asked 5.0)"),
        (["--metric", "micro"], "metric 'macro' (asked 'micro')"),
        (["--image-size", "32"], "image_size 16 (asked 32)"),
        (["--space", "wide"], "space 'demo' (asked 'wide')"),
    ],
)
def test_resuming_with_a_setting_that_changes_the_measure_is_refused(
    tmp_path, monkeypatch, capsys, changed, expected
):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/resume.db"
    before = _created(url).user_attrs

    assert run.main([*TINY_RUN, "--trials", "1", "--storage", url, *changed]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: study 'demo' was created with ") and err.count("\n") == 1
    assert expected in err
    study = optuna.load_study(study_name="demo", storage=url)
    assert study.user_attrs == before and not study.trials  # nothing changed
    assert not (tmp_path / "data").exists()  # refused before any data was prepared


def test_budgets_workers_and_grace_period_may_change_on_resume(tmp_path):
    url = f"sqlite:///{tmp_path}/resume.db"
    study = _created(url)
    allowed = ["--trials", "50", "--budget-epochs", "9", "--workers", "3", "--no-warm-start",
               "--grace-period", "30", "--trials-per-process", "2",
               "--workers-per-gpu", "2"]  # fmt: skip
    config = config_from_args(build_parser().parse_args([*TINY_RUN, *allowed, "--storage", url]))
    check_resumable(study, config)
    compared = {"data", "image_size", "epochs", "space", "sampler", "pruner", "metric", "seed",
                "synthetic_n", "max_params", "max_latency_ms"}  # fmt: skip
    assert set(stored_settings(config)) == compared


def test_a_study_from_an_older_version_gains_the_settings_it_lacks(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    old = optuna.create_study(storage=url, study_name="demo", direction="maximize")
    for key, value in {"data": "synthetic", "image_size": 16, "space": "demo", "metric": "macro",
                       "epochs": 2, "synthetic_n": 300, "seed": 0}.items():  # fmt: skip
        old.set_user_attr(key, value)  # all that older versions stored
    args = [*TINY_RUN, "--storage", url]

    # its sampler is unknown: not compared, then recorded for the next resume
    resumed = config_from_args(build_parser().parse_args([*args, "--sampler", "random"]))
    study = create_or_load_study(open_storage(url), resumed)
    assert study.user_attrs["sampler"] == "random" and study.user_attrs["max_params"] is None
    with pytest.raises(ConfigError, match="sampler 'random' \\(asked 'tpe'\\)"):
        check_resumable(study, config_from_args(build_parser().parse_args(args)))


@dataclass(frozen=True)
class _WithExtra(RunConfig):
    # a setting declared here only, as a new one would be in RunConfig
    extra: int = setting(1, "a setting only this test declares", stored=True)


def test_a_setting_declared_once_reaches_the_flags_the_workers_and_the_resume_check(tmp_path):
    parser = argparse.ArgumentParser()
    add_setting_flags(parser, _WithExtra)
    assert parser.parse_args(["--extra", "2"]).extra == 2
    assert "a setting only this test declares (default: 1)" in " ".join(
        parser.format_help().split()
    )
    config = _WithExtra(storage=f"sqlite:///{tmp_path}/extra.db", space="demo", extra=2)
    assert config_from_json(config_to_json(config), _WithExtra) == config  # a worker's copy

    study = create_or_load_study(open_storage(config.storage), config)
    assert study.user_attrs["extra"] == 2
    with pytest.raises(ConfigError, match="extra 2 \\(asked 3\\)"):
        check_resumable(study, replace(config, extra=3))
