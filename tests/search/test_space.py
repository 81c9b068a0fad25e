from __future__ import annotations

import itertools

import optuna
import pytest

from model import ModelParams
from search.config import RunConfig
from search.errors import ConfigError
from search.trial.space import SPACES, decoded, encoded, get_space
from search.trial.study import make_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_grid_sampler_walks_the_notebooks_whole_grid():
    config = RunConfig(space="seed", sampler="grid", trials=486)
    study = optuna.create_study(sampler=make_sampler(config), direction="maximize")
    seen = []

    def objective(trial: optuna.Trial) -> float:
        params = SPACES["seed"].sample(trial)
        seen.append((params.model.conv_widths, params.batch_size, params.model.learning_rate))
        return 0.0

    study.optimize(objective, n_trials=486)
    stored = {f"log2_{name}" for name in ("c1", "c2", "c3", "c4", "batch_size")}
    assert set(study.trials[0].params) == stored | {"learning_rate"}
    grid = SPACES["seed"].grid
    expected = {
        ((c1, c2, c3, c4), batch, lr)
        for c1, c2, c3, c4, batch, lr in itertools.product(*grid.values())
    }
    assert len(expected) == 3**4 * 3 * 2
    assert set(seen) == expected and len(seen) == len(expected)


def test_seed_space_keeps_the_notebooks_dense_layers():
    trial = optuna.trial.FixedTrial(
        encoded(
            {"c1": 32, "c2": 64, "c3": 128, "c4": 256, "batch_size": 16, "learning_rate": 1e-4}
        )
    )
    params = SPACES["seed"].sample(trial)
    assert params.model == ModelParams(conv_widths=(32, 64, 128, 256), learning_rate=1e-4)
    assert params.batch_size == 16


def test_wide_space_samples_within_its_ranges():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        params = SPACES["wide"].sample(trial)
        assert 16 <= params.batch_size <= 256
        assert 1e-5 <= params.model.learning_rate <= 3e-3
        assert 0.0 <= params.model.dropout <= 0.6
        study.tell(trial, 0.0)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_warm_starts_are_points_of_their_space(name):
    space = SPACES[name]
    baseline, best = space.warm_starts
    for start in (baseline, best):
        params = space.sample(optuna.trial.FixedTrial(encoded(start)))
        assert params == space.params(start)
    scale = 8 if name == "demo" else 1
    assert space.params(baseline).model.conv_widths == tuple(
        w // scale for w in (64, 128, 256, 512)
    )
    assert space.params(best).batch_size == 64


def test_wide_space_reaches_flips_and_label_smoothing():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        model = SPACES["wide"].sample(trial).model
        seen.add((model.flip, model.label_smoothing))
        study.tell(trial, 0.0)
    assert {flip for flip, _ in seen} == {False, True}
    assert {smoothing for _, smoothing in seen} == {0.0, 0.05, 0.1}


def test_grid_needs_a_space_with_a_grid_and_unknown_spaces_are_refused():
    with pytest.raises(ConfigError, match="--space seed"):
        RunConfig(space="wide", sampler="grid").validate()
    with pytest.raises(ConfigError, match="unknown search space 'huge'"):
        get_space("huge")
    with pytest.raises(ConfigError, match="unknown --space 'huge'"):
        RunConfig(space="huge").validate()


@pytest.mark.parametrize("name", sorted(SPACES))
def test_widths_and_batch_sizes_are_ordered_integers_of_powers_of_two(name):
    """TPE and the dashboard's plots see that 64 lies between 32 and 128 (categories hide it)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    params = SPACES[name].sample(trial)
    study.tell(trial, 0.0)
    frozen = study.trials[0]
    powers = [n for n in ("c1", "c2", "c3", "c4", "dense1", "dense2", "batch_size")
              if f"log2_{n}" in frozen.params]  # fmt: skip
    assert {"c1", "c2", "c3", "c4", "batch_size"} <= set(powers)
    for power in powers:
        distribution = frozen.distributions[f"log2_{power}"]
        assert isinstance(distribution, optuna.distributions.IntDistribution)
        assert distribution.step == 1 and not distribution.log
    assert not set(powers) & set(frozen.params)  # no categorical twin
    assert SPACES[name].params(frozen.params) == params
    assert decoded(frozen.params)["c1"] == params.model.conv_widths[0]


def test_an_older_studys_categorical_widths_still_load():
    old = {"c1": 64, "c2": 256, "c3": 512, "c4": 512, "batch_size": 64, "learning_rate": 1e-4}
    distributions = {
        name: optuna.distributions.CategoricalDistribution((value,)) for name, value in old.items()
    }
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(params=old, distributions=distributions, value=0.7))
    params = SPACES["seed"].params(study.trials[0].params)
    assert params == SPACES["seed"].params(encoded(old)) == SPACES["seed"].params(old)
    assert params.model.conv_widths == (64, 256, 512, 512) and params.batch_size == 64
