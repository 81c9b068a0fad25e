"""`python -m search.report`: a study as an HTML page with plots and a CSV, and a summary.

    python -m search.report [--study NAME] [--storage URL] [--out DIR]

Writes `studies/<study>/report/` (or DIR): index.html, PNGs of the optimisation history,
the parameter importances and every trial's validation curve (Optuna's own matplotlib
plots), every trial as trials.csv and, when the study's best trial was refitted and
exported, the exported model's per-attribute test AUC and accuracy. The page comes from
a Jinja2 template with autoescaping, so nothing a study or a card holds can inject markup.
The folder is built under a temporary name and swapped into place.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import optuna
import optuna.visualization.matplotlib as optuna_plots
from optuna.trial import FrozenTrial, TrialState

from common.atomic import install, temp_dir_for
from common.cli import fig, run_command, short
from common.errors import UserError
from common.paths import export_dir, report_dir
from model.card import CARD_NAME, GroupReport, ModelCard
from model.card_text import interval_text
from model.errors import ExportError
from model.export import read_card
from search.coordination.storage import STORAGE_HELP, mask_url, resolve_storage_url, retry_storage
from search.report.decisions import decisions_view
from search.report.tradeoff import pareto_front
from search.trial.records import ExportRecord, TrialRecord
from search.trial.study import STUDY_CHOICE_HELP, load_existing_study

__all__ = ["Report", "main", "write_report"]

log = logging.getLogger(__name__)

TOP_TABLE = 10  # rows of the best-trials table
MAX_LEGEND = 12  # trials named in the curves' legend; more are drawn without one
CSV_NAME = "trials.csv"
_BLUE, _ORANGE, _RED = "#1f77b4", "#ff7f0e", "#d62728"
_SECTIONS = {
    "history.png": ("Optimisation history", "Every complete trial's objective value and the "
                    "best so far."),
    "importances.png": ("Parameter importances", "How much each parameter explains of "
                        "the spread between the best trials and the rest (PED-ANOVA)."),
    "curves.png": ("Validation curves", "The value each trial reported after every epoch; "
                   "the pruner stopped the short ones."),
    "tradeoff.png": ("Accuracy against cost", "Each complete trial's validation macro AUC "
                     "against its batch-1 latency and its parameters; the line joins the "
                     "Pareto front (no other trial is both cheaper and better)."),
    "attributes.png": ("The exported model, attribute by attribute", "On the test split, "
                       "which the search never used to select."),
    "gaps.png": ("Who the model fails", "The largest gaps between groups on the test split "
                 "(the figure with the group attribute minus without it), with each gap's 95% "
                 "bootstrap interval and the groups' sizes; red: beyond sampling noise "
                 "(see below)."),
}  # fmt: skip
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("search.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_TEMPLATES.filters["fig"] = lambda value: "-" if value is None else f"{value:.4f}"


@dataclass
class Report:
    """What was written, for the terminal summary and for tests."""

    out: Path
    counts: dict[str, int]
    best: FrozenTrial | None
    images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    card: ModelCard | None = None
    export_folder: Path | None = None


def write_report(study: optuna.Study, out: str | Path, *, storage_label: str = "") -> Report:
    """Write the report folder `out` for `study` (replacing an older one atomically)."""
    trials = retry_storage(lambda: study.get_trials(deepcopy=False), "read the trials")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    ranked = sorted(complete, key=lambda t: t.value, reverse=maximize)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    report = Report(out=Path(out), counts=counts, best=ranked[0] if ranked else None)
    _find_export(study, report)
    metric = f"validation {study.user_attrs.get('metric', 'macro')} AUC"
    tmp = temp_dir_for(report.out)
    tmp.chmod(0o755)
    try:
        _draw(study, trials, complete, metric, report, tmp)
        if trials:
            study.trials_dataframe().to_csv(tmp / CSV_NAME, index=False)
        page = _page(study, report, ranked[:TOP_TABLE], metric, storage_label, bool(trials))
        (tmp / "index.html").write_text(page, encoding="utf-8")
        install(tmp, report.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        plt.close("all")
    return report


def _find_export(study: optuna.Study, report: Report) -> None:
    """The card of the study's export: where the study says it went, else the default."""
    record = ExportRecord.of(study)
    folder = Path(record.path) if record else export_dir(study.study_name)
    if not (folder / CARD_NAME).is_file():
        report.notes.append(
            "no refit yet: run python -m search.refit for the per-attribute figures"
        )
        return
    try:
        report.card = read_card(folder)
    except ExportError as err:
        # A card is a contract: a report must not quietly leave out a tampered export.
        raise UserError(
            f"the export's card in {folder} is unusable ({err}): run python -m search.refit again"
        ) from None
    report.export_folder = folder
    if report.best is not None and report.card.trial != report.best.number:
        report.notes.append(
            f"the export is of trial #{report.card.trial} but the best is now "
            f"#{report.best.number}: run search.refit again"
        )


