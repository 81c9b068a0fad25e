"""`python -m search.refit`: train the best trial's configuration fully and export it.

    python -m search.refit [--study NAME] [--storage URL] [--max-epochs E] [--patience P]
        [--out DIR] [--no-savedmodel] [--max-params N] [--max-latency-ms T]

The best COMPLETE trial's configuration (with --max-params / --max-latency-ms: the best
among those whose recorded parameters and batch-1 latency fit, another point of the
study's trade-off) is trained on the train split with early stopping
on validation macro AUC (best weights restored). Per attribute, a decision threshold is
tuned on the validation split only where cross-validation inside that split shows it beats
0.5 (model.thresholds); elsewhere 0.5 is kept. The test split is scored once, at 0.5 and at
those thresholds, with 95% bootstrap intervals, per group (Male, Young) and beside the
notebook's figure and a base-rate model's, and the model goes to `studies/<study>/best/`
with its model card. The study records where it went.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from common import paths
from common.cli import fig, run_command, set_up_logging, short
from common.errors import UserError
from common.native_logs import start_backend_quietly
from common.paths import ARTIFACTS
from data import CelebaData
from model.card import CARD_NAME, DataRecord, GroupReport, ModelCard, SearchObjective
from model.card_text import (
    gap_line,
    interval_text,
    threshold_summary,
    training_stop,
    trust_summary,
)
from model.export import export_model, git_commit, package_versions
from model.groups import group_report
from model.intervals import split_intervals
from model.scoring import base_rate_scores, split_scores
from model.thresholds import choose_thresholds
from model.trust import trust_levels
from search.coordination.budget import RESERVED_ATTR
from search.coordination.storage import (
    STORAGE_HELP,
    mask_url,
    resolve_storage_url,
    retry_storage,
)
from search.trial.constraints import Constraints
from search.trial.records import ExportRecord, StudySettings, TrialRecord
from search.trial.space import TrialParams, decoded, get_space
from search.trial.study import STUDY_CHOICE_HELP, load_existing_study
from search.trial.study_data import data_for_study

if TYPE_CHECKING:
    import keras

    from model.training import TrainResult

__all__ = [
    "NoCompleteTrialError",
    "RefitResult",
    "best_complete_trial",
    "main",
    "print_figures",
    "refit",
]

log = logging.getLogger(__name__)

MAX_EPOCHS = 20  # the refit trains longer than a trial, stopped early by PATIENCE
PATIENCE = 3  # epochs without a better val macro AUC before it stops
PRINTED_GAPS = 5  # of the card's largest gaps between groups
UNCONSTRAINED = Constraints()


class NoCompleteTrialError(UserError):
    """Raised when a study has no COMPLETE trial to refit."""


@dataclass(frozen=True)
class RefitResult:
    export_dir: Path
    card: ModelCard
    model: keras.Model  # the trained model, as exported


def best_complete_trial(
    study: optuna.Study, constraints: Constraints = UNCONSTRAINED
) -> FrozenTrial:
    """The best COMPLETE trial that meets `constraints` (NoCompleteTrialError if none does).

    A trial without recorded figures (from before they were recorded) meets no constraint.
    """
    settings = StudySettings.stored_on(study)
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if settings is None or not _cut_by_budget(t, settings.epochs)
    ]
    trials = [t for t in complete if _meets(t, constraints)]
    if complete and not trials:
        raise NoCompleteTrialError(
            f"none of study {study.study_name!r}'s {len(complete)} COMPLETE trials meets "
            f"{_described(constraints)}; loosen it or run python -m search.run with it"
        )
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


def _cut_by_budget(trial: FrozenTrial, epochs: int) -> bool:
    """Older versions recorded a trial that the epoch budget stopped early as COMPLETE."""
    reserved = trial.user_attrs.get(RESERVED_ATTR)
    return reserved is not None and reserved < epochs


def _meets(trial: FrozenTrial, constraints: Constraints) -> bool:
    record = TrialRecord.of(trial)
    if constraints.max_params is not None and record.n_params is None:
        return False
    if constraints.max_latency_ms is not None and record.latency_ms is None:
        return False
    return constraints.feasible(trial)


def _described(constraints: Constraints) -> str:
    parts = []
    if constraints.max_params is not None:
        parts.append(f"--max-params {constraints.max_params:,}")
    if constraints.max_latency_ms is not None:
        parts.append(f"--max-latency-ms {constraints.max_latency_ms:g}")
    return " and ".join(parts)


def refit(
    study: optuna.Study,
    *,
    max_epochs: int = MAX_EPOCHS,
    patience: int = PATIENCE,
    out: str | Path | None = None,
    savedmodel: bool = True,
    verbose: int = 0,
    data: CelebaData | None = None,
    artifact_dir: str | Path = ARTIFACTS,
    constraints: Constraints = UNCONSTRAINED,
    budget_minutes: float | None = None,
    started: float | None = None,
) -> RefitResult:
    """Train the study's best COMPLETE configuration, score it, export it, record where.

    `budget_minutes`: no epoch starts that would end more than that many minutes after
    `started` (a `time.time()`; by default this call's start), judged by the epoch before;
    the best epoch's weights are kept, as when the patience runs out."""
    started = time.time() if started is None else started
    # Keras here, not at the top: `--help` and a mistyped study need no backend, and the
    # command starts it with TensorFlow's start-up lines quieted first (main)
    from model import default_dtype_policy, train
    from model.latency import measure_footprint

    if max_epochs < 1 or patience < 1:
        raise UserError(f"--max-epochs and --patience must be positive ({max_epochs}, {patience})")
    if budget_minutes is not None and not budget_minutes > 0:
        raise UserError(f"--budget-minutes must be positive, got {budget_minutes}")
    settings = _settings(study)
    trial = best_complete_trial(study, constraints)
    config = get_space(settings.space).params(trial.params)
    export_dir = Path(out) if out is not None else paths.export_dir(study.study_name)
    for folder in (export_dir, Path(artifact_dir)):
        _check_writable(folder)  # before training, not after
    data = data if data is not None else data_for_study(settings)
    log.info(
        "refit of trial %d: %s, up to %d epochs", trial.number, decoded(trial.params), max_epochs
    )
    footprint = measure_footprint(
        config.model, data.image_size, len(data.attr_names), dtype_policy=default_dtype_policy()
    )
    training_started = time.perf_counter()
    result = train(
        config.model,
        data,
        epochs=max_epochs,
        batch_size=config.batch_size,
        seed=settings.seed,
        patience=patience,
        verbose=verbose,
        deadline=None if budget_minutes is None else started + 60 * budget_minutes,
    )
    measured = {
        "training_seconds": round(time.perf_counter() - training_started, 2),
        "latency_ms": round(footprint.latency_ms, 3),
    }
    card = _card(study, trial, settings, config, data, result, max_epochs, patience, measured)
    card = export_model(result.model, card, export_dir, savedmodel=savedmodel)
    _record_export(study, export_dir, card, Path(artifact_dir))
    return RefitResult(export_dir=export_dir, card=card, model=result.model)


def _card(
    study: optuna.Study,
    trial: optuna.trial.FrozenTrial,
    settings: StudySettings,
    config: TrialParams,
    data: CelebaData,
    result: TrainResult,
    max_epochs: int,
    patience: int,
    measured: dict[str, float],
) -> ModelCard:
    """The refit model's card: where it came from, how it was trained, its test scores.

    `measured`: the training time and batch-1 latency that the caller measured.
    """
    return ModelCard(
        study=study.study_name,
        trial=trial.number,
        objective=SearchObjective(
            metric=f"validation {settings.metric} AUC",
            value=trial.value,
            search_epochs=settings.epochs,
        ),
        params=decoded(trial.params),
        model_params=config.model,
        batch_size=config.batch_size,
        image_size=data.image_size,
        attr_names=data.attr_names,
        **_scores(result.model, data, settings.seed),
        epochs_trained=len(result.history),
        best_epoch=result.best_epoch,
        max_epochs=max_epochs,
        patience=patience,
        stopped_by=result.stopped_by,
        n_params=result.n_params,
        **measured,
        data=DataRecord(
            source=settings.data,
            fingerprint=data.fingerprint,
            cache=str(data.path),
            counts={"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            seed=settings.seed,
        ),
        versions=package_versions(),
        git_commit=git_commit(),
    )


def _settings(study: optuna.Study) -> StudySettings:
    settings = StudySettings.stored_on(study)
    if settings is None:
        raise NoCompleteTrialError(
            f"study {study.study_name!r} was not created by search.run (it has no settings)"
        )
    return settings


def _check_writable(folder: Path) -> None:
    """UserError unless `folder` can be created (or written) here; writes nothing lasting."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"cannot write to {folder}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UserError(f"cannot write to {folder}: {exc.strerror or exc}") from None


def _scores(model: keras.Model, data: CelebaData, seed: int) -> dict:
    """Thresholds chosen on validation; the validation, test (with intervals, per group and
    trust levels) and base-rate figures."""
    from model import predict_proba

    names = data.attr_names
    val_probs = predict_proba(model, data.val.images)
    choices = choose_thresholds(data.val.labels, val_probs, names, seed=seed)
    thresholds = np.array([choices[name].threshold for name in names])
    test_probs = predict_proba(model, data.test.images)
    test = split_scores(data.test.labels, test_probs, names, thresholds)
    intervals = split_intervals(data.test.labels, test_probs, names, thresholds, seed=seed)
    return {
        "thresholds": {name: choices[name].threshold for name in names},
        "threshold_choices": choices,
        "validation": split_scores(data.val.labels, val_probs, names, thresholds),
        "test": test,
        "test_intervals": intervals,
        "groups": group_report(data.test.labels, test_probs, names, thresholds, seed=seed),
        "trust": trust_levels(test, intervals),
        "base_rate_test": base_rate_scores(data.train.labels, data.test.labels, names),
    }


def _record_export(
    study: optuna.Study, export_dir: Path, card: ModelCard, artifact_dir: Path
) -> None:
    ExportRecord(
        # absolute, links kept: behind `best` is a versioned folder that the next refit deletes
        path=str(export_dir.absolute()),
        trial=card.trial,
        test_micro_auc=card.test.micro_auc,
        test_macro_auc=card.test.macro_auc,
    ).save(study)
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


def print_figures(card: ModelCard, export_dir: Path) -> None:
    """The test figures with their intervals, beside the base-rate model's and the notebook's;
    how the thresholds were chosen, the largest gaps between groups, and what was written."""
    test, base = card.test, card.base_rate_test
    params = ", ".join(f"{k}={short(v)}" for k, v in card.params.items())
    print(
        f"refit of study {card.study!r}, trial #{card.trial} ({params}): "
        f"{card.epochs_trained} epochs ({training_stop(card)}), "
        f"{card.training_seconds:.0f} s, {card.n_params:,} parameters"
        + ("" if card.latency_ms is None else f", batch-1 latency {card.latency_ms:.2f} ms")
    )
    print(f"{'test split':<28}{'micro AUC':>10}{'macro AUC':>10}{'acc@0.5':>10}{'acc@chosen':>11}")
    rows = [
        ("this model", test, f"{test.mean_accuracy_tuned:.4f}"),
        ("base rate (train positives)", base, "-"),
    ]
    for label, m, tuned in rows:
        print(
            f"{label:<28}{fig(m.micro_auc):>10}{fig(m.macro_auc):>10}"
            f"{fig(m.mean_accuracy):>10}{tuned:>11}"
        )
        if m is test and card.test_intervals is not None:
            b = card.test_intervals
            print(f"{'  95% bootstrap interval':<28}{interval_text(b.micro_auc):>10}"
                  f"{interval_text(b.macro_auc):>10}{interval_text(b.mean_accuracy):>10}"
                  f"{interval_text(b.mean_accuracy_tuned):>11}")  # fmt: skip
    print(f"{'notebook (CelebA test)':<28}{card.notebook_test_micro_auc:>10.4f}{'-':>10}"
          f"{'-':>10}{'-':>11}")  # fmt: skip
    if card.data.source == "synthetic":
        print("note: trained and tested on synthetic faces; the notebook's figure is CelebA's")
    print(threshold_summary(card))
    if card.groups is not None:
        _print_gaps(card.groups)
    if card.trust:
        print(trust_summary(card))
    files = [name for name in (card.files.model, card.files.savedmodel) if name] + [CARD_NAME]
    print(f"exported to {export_dir}/ ({', '.join(files)})")


def _print_gaps(groups: GroupReport) -> None:
    sizes = {s.group: (s.n_with, s.n_without) for s in groups.splits}
    if not groups.largest:
        shown = ", ".join(f"{g} {n} / not {g} {m}" for g, (n, m) in sizes.items())
        print(f"gaps between groups: too few test images to say ({shown}; "
              f"{groups.min_group} per group needed)")  # fmt: skip
        return
    print("largest gaps between groups on the test split:")
    for gap in groups.largest[:PRINTED_GAPS]:
        print("  " + gap_line(gap, *sizes[gap.group]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.refit",
        description="Train the best trial's configuration fully and export it.",
    )
    add = parser.add_argument
    add("--study", help=STUDY_CHOICE_HELP)
    add("--storage", help=STORAGE_HELP)
    add("--max-epochs", type=int, default=MAX_EPOCHS, help=f"most epochs to train ({MAX_EPOCHS})")
    add("--patience", type=int, default=PATIENCE,
        help=f"stop after this many epochs without gain ({PATIENCE})")  # fmt: skip
    add("--budget-minutes", type=float,
        help="minutes from this command's start: start no epoch that the last one's length "
        "says would end after them; the best epoch's weights are kept (default none)")  # fmt: skip
    add("--out", type=Path, help="export folder (default studies/<study>/best)")
    add("--no-savedmodel", action="store_true", help="skip the TensorFlow SavedModel")
    add("--max-params", type=int, help="refit the best trial with at most this many parameters")
    add("--max-latency-ms", type=float, help="refit the best trial whose recorded batch-1 "
        "latency is at most this")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_up_logging()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # TF prints its own notices too
    return run_command(lambda: _refit(args))


def _refit(args: argparse.Namespace) -> None:
    started = time.time()  # --budget-minutes counts starting the backend and loading the data
    url = resolve_storage_url(args.storage)
    study = load_existing_study(url, args.study)
    print(f"study {study.study_name!r} on {mask_url(url)}", flush=True)
    start_backend_quietly()  # TensorFlow's CUDA lines on a machine without a GPU
    result = refit(
        study,
        max_epochs=args.max_epochs,
        patience=args.patience,
        out=args.out,
        savedmodel=not args.no_savedmodel,
        constraints=Constraints(args.max_params, args.max_latency_ms),
        budget_minutes=args.budget_minutes,
        started=started,
        verbose=1 if sys.stdout.isatty() else 0,  # a progress bar for a person; logs say the rest
    )
    print_figures(result.card, result.export_dir)


if __name__ == "__main__":
    raise SystemExit(main())
