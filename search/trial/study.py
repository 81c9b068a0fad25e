"""The named, persistent study: created with its sampler and pruner, or found for refit."""

from __future__ import annotations

import numpy as np
import optuna

from search.config import DEFAULT_STUDY, RunConfig, check_study_name, stored_settings
from search.coordination.storage import mask_url, open_storage, retry_storage
from search.errors import ConfigError, StorageError
from search.trial.records import StudySettings
from search.trial.space import get_space

__all__ = [
    "STUDY_CHOICE_HELP",
    "check_resumable",
    "check_study_can_resume",
    "create_or_load_study",
    "load_existing_study",
    "make_pruner",
    "make_sampler",
    "sampler_seed",
]

STUDY_CHOICE_HELP = f"study name (default: the only study in the storage, else {DEFAULT_STUDY})"


def sampler_seed(seed: int, worker_index: int, trials_at_join: int) -> int:
    """A seed of its own for every (study seed, worker, join): `seed + worker_index` made seed
    s's worker 1 repeat seed s+1's worker 0, and a recycled worker repeat its own proposals."""
    return int(np.random.SeedSequence([seed, worker_index, trials_at_join]).generate_state(1)[0])


def make_sampler(
    config: RunConfig, worker_index: int = 0, trials_at_join: int = 0
) -> optuna.samplers.BaseSampler:
    seed = sampler_seed(config.seed, worker_index, trials_at_join)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "grid":
        return optuna.samplers.GridSampler(get_space(config.space).stored_grid(), seed=seed)
    # Constraints reach TPE through each trial's set_constraint (search/trial/objective.py).
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=max(3, min(10, config.expected_trials // 4)),
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
            pruner=make_pruner(config),
            load_if_exists=True,
        ),
        "open the study",
    )
    # seeded by how far the study has got, so a worker that rejoins draws new configurations
    trials_at_join = len(retry_storage(lambda: study.get_trials(deepcopy=False), "read trials"))
    study.sampler = make_sampler(config, worker_index, trials_at_join)
    check_resumable(study, config)
    # A new study stores every setting; one made by an older version gains those it lacks.
    attrs = study.user_attrs
    missing = {name: value for name, value in stored_settings(config).items() if name not in attrs}
    StudySettings.save(study, missing)
    return study


def check_resumable(study: optuna.Study, config: RunConfig) -> None:
    """ConfigError if the study was created with settings that `config` contradicts.

    A setting the study lacks (stored by an older version, which kept fewer) is not compared:
    what it was is unknown. The resumed run records it, so later runs are compared on it.
    """
    if StudySettings.stored_on(study) is None:
        return
    stored = study.user_attrs
    clashes = [
        f"{name} {stored[name]!r} (asked {value!r})"
        for name, value in stored_settings(config).items()
        if name in stored and stored[name] != value
    ]
    if clashes:
        raise ConfigError(
            f"study {config.study!r} was created with {', '.join(clashes)}: "
            "use the same settings or another --study"
        )


def check_study_can_resume(storage: optuna.storages.BaseStorage, config: RunConfig) -> None:
    """Before any data is prepared: a study of this name, if any, must match `config`."""
    names = retry_storage(lambda: optuna.get_all_study_names(storage), "list the studies")
    if config.study in names:
        study = retry_storage(
            lambda: optuna.load_study(study_name=config.study, storage=storage), "load the study"
        )
        check_resumable(study, config)


def load_existing_study(storage_url: str, name: str | None) -> optuna.Study:
    """The study `name` in the storage; with no name, the only study there, else the default.

    Raises StorageError (one line, password masked) when there is no such study.
    """
    if name is not None:
        check_study_name(name)
    storage = open_storage(storage_url, create=False)
    names = retry_storage(lambda: optuna.get_all_study_names(storage), "list the studies")
    where = mask_url(storage_url)
    if not names:
        raise StorageError(f"no study in {where}: run python -m search.run first")
    if name is None:
        if len(names) == 1:
            name = names[0]
        elif DEFAULT_STUDY in names:
            name = DEFAULT_STUDY
        else:
            raise StorageError(f"{where} holds several studies; pick one with --study: "
                               f"{', '.join(sorted(names))}")  # fmt: skip
    if name not in names:
        raise StorageError(f"no study {name!r} in {where} (it holds {', '.join(sorted(names))})")
    return retry_storage(
        lambda: optuna.load_study(study_name=name, storage=storage), "load the study"
    )
