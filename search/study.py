"""Create or load the named, persistent study with its sampler and pruner."""

from __future__ import annotations

import optuna

from search.config import RunConfig
from search.errors import ConfigError
from search.space import grid_search_space
from search.storage import retry_storage

__all__ = ["STUDY_SETTINGS", "create_or_load_study", "make_pruner", "make_sampler"]

# Settings stored on the study: refit and resumed runs read them back.
STUDY_SETTINGS = ("data", "image_size", "space", "metric", "epochs", "synthetic_n", "seed")


def make_sampler(config: RunConfig, worker_index: int = 0) -> optuna.samplers.BaseSampler:
    seed = config.seed + worker_index  # distinct streams, so workers do not propose the same point
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "grid":
        return optuna.samplers.GridSampler(grid_search_space(config.space), seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=max(3, min(10, config.trials // 4)),
        constant_liar=config.workers > 1,
    )


def make_pruner(config: RunConfig) -> optuna.pruners.BasePruner:
    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    return optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=config.epochs, reduction_factor=3
    )


def create_or_load_study(
    storage: optuna.storages.BaseStorage, config: RunConfig, worker_index: int = 0
) -> optuna.Study:
    """The study named in `config`, created on first use; a resumed study must match it."""
    study = retry_storage(
        lambda: optuna.create_study(
            storage=storage,
            study_name=config.study,
            direction="maximize",
            sampler=make_sampler(config, worker_index),
            pruner=make_pruner(config),
            load_if_exists=True,
        ),
        "open the study",
    )
    stored = study.user_attrs
    wanted = {name: getattr(config, name) for name in STUDY_SETTINGS}
    if "space" not in stored:
        for name, value in wanted.items():
            retry_storage(lambda n=name, v=value: study.set_user_attr(n, v), "set up the study")
        return study
    clashes = [
        f"{name} {stored.get(name)!r} (asked {wanted[name]!r})"
        for name in ("image_size", "space", "metric")
        if stored.get(name) != wanted[name]
    ]
    if clashes:
        raise ConfigError(
            f"study {config.study!r} was created with {', '.join(clashes)}: "
            "use the same settings or another --study"
        )
    return study
