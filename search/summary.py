"""The closing summary of a search: counts, the best trial, and where to look next."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from search.config import RunConfig
from search.storage import DEFAULT_STORAGE, mask_url, open_storage

__all__ = ["print_summary"]


def print_summary(config: RunConfig) -> None:
    study = optuna.load_study(study_name=config.study, storage=open_storage(config.storage))
    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    print(
        f"study {config.study!r}: {counts[TrialState.COMPLETE]} complete, "
        f"{counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAIL]} failed "
        f"(budget {config.trials} finished trials)"
    )
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        print("no trial completed: nothing to refit")
        return
    best = max(complete, key=lambda t: t.value)
    attrs = best.user_attrs
    params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in best.params.items())  # fmt: skip
    print(f"best trial #{best.number}: validation {config.metric} AUC {best.value:.4f} ({params})")
    if "test_macro_auc" in attrs:
        print(
            f"  recorded, not used to select: test macro AUC {attrs['test_macro_auc']:.4f}, "
            f"test micro AUC {attrs['test_micro_auc']:.4f}, "
            f"test mean accuracy {attrs['test_mean_accuracy']:.4f}"
        )
    storage_flag = "" if config.storage == DEFAULT_STORAGE else " --storage URL"
    print("next:")
    print(f"  optuna-dashboard {mask_url(config.storage)}   (or python -m search.dashboard)")
    print(f"  python -m search.refit --study {config.study}{storage_flag}")
