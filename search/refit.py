"""`python -m search.refit`: train the best trial's configuration fully and export it.

    python -m search.refit [--study NAME] [--storage URL] [--max-epochs E] [--patience P]
        [--out DIR] [--no-savedmodel]

The best COMPLETE trial's configuration is trained on the train split with early stopping
on validation macro AUC (best weights restored). Per attribute, the decision threshold
that maximises validation accuracy is chosen. The test split is scored once, at 0.5 and
at those thresholds, beside the notebook's figure and a base-rate model's, and the model
goes to `studies/<study>/best/` with its model card. The study records where it went.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402

from data import CelebaData  # noqa: E402
from data.errors import UserError  # noqa: E402
from model import Metrics, evaluate, predict_proba, train  # noqa: E402
from model.export import (  # noqa: E402
    CARD_NAME,
    export_model,
    git_commit,
    package_versions,
)
from search.choose import load_existing_study  # noqa: E402
from search.space import params_from_dict  # noqa: E402
from search.storage import STORAGE_ENV, mask_url, resolve_storage_url, retry_storage  # noqa: E402
from search.study_data import data_for_study  # noqa: E402

__all__ = [
    "ARTIFACT_DIR",
    "NOTEBOOK_TEST_MICRO_AUC",
    "NoCompleteTrialError",
    "RefitResult",
    "base_rate_probs",
    "best_complete_trial",
    "main",
    "refit",
    "tune_thresholds",
]

log = logging.getLogger(__name__)

NOTEBOOK_TEST_MICRO_AUC = 0.9583  # the notebook's best configuration on CelebA's test split
ARTIFACT_DIR = Path("studies/artifacts")  # optuna-dashboard --artifact-dir studies/artifacts
EXPORT_ATTR = "best_export"
EXIT_USER_ERROR = 2


class NoCompleteTrialError(UserError):
    """Raised when a study has no COMPLETE trial to refit."""


@dataclass(frozen=True)
class RefitResult:
    export_dir: Path
    card: dict
    model: keras.Model  # the trained model, as exported


def best_complete_trial(study: optuna.Study) -> FrozenTrial:
    """The COMPLETE trial with the best value (NoCompleteTrialError when there is none)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not trials:
        counts = {s.name.lower(): 0 for s in TrialState}
        for trial in study.get_trials(deepcopy=False):
            counts[trial.state.name.lower()] += 1
        shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
        raise NoCompleteTrialError(
            f"study {study.study_name!r} has no COMPLETE trial to refit "
            f"({shown or 'no trials'}); run python -m search.run first"
        )
    pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(trials, key=lambda t: t.value)


def tune_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per attribute, the threshold t (present where p > t) of highest accuracy on `labels`.

    Every cut between two distinct sorted probabilities is tried at once (cumulative counts
    over the sorted column); among equally accurate cuts the one nearest 0.5 wins.
    """
    positive = np.asarray(labels).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    if positive.shape != probs.shape or probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"labels {positive.shape} and probs {probs.shape} must be equal (N, A)")
    order = np.argsort(probs, axis=0, kind="stable")
    p = np.take_along_axis(probs, order, axis=0)
    y = np.take_along_axis(positive, order, axis=0)
    zero = np.zeros((1, probs.shape[1]))
    # cut k (0..N): the k lowest probabilities are predicted absent, the others present
    negatives_below = np.vstack([zero, np.cumsum(~y, axis=0)])
    positives_below = np.vstack([zero, np.cumsum(y, axis=0)])
    correct = negatives_below + (y.sum(axis=0) - positives_below)
    below_all = np.minimum(p[:1] / 2, p[:1] - 1e-6)  # below 0 only for a column with p = 0
    cuts = np.vstack([below_all, (p[:-1] + p[1:]) / 2, (p[-1:] + 1) / 2])
    always = np.ones_like(zero, dtype=bool)
    valid = np.vstack([always, p[:-1] < p[1:], always])
    correct = np.where(valid, correct, -1)
    best = correct == correct.max(axis=0)
    chosen = np.argmax(np.where(best, -np.abs(cuts - 0.5), -np.inf), axis=0)
    return cuts[chosen, np.arange(probs.shape[1])]


def base_rate_probs(train_labels: np.ndarray, n: int) -> np.ndarray:
    """(n, A): every image gets each attribute's positive rate in the train split."""
    rates = np.asarray(train_labels, dtype=np.float64).mean(axis=0)
    return np.broadcast_to(rates, (n, rates.size))


