"""What a search stores beside Optuna's own fields, as typed records: one writer, one reader.

- `StudySettings`: how the study was created (data, image size, space, ...); resumed runs,
  refit and the report read them back. Which settings a study stores is declared on the
  search's config (search/config.py); this record is what readers need of them.
- `TrialRecord`: what a trial measured besides its value (epochs, speed, test figures,
  memory, why it failed); written as trial user attributes, shown by optuna-dashboard.
- `ExportRecord`: where refit exported the study's best model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from search.coordination.storage import retry_storage
from search.errors import StorageError

__all__ = ["BUDGET", "CONSTRAINT", "EXPORT_ATTR", "PRUNER", "TIME", "ExportRecord",
           "StudySettings", "TrialRecord"]  # fmt: skip

EXPORT_ATTR = "best_export"
# Why a trial was PRUNED. BUDGET: the epoch budget ran out before its --epochs, TIME: the
# run's --budget-minutes did; either way its score is not a configuration's worth and it
# never counts as complete.
PRUNER, BUDGET, TIME, CONSTRAINT = "pruner", "budget", "time", "constraint"


@dataclass(frozen=True)
class StudySettings:
    """What readers need of the settings a study was created with (study user attributes).

    The study stores every setting that `RunConfig` marks stored; these fields are the ones
    every study made by search.run holds, older versions' included, so they are required.
    """

    data: str  # a CelebA folder or "synthetic"
    image_size: int
    space: str
    metric: str  # "macro" or "micro" validation AUC
    epochs: int  # most epochs per trial
    synthetic_n: int
    seed: int

    @staticmethod
    def save(study: optuna.Study, settings: Mapping[str, Any]) -> None:
        """Store `settings` (search.config.stored_settings) on the study, by name."""
        for name, value in settings.items():
            retry_storage(lambda n=name, v=value: study.set_user_attr(n, v), "set up the study")

    @classmethod
    def stored_on(cls, study: optuna.Study) -> StudySettings | None:
        """The settings on `study`, None for a study that has none yet (being created)."""
        attrs = study.user_attrs
        names = [spec.name for spec in dataclasses.fields(cls)]
        if not any(name in attrs for name in names):
            return None
        missing = [name for name in names if name not in attrs]
        if missing:
            raise StorageError(
                f"study {study.study_name!r} was not created by search.run "
                f"(its settings lack {', '.join(missing)})"
            )
        return cls(**{name: attrs[name] for name in names})


@dataclass(frozen=True)
class TrialRecord:
    """A trial's measurements beside its value; None where a trial did not get that far."""

    epochs_run: int | None = None
    fit_seconds: float | None = None  # training only, validation excluded
    seconds_per_epoch: float | None = None
    images_per_second: float | None = None
    val_macro_auc: float | None = None
    val_micro_auc: float | None = None
    val_mean_accuracy: float | None = None
    val_auc_per_attribute: dict[str, float] | None = None
    test_macro_auc: float | None = None  # recorded, never used to select
    test_micro_auc: float | None = None
    test_mean_accuracy: float | None = None
    n_params: int | None = None
    latency_ms: float | None = None  # batch-1 prediction on the worker's device, median
    infeasible: str | None = None  # which constraint a configuration broke; never trained
    pruned_by: str | None = None  # why a PRUNED trial stopped: PRUNER, BUDGET, TIME, CONSTRAINT
    train_seconds: float | None = None  # model build, fit and val scoring
    test_eval_seconds: float | None = None
    trial_seconds: float | None = None
    worker_rss_mb: float | None = None  # the worker's resident memory after the trial
    fail_reason: str | None = None

    def save(self, trial: optuna.Trial) -> None:
        """Store the fields that are set on the running `trial`."""
        for name, value in dataclasses.asdict(self).items():
            if value is not None:
                retry_storage(lambda n=name, v=value: trial.set_user_attr(n, v), "record results")

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialRecord:
        attrs = trial.user_attrs
        return cls(**{spec.name: attrs.get(spec.name) for spec in dataclasses.fields(cls)})


@dataclass(frozen=True)
class ExportRecord:
    """Where the study's best model was exported, stored as one study user attribute."""

    path: str
    trial: int
    test_micro_auc: float | None
    test_macro_auc: float | None

    def save(self, study: optuna.Study) -> None:
        value = dataclasses.asdict(self)
        retry_storage(lambda: study.set_user_attr(EXPORT_ATTR, value), "record the export")

    @classmethod
    def of(cls, study: optuna.Study) -> ExportRecord | None:
        stored: Any = study.user_attrs.get(EXPORT_ATTR)
        if not isinstance(stored, dict):
            return None
        try:
            return cls(**stored)
        except TypeError:
            return None  # written by another version: treated as no export recorded