def _draw(
    study: optuna.Study,
    trials: list[FrozenTrial],
    complete: list[FrozenTrial],
    metric: str,
    report: Report,
    folder: Path,
) -> None:
    with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if complete:
            _save(optuna_plots.plot_optimization_history(study, target_name=metric),
                  folder / "history.png")  # fmt: skip
            report.images.append("history.png")
        elif not trials:
            report.notes.append("the study has no trials yet")
        if _importances_can_be_told(study, complete, report.notes):
            _save(optuna_plots.plot_param_importances(study, target_name=metric),
                  folder / "importances.png")  # fmt: skip
            report.images.append("importances.png")
        if any(t.intermediate_values for t in trials):
            _save(_curves(study, metric), folder / "curves.png")
            report.images.append("curves.png")
        elif trials:
            report.notes.append("no trial reported a validation value yet: no curves")
    if _plot_tradeoff(complete, folder / "tradeoff.png"):
        report.images.append("tradeoff.png")
    if report.card is not None:
        _plot_attributes(report.card, folder / "attributes.png")
        report.images.append("attributes.png")
        if report.card.groups is not None and report.card.groups.largest:
            _plot_gaps(report.card.groups, folder / "gaps.png")
            report.images.append("gaps.png")


def _importances_can_be_told(
    study: optuna.Study, complete: list[FrozenTrial], notes: list[str]
) -> bool:
    varying = [n for n in {k for t in complete for k in t.params}
               if len({repr(t.params.get(n)) for t in complete}) > 1]  # fmt: skip
    if len(complete) < 2 or not varying:
        notes.append(
            "parameter importances need at least two complete trials with different "
            f"parameters ({len(complete)} complete): plot skipped"
        )
        return False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optuna.importance.get_param_importances(study)
    if any("importances will be equal" in str(w.message) for w in caught):
        notes.append("too few complete trials to tell the parameters' importances apart: skipped")
        return False
    return True


def _curves(study: optuna.Study, metric: str) -> plt.Axes:
    axes = optuna_plots.plot_intermediate_values(study)
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    if len(axes.get_lines()) > MAX_LEGEND:  # a legend of dozens of trials hides the plot
        axes.get_legend().remove()
    return axes


