"""The closing summary of a search: counts, the best trial, and where to look next."""

from __future__ import annotations

import os

import optuna
from optuna.trial import TrialState

from common.cli import short
from common.paths import DEFAULT_STORAGE
from data.face_drawing import LABEL_ONLY_ATTRIBUTES
from search.config import RunConfig
from search.coordination.budget import (
    BUDGET_ATTR,
    budget_spent,
    epoch_budget,
    epochs_reported,
    trained_trials,
    untrained_trials,
)
from search.coordination.storage import STORAGE_ENV, mask_url, open_storage
from search.trial.records import BUDGET, TIME, TrialRecord
from search.trial.space import decoded

__all__ = ["print_summary"]


def print_summary(config: RunConfig) -> None:
    study = optuna.load_study(study_name=config.study, storage=open_storage(config.storage))
    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    cut = [
        f"{n} stopped by the {name} budget"
        for name, reason in (("epoch", BUDGET), ("time", TIME))
        if (n := sum(TrialRecord.of(t).pruned_by == reason for t in trials))
    ]
    cut_text = f" ({', '.join(cut)})" if cut else ""
    print(
        f"study {config.study!r}: {counts[TrialState.COMPLETE]} complete, "
        f"{counts[TrialState.PRUNED]} pruned{cut_text}, {counts[TrialState.FAIL]} failed "
        f"(budget {config.budget_text()})"
    )
    budget = study.user_attrs.get(BUDGET_ATTR)
    if budget is not None:
        print(f"epochs spent: {epochs_reported(trials)} of the budget of {budget}")
    # workers that end with the budget unspent stopped for time (they stop a little early:
    # no trial starts that could not finish its first epoch)
    if config.deadline is not None and not budget_spent(
        study, config.trials, epoch_budget(config), config.untrained_limit
    ):
        print(
            f"stopped by --budget-minutes {config.budget_minutes:g} before the rest of the "
            "budget was spent: run the same command again to go on"
        )
    untrained = untrained_trials(trials)
    if untrained:
        print(f"{untrained} configuration(s) broke --max-params/--max-latency-ms: not trained")
    limit = config.untrained_limit
    trained = trained_trials(trials)
    short_of_trials = config.trials is not None and trained < config.trials
    if limit is not None and untrained >= limit and (config.trials is None or short_of_trials):
        got = (
            f"{trained} of the {config.trials} trials asked for were trained; "
            if short_of_trials
            else ""
        )
        print(
            f"stopped after {limit} untrained configurations, the most this budget allows: "
            f"{got}the limits leave few or no configurations of this space; loosen them to "
            "spend the rest of the budget"
        )
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        print("no trial completed: nothing to refit")
        return
    best = max(complete, key=lambda t: t.value)
    record = TrialRecord.of(best)
    params = ", ".join(f"{k}={short(v)}" for k, v in decoded(best.params).items())
    print(f"best trial #{best.number}: validation {config.metric} AUC {best.value:.4f} ({params})")
    drawn = _drawn_macro_auc(record) if config.data == "synthetic" else None
    if drawn is not None:
        print(
            f"  validation macro AUC over the attributes drawn in the synthetic faces: {drawn:.4f}"
        )
    if record.test_macro_auc is not None:
        print(
            f"  recorded, not used to select: test macro AUC {record.test_macro_auc:.4f}, "
            f"test micro AUC {record.test_micro_auc:.4f}, "
            f"test mean accuracy {record.test_mean_accuracy:.4f}"
        )
    # refit finds the storage the same way: --storage, else $OPTUNA_STORAGE, else the default
    implicit = config.storage in (DEFAULT_STORAGE, os.environ.get(STORAGE_ENV))
    storage_flag = "" if implicit else " --storage URL"
    print("next:")
    print(f"  optuna-dashboard {mask_url(config.storage)}   (or python -m search.dashboard)")
    print(f"  python -m search.refit --study {config.study}{storage_flag}")


def _drawn_macro_auc(record: TrialRecord) -> float | None:
    """Macro AUC over the attributes the synthetic faces show (the others are coin flips)."""
    per_attribute = record.val_auc_per_attribute or {}
    drawn = [auc for name, auc in per_attribute.items() if name not in LABEL_ONLY_ATTRIBUTES]
    return sum(drawn) / len(drawn) if drawn else None
