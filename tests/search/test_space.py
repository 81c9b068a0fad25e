from __future__ import annotations

import itertools

import optuna
import pytest

from model import ModelParams
from search.config import RunConfig
from search.errors import ConfigError
from search.space import grid_search_space, params_from_dict, suggest, warm_start_params
from search.study import make_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_grid_sampler_walks_the_notebooks_whole_grid():
    config = RunConfig(space="seed", sampler="grid", trials=486)
    study = optuna.create_study(sampler=make_sampler(config), direction="maximize")
    seen = []

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, "seed")
        seen.append((params.model.conv_widths, params.batch_size, params.model.learning_rate))
        return 0.0

    study.optimize(objective, n_trials=486)
    grid = grid_search_space("seed")
    expected = {
        ((c1, c2, c3, c4), batch, lr)
        for c1, c2, c3, c4, batch, lr in itertools.product(*grid.values())
    }
    assert len(expected) == 3**4 * 3 * 2
    assert set(seen) == expected and len(seen) == len(expected)


def test_seed_space_keeps_the_notebooks_dense_layers():
    trial = optuna.trial.FixedTrial(
        {"c1": 32, "c2": 64, "c3": 128, "c4": 256, "batch_size": 16, "learning_rate": 1e-4}
    )
    params = suggest(trial, "seed")
    assert params.model == ModelParams(conv_widths=(32, 64, 128, 256), learning_rate=1e-4)
    assert params.batch_size == 16


def test_wide_space_samples_within_its_ranges():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, "wide")
        assert 16 <= params.batch_size <= 256
        assert 1e-5 <= params.model.learning_rate <= 3e-3
        assert 0.0 <= params.model.dropout <= 0.6
        study.tell(trial, 0.0)


@pytest.mark.parametrize("space", ["seed", "wide", "demo"])
def test_warm_starts_are_points_of_their_space(space):
    baseline, best = warm_start_params(space)
    for start in (baseline, best):
        params = suggest(optuna.trial.FixedTrial(start), space)
        assert params == params_from_dict(start, space)
    scale = 8 if space == "demo" else 1
    assert params_from_dict(baseline, space).model.conv_widths == tuple(
        w // scale for w in (64, 128, 256, 512)
    )
    assert params_from_dict(best, space).batch_size == 64


def test_grid_needs_the_seed_space_and_unknown_spaces_are_refused():
    with pytest.raises(ConfigError, match="--space seed"):
        grid_search_space("wide")
    with pytest.raises(ConfigError, match="unknown search space"):
        params_from_dict({}, "huge")
