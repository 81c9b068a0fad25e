"""Sampler seeds: no two workers, seeds or rejoins share a stream of configurations."""

from __future__ import annotations

import optuna

from search.config import RunConfig
from search.coordination.storage import open_storage
from search.trial.space import get_space
from search.trial.study import create_or_load_study

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