def _save(axes: plt.Axes, path: Path) -> None:
    figure = axes.figure
    figure.set_size_inches(8, 4.5)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _plot_attributes(card: ModelCard, path: Path) -> None:
    per = card.test.per_attribute
    names = sorted(card.attr_names, key=lambda n: per[n].auc or 0)
    auc = [per[n].auc if per[n].auc is not None else math.nan for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.24 * len(names) + 1.6), sharey=True)
    left.barh(names, [a - 0.5 for a in auc], left=0.5, color=_BLUE)
    left.axvline(0.5, color="black", linewidth=0.8)
    left.set_xlim(min([0.4, *(a - 0.02 for a in auc if not math.isnan(a))]), 1.0)
    _style(left, "Test AUC per attribute (0.5 = chance)", "AUC")
    right.barh(names, [per[n].accuracy_tuned for n in names], color=_ORANGE,
               label="at tuned thresholds")  # fmt: skip
    right.scatter([per[n].accuracy for n in names], names, color="black", s=10, zorder=3,
                  label="at 0.5")  # fmt: skip
    base = card.base_rate_test.per_attribute_accuracy
    right.scatter([base[n] for n in names], names, color=_RED, marker="|", s=120, zorder=4,
                  label="base rate (always the majority)")  # fmt: skip
    right.set_xlim(min([0.4, *(per[n].accuracy_tuned - 0.02 for n in names)]), 1.0)
    _style(right, "Test accuracy per attribute", "accuracy")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045), ncol=3, fontsize=8,
                 frameon=False)  # fmt: skip
    for ax in (left, right):
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", visible=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps the legend below the axes