def refit(
    study: optuna.Study,
    *,
    max_epochs: int = 20,
    patience: int = 3,
    out: str | Path | None = None,
    savedmodel: bool = True,
    verbose: int = 0,
    data: CelebaData | None = None,
    artifact_dir: str | Path = ARTIFACT_DIR,
) -> RefitResult:
    """Train the study's best COMPLETE configuration, score it, export it, record where."""
    if max_epochs < 1 or patience < 1:
        raise UserError(f"--max-epochs and --patience must be positive ({max_epochs}, {patience})")
    trial = best_complete_trial(study)
    attrs = study.user_attrs
    config = params_from_dict(trial.params, attrs["space"])
    data = data if data is not None else data_for_study(study)
    seed = int(attrs.get("seed", 0))
    log.info("refit of trial %d: %s, up to %d epochs", trial.number, trial.params, max_epochs)
    started = time.perf_counter()
    result = train(
        config.model,
        data,
        epochs=max_epochs,
        batch_size=config.batch_size,
        seed=seed,
        patience=patience,
        verbose=verbose,
    )
    training_seconds = time.perf_counter() - started
    names = data.attr_names
    val_probs = predict_proba(result.model, data.val.images)
    thresholds = tune_thresholds(data.val.labels, val_probs)
    test_probs = predict_proba(result.model, data.test.images)
    base = base_rate_probs(data.train.labels, len(data.test))
    card = {
        "study": study.study_name,
        "trial": trial.number,
        "objective": {
            "metric": f"validation {attrs.get('metric', 'macro')} AUC",
            "value": trial.value,
            "search_epochs": attrs.get("epochs"),
        },
        "params": dict(trial.params),
        "model_params": asdict(config.model),
        "batch_size": config.batch_size,
        "image_size": data.image_size,
        "attr_names": list(names),
        "thresholds": {name: float(t) for name, t in zip(names, thresholds, strict=True)},
        "validation": _scores(data.val.labels, val_probs, names, thresholds),
        "test": _scores(data.test.labels, test_probs, names, thresholds),
        "base_rate_test": _base_rate(data.test.labels, base, names),
        "notebook_test_micro_auc": NOTEBOOK_TEST_MICRO_AUC,
        "epochs_trained": len(result.history),
        "best_epoch": result.best_epoch,
        "max_epochs": max_epochs,
        "patience": patience,
        "training_seconds": round(training_seconds, 2),
        "n_params": result.n_params,
        "data": {
            "source": attrs.get("data"),
            "fingerprint": data.fingerprint,
            "cache": str(data.path),
            "counts": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "seed": seed,
        },
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    export_dir = Path(out) if out is not None else Path("studies") / study.study_name / "best"
    card = export_model(result.model, card, export_dir, savedmodel=savedmodel)
    _record_export(study, trial, export_dir, card, Path(artifact_dir))
    return RefitResult(export_dir=export_dir, card=card, model=result.model)


def _scores(
    labels: np.ndarray, probs: np.ndarray, names: tuple[str, ...], thresholds: np.ndarray
) -> dict:
    at_half = evaluate(labels, probs, names)
    with warnings.catch_warnings():  # the same single-class warning as just above
        warnings.simplefilter("ignore", UserWarning)
        tuned = evaluate(labels, probs, names, thresholds=thresholds)
    return {
        **_headline(at_half),
        "mean_accuracy_tuned": tuned.mean_accuracy,
        "per_attribute": {
            name: {
                "auc": _finite(at_half.per_attribute_auc[name]),
                "accuracy": at_half.per_attribute_accuracy[name],
                "accuracy_tuned": tuned.per_attribute_accuracy[name],
            }
            for name in names
        },
    }


def _headline(metrics: Metrics) -> dict:
    return {
        "micro_auc": _finite(metrics.micro_auc),
        "macro_auc": _finite(metrics.macro_auc),
        "mean_accuracy": metrics.mean_accuracy,
    }


def _base_rate(labels: np.ndarray, probs: np.ndarray, names: tuple[str, ...]) -> dict:
    # a constant per attribute: AUC 0.5 each, accuracy that of always guessing the majority
    with warnings.catch_warnings():  # single-class attributes were reported for the model
        warnings.simplefilter("ignore", UserWarning)
        metrics = evaluate(labels, probs, names)
    return {**_headline(metrics), "per_attribute_accuracy": metrics.per_attribute_accuracy}


def _finite(value: float | None) -> float | None:
    # JSON has no NaN: an undefined AUC (one class only) is stored as null
    return None if value is None or math.isnan(value) else float(value)


def _record_export(
    study: optuna.Study, trial: FrozenTrial, export_dir: Path, card: dict, artifact_dir: Path
) -> None:
    record = {
        "path": str(export_dir.resolve()),
        "trial": trial.number,
        "test_micro_auc": card["test"]["micro_auc"],
        "test_macro_auc": card["test"]["macro_auc"],
    }
    retry_storage(lambda: study.set_user_attr(EXPORT_ATTR, record), "record the export")
    # The card as an artifact too, so optuna-dashboard can show it (finished trials are frozen,
    # hence attached to the study).
    artifact_dir.mkdir(parents=True, exist_ok=True)
    store = optuna.artifacts.FileSystemArtifactStore(str(artifact_dir))
    retry_storage(
        lambda: optuna.artifacts.upload_artifact(
            artifact_store=store, file_path=str(export_dir / CARD_NAME), study_or_trial=study
        ),
        "upload the model card",
    )


def print_figures(card: dict, export_dir: Path) -> None:
    """The test figures beside the base-rate model's and the notebook's, and what was written."""
    test, base = card["test"], card["base_rate_test"]
    params = ", ".join(f"{k}={_short(v)}" for k, v in card["params"].items())
    print(
        f"refit of study {card['study']!r}, trial #{card['trial']} ({params}): "
        f"{card['epochs_trained']} epochs (best {card['best_epoch']}), "
        f"{card['training_seconds']:.0f} s, {card['n_params']:,} parameters"
    )
    print(f"{'test split':<28}{'micro AUC':>10}{'macro AUC':>10}{'acc@0.5':>9}{'acc@tuned':>10}")
    rows = [
        ("this model", test, f"{test['mean_accuracy_tuned']:.4f}"),
        ("base rate (train positives)", base, "-"),
    ]
    for label, m, tuned in rows:
        print(
            f"{label:<28}{_fig(m['micro_auc']):>10}{_fig(m['macro_auc']):>10}"
            f"{_fig(m['mean_accuracy']):>9}{tuned:>10}"
        )
    print(f"{'notebook (CelebA test)':<28}{card['notebook_test_micro_auc']:>10.4f}{'-':>10}"
          f"{'-':>9}{'-':>10}")  # fmt: skip
    if card["data"]["source"] == "synthetic":
        print("note: trained and tested on synthetic faces; the notebook's figure is CelebA's")
    files = [name for name in card["files"].values() if name] + [CARD_NAME]
    print(f"exported to {export_dir}/ ({', '.join(files)})")


def _fig(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.refit",
        description="Train the best trial's configuration fully and export it.",
    )
    add = parser.add_argument
    add("--study", help="study name (default: the only study in the storage, else celeba)")
    add("--storage", help=f"SQLAlchemy URL (default ${STORAGE_ENV}, else studies/celeba.db)")
    add("--max-epochs", type=int, default=20, help="most epochs to train (20)")
    add("--patience", type=int, default=3, help="stop after this many epochs without gain (3)")
    add("--out", type=Path, help="export folder (default studies/<study>/best)")
    add("--no-savedmodel", action="store_true", help="skip the TensorFlow SavedModel")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # TF prints its own notices too
    try:
        url = resolve_storage_url(args.storage)
        study = load_existing_study(url, args.study)
        print(f"study {study.study_name!r} on {mask_url(url)}", flush=True)
        result = refit(
            study,
            max_epochs=args.max_epochs,
            patience=args.patience,
            out=args.out,
            savedmodel=not args.no_savedmodel,
            verbose=1
            if sys.stdout.isatty()
            else 0,  # a progress bar for a person; logs say the rest
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_figures(result.card, result.export_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