def _plot_gaps(groups: GroupReport, path: Path) -> None:
    sizes = {s.group: (s.n_with, s.n_without) for s in groups.splits}
    gaps = list(reversed(groups.largest))  # largest at the top
    labels = [f"{g.attribute} {g.metric}\n{g.group} {sizes[g.group][0]} / not "
              f"{sizes[g.group][1]} images" for g in gaps]  # fmt: skip
    values = [g.gap for g in gaps]
    errors = [[g.gap - g.gap_low if g.gap_low is not None else 0 for g in gaps],
              [g.gap_high - g.gap if g.gap_high is not None else 0 for g in gaps]]  # fmt: skip
    colours = [_RED if g.beyond_noise else _BLUE for g in gaps]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(gaps) + 1.4))
    ax.barh(labels, values, xerr=errors, color=colours, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    _style(ax, "Largest gaps between groups (with minus without)", "gap")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_tradeoff(complete: list[FrozenTrial], path: Path) -> bool:
    """Val macro AUC vs latency and vs parameters with the front marked; False: no figures."""
    records = [(t.number, TrialRecord.of(t)) for t in complete]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    drawn = False
    for ax, cost, label in zip(
        axes, ("latency_ms", "n_params"), ("batch-1 latency (ms)", "parameters"), strict=True
    ):
        points = [(n, getattr(r, cost), r.val_macro_auc) for n, r in records
                  if getattr(r, cost) is not None and r.val_macro_auc is not None]  # fmt: skip
        if not points:
            continue
        drawn = True
        numbers, costs, aucs = zip(*points, strict=True)
        front = pareto_front(costs, aucs)
        ax.scatter(costs, aucs, color=_BLUE, alpha=0.6, label="trial")
        ax.plot([costs[i] for i in front], [aucs[i] for i in front], "o-", color=_RED,
                label="Pareto front")  # fmt: skip
        for i in front:
            ax.annotate(f"#{numbers[i]}", (costs[i], aucs[i]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))  # fmt: skip
        _style(ax, f"Validation macro AUC vs {label}", label)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("validation macro AUC")
    if drawn:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def _style(ax: plt.Axes, title: str, xlabel: str) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _page(
    study: optuna.Study,
    report: Report,
    top: list[FrozenTrial],
    metric: str,
    storage_label: str,
    with_csv: bool,
) -> str:
    attrs = study.user_attrs
    cards = _summary_cards(attrs, report)
    names = sorted({k for t in top for k in t.params})
    settings_line = (
        f"data {attrs.get('data', '?')}, {attrs.get('image_size', '?')} px, space "
        f"{attrs.get('space', '?')}, up to {attrs.get('epochs', '?')} epochs per trial"
    )
    return _TEMPLATES.get_template("report.html").render(
        study_name=study.study_name,
        storage_label=storage_label,
        settings_line=settings_line,
        metric=metric,
        cards=cards,
        notes=report.notes,
        sections=[
            {"image": image, "title": _SECTIONS[image][0], "caption": _SECTIONS[image][1]}
            for image in report.images
        ],
        top_headings=[
            "trial",
            metric,
            *names,
            "test micro AUC",
            "test macro AUC",
            "test mean acc.",
            "epochs",
            "s/epoch",
        ],  # fmt: skip
        top=[_trial_row(t, names) for t in top],
        card=report.card,
        export_folder=str(report.export_folder),
        decisions=None if report.card is None else decisions_view(report.card),
        csv=CSV_NAME if with_csv else None,
    )


def _summary_cards(attrs: dict, report: Report) -> list[tuple[str, str]]:
    """(figure, caption) pairs for the page's head: trials, best, budget, exported model."""
    counts = report.counts
    cards = [
        (counts["complete"], "complete trials"),
        (counts["pruned"], "pruned"),
        (counts["fail"], "failed"),
    ]
    if report.best is not None:
        cards.append((f"{report.best.value:.4f}", f"best, trial #{report.best.number}"))
    if "budget_epochs" in attrs:
        spent = f"{attrs.get('epochs_spent', 0)} of {attrs['budget_epochs']}"
        cards.append((spent, "epochs spent of the budget"))
    if report.card is not None:
        test, bounds = report.card.test, report.card.test_intervals
        macro = "" if bounds is None else f", 95% {interval_text(bounds.macro_auc)}"
        cards.append((fig(test.macro_auc), f"exported model: test macro AUC{macro}"))
        notebook = report.card.notebook_test_micro_auc
        micro = "" if bounds is None else f"95% {interval_text(bounds.micro_auc)}, "
        cards.append((fig(test.micro_auc), f"test micro AUC ({micro}notebook {notebook})"))
    return cards


def _trial_row(trial: FrozenTrial, names: list[str]) -> list[str]:
    record = TrialRecord.of(trial)
    return [
        f"#{trial.number}",
        f"{trial.value:.4f}",
        *(short(trial.params.get(n)) for n in names),
        fig(record.test_micro_auc),
        fig(record.test_macro_auc),
        fig(record.test_mean_accuracy),
        "-" if record.epochs_run is None else str(record.epochs_run),
        fig(record.seconds_per_epoch, 1),
    ]


def print_report(study: optuna.Study, report: Report) -> None:
    c = report.counts
    print(
        f"study {study.study_name!r}: {c['complete']} complete, {c['pruned']} pruned, "
        f"{c['fail']} failed"
    )
    if report.best is not None:
        print(f"best trial #{report.best.number}: {report.best.value:.4f}")
    if report.card is not None:
        test, notebook = report.card.test, report.card.notebook_test_micro_auc
        bounds = report.card.test_intervals
        macro = "" if bounds is None else f" (95% {interval_text(bounds.macro_auc)})"
        micro = "" if bounds is None else f" (95% {interval_text(bounds.micro_auc)})"
        print(f"exported model: test macro AUC {fig(test.macro_auc)}{macro}, micro AUC "
              f"{fig(test.micro_auc)}{micro} (notebook {notebook})")  # fmt: skip
    for note in report.notes:
        print(f"note: {note}")
    print(f"report: {report.out / 'index.html'} ({len(report.images)} plots)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.report",
        description="Write an HTML report of a study: history, importances, curves, export.",
    )
    add = parser.add_argument
    add("--study", help=STUDY_CHOICE_HELP)
    add("--storage", help=STORAGE_HELP)
    add("--out", type=Path, help="report folder (default studies/<study>/report)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_command(lambda: _report(args))


def _report(args: argparse.Namespace) -> None:
    url = resolve_storage_url(args.storage)
    study = load_existing_study(url, args.study)
    out = args.out if args.out is not None else report_dir(study.study_name)
    try:
        report = write_report(study, out, storage_label=mask_url(url))
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    print_report(study, report)


if __name__ == "__main__":
    raise SystemExit(main())
