"""`python -m search.report`: a study as an HTML page with plots and a CSV, and a summary.

    python -m search.report [--study NAME] [--storage URL] [--out DIR]

Writes `studies/<study>/report/` (or DIR): index.html, PNGs of the optimisation history
(complete and pruned trials), the parameter importances (Optuna's plot) and every trial's
validation curve, every trial as trials.csv (nested values as JSON) and, when the study's
best trial was refitted and exported, the exported model's per-attribute test AUC (with its
intervals) and accuracy. Every headline figure names the data it was measured on. The page
comes from a Jinja2 template with autoescaping, so nothing a study or a card holds can inject
markup.
The folder is built under a temporary name and swapped into place.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import optuna
import optuna.visualization.matplotlib as optuna_plots
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from optuna.trial import FrozenTrial, TrialState

from common.atomic import install, temp_dir_for
from common.cli import fig, main_of, short
from common.errors import UserError
from common.paths import export_dir, report_dir
from model.card import CARD_NAME, GroupReport, ModelCard
from model.card_text import interval_text, training_stop
from model.errors import ExportError
from model.export import read_card
from search.coordination.budget import epochs_reported
from search.coordination.storage import STORAGE_HELP, mask_url, resolve_storage_url, retry_storage
from search.report.decisions import decisions_view
from search.report.tradeoff import pareto_front
from search.trial.records import TIME, ExportRecord, TrialRecord
from search.trial.space import decoded
from search.trial.study import STUDY_CHOICE_HELP, load_existing_study

__all__ = [
    "Report",
    "attributes_figure",
    "curves_figure",
    "history_figure",
    "history_points",
    "main",
    "notebook_caveat",
    "source_text",
    "write_csv",
    "write_report",
]

log = logging.getLogger(__name__)

TOP_TABLE = 10  # rows of the best-trials table
TOP_CURVES = 4  # the best trials' curves drawn in colour and named; the rest are grey
# Importances from fewer complete trials than this are read as a hint, not a ranking: with a
# handful of trials one parameter can take nearly all of the spread by chance.
IMPORTANCE_MIN_TRIALS = 20
CSV_NAME = "trials.csv"
_BLUE, _ORANGE, _RED, _GREEN = "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c"
_GREY, _LIGHT_GREY = "#8c8c8c", "#c8c8c8"
_SECTIONS = {
    "history.png": ("Optimisation history", "Every complete trial's objective value and the "
                    "best so far; pruned trials (stopped early by the pruner, the epoch budget "
                    "or the time budget) at the last value they reported, which is not a "
                    "final score."),
    "importances.png": ("Parameter importances", "How much each parameter explains of "
                        "the spread between the best trials and the rest (PED-ANOVA)."),
    "curves.png": ("Validation curves", "The value each trial reported after every epoch: "
                   "the best trials in colour, the others grey (pruned ones dashed)."),
    "tradeoff.png": ("Accuracy against cost", "Each complete trial's validation macro AUC "
                     "against its batch-1 latency and its parameters; the line joins the "
                     "Pareto front (no other trial is both cheaper and better). A trial's "
                     "latency is one figure, the median of 5 warm predictions measured once "
                     "on its worker while other trials may have been training: no spread was "
                     "recorded, so differences of a fraction of a millisecond may be load."),
    "attributes.png": ("The exported model, attribute by attribute", "On the test split, "
                       "which the search never used to select. AUC bars carry their 95% "
                       "bootstrap intervals (none where an attribute has too few of one class "
                       "to resample); accuracy has no per-attribute interval on the card."),
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
    caveats: dict[str, str] = field(default_factory=dict)  # image -> what to read it with
    card: ModelCard | None = None
    export_folder: Path | None = None
    cut_by_time: int = 0  # trials pruned when a run's --budget-minutes ran out
    epochs_spent: int = 0  # epochs reported over the whole study


def write_report(study: optuna.Study, out: str | Path, *, storage_label: str = "") -> Report:
    """Write the report folder `out` for `study` (replacing an older one atomically)."""
    trials = retry_storage(lambda: study.get_trials(deepcopy=False), "read the trials")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    ranked = sorted(complete, key=lambda t: t.value, reverse=maximize)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    report = Report(out=Path(out), counts=counts, best=ranked[0] if ranked else None)
    report.cut_by_time = sum(TrialRecord.of(t).pruned_by == TIME for t in trials)
    report.epochs_spent = epochs_reported(trials)
    _find_export(study, report)
    metric = f"validation {study.user_attrs.get('metric', 'macro')} AUC"
    tmp = temp_dir_for(report.out)
    tmp.chmod(0o755)
    try:
        _draw(study, trials, ranked, metric, report, tmp)
        if trials:
            write_csv(study, tmp / CSV_NAME)
        page = _page(study, report, ranked[:TOP_TABLE], metric, storage_label, bool(trials))
        (tmp / "index.html").write_text(page, encoding="utf-8")
        install(tmp, report.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        plt.close("all")
    return report


def write_csv(study: optuna.Study, path: Path) -> None:
    """Every trial as a row; nested values (per-attribute AUCs, ...) as JSON, which any
    reader can parse, not as Python's repr."""
    frame = study.trials_dataframe()
    for column in frame.columns[frame.dtypes == "object"]:
        frame[column] = frame[column].map(
            lambda v: json.dumps(v) if isinstance(v, dict | list | tuple) else v
        )
    frame.to_csv(path, index=False)


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
    ranked: list[FrozenTrial],
    metric: str,
    report: Report,
    folder: Path,
) -> None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    history = history_figure(trials, study.direction, metric)
    if history is not None:
        history.savefig(folder / "history.png", dpi=110)
        plt.close(history)
        report.images.append("history.png")
    elif not trials:
        report.notes.append("the study has no trials yet")
    # Optuna marks its matplotlib plots experimental, and its plot would leave its style set
    with warnings.catch_warnings(), plt.style.context("default"):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if _importances_can_be_told(study, complete, report.notes):
            axes = optuna_plots.plot_param_importances(study, target_name=metric)
            if len(complete) < IMPORTANCE_MIN_TRIALS:
                report.caveats["importances.png"] = _importance_caveat(len(complete))
                axes.set_title(f"Hyperparameter importances\nfrom only {len(complete)} "
                               "complete trials: a rough hint", loc="left")  # fmt: skip
            _save(axes, folder / "importances.png")
            report.images.append("importances.png")
    if any(t.intermediate_values for t in trials):
        figure = curves_figure(trials, ranked[:TOP_CURVES], metric)
        figure.savefig(folder / "curves.png", dpi=110)
        plt.close(figure)
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


def _importance_caveat(n_complete: int) -> str:
    return (
        f"These importances come from {n_complete} complete trials (fewer than "
        f"{IMPORTANCE_MIN_TRIALS}): with so few, one parameter can take most of the spread by "
        "chance and another run of the search may rank them differently. Read them as a hint."
    )


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


def history_points(
    trials: list[FrozenTrial], direction: optuna.study.StudyDirection
) -> dict[str, list[tuple[int, float]]]:
    """(trial number, value) per series of the history plot: complete trials at their value,
    the best complete value so far, and pruned trials at the last value they reported."""
    better = max if direction == optuna.study.StudyDirection.MAXIMIZE else min
    points: dict[str, list[tuple[int, float]]] = {"complete": [], "best": [], "pruned": []}
    best: float | None = None
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            points["complete"].append((trial.number, trial.value))
            best = trial.value if best is None else better(best, trial.value)
            points["best"].append((trial.number, best))
        elif trial.state == TrialState.PRUNED and trial.intermediate_values:
            last = max(trial.intermediate_values)
            points["pruned"].append((trial.number, trial.intermediate_values[last]))
    return points


def history_figure(
    trials: list[FrozenTrial], direction: optuna.study.StudyDirection, metric: str
) -> plt.Figure | None:
    """Complete and pruned trials against their number; None where no trial has a value."""
    points = history_points(trials, direction)
    if not points["complete"] and not points["pruned"]:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if points["pruned"]:
        ax.scatter(*zip(*points["pruned"], strict=True), marker="x", color=_GREY, zorder=2,
                   label=f"pruned ({len(points['pruned'])}): last value reported")  # fmt: skip
    if points["complete"]:
        ax.scatter(*zip(*points["complete"], strict=True), color=_BLUE, zorder=3,
                   label=f"complete ({len(points['complete'])}): final value")  # fmt: skip
        ax.step(*zip(*points["best"], strict=True), where="post", color=_RED, zorder=4,
                label="best complete so far")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(ax, "Optimisation history", "trial")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def curves_figure(trials: list[FrozenTrial], top: list[FrozenTrial], metric: str) -> plt.Figure:
    """Every trial's per-epoch values: the best few in colour and named, the rest grey, so a
    legend of a handful of entries tells the curves apart however many trials there are."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    named = {t.number for t in top}
    rest: dict[str, plt.Line2D] = {}
    for trial in trials:
        if trial.number in named or not trial.intermediate_values:
            continue
        steps = sorted(trial.intermediate_values)
        finished = trial.state == TrialState.COMPLETE
        # markers, so that a trial pruned after its first epoch still shows as a point
        (line,) = ax.plot(steps, [trial.intermediate_values[s] for s in steps], marker=".",
                          color=_GREY if finished else _LIGHT_GREY,
                          linestyle="-" if finished else "--", linewidth=1, zorder=1)  # fmt: skip
        rest.setdefault("other complete trials" if finished else "pruned or unfinished", line)
    colours = (_RED, _BLUE, _ORANGE, _GREEN)  # as many as TOP_CURVES
    best: list[tuple[plt.Line2D, str]] = []
    for rank, trial in enumerate(top):
        steps = sorted(trial.intermediate_values)
        (line,) = ax.plot(steps, [trial.intermediate_values[s] for s in steps], marker="o",
                          markersize=3, color=colours[rank], linewidth=2.4 if rank == 0 else 1.4,
                          zorder=3 + len(top) - rank)  # fmt: skip
        name = f"best: #{trial.number}" if rank == 0 else f"#{trial.number}"
        best.append((line, f"{name} ({trial.value:.4f})"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(ax, "Validation value after every epoch", "epoch")
    ax.set_ylabel(metric)
    ax.legend([h for h, _ in best] + list(rest.values()), [n for _, n in best] + list(rest),
              fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # fmt: skip
    fig.tight_layout()
    return fig


def _save(axes: plt.Axes, path: Path) -> None:
    figure = axes.figure
    figure.set_size_inches(8, 4.5)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _plot_attributes(card: ModelCard, path: Path) -> None:
    fig = attributes_figure(card)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps the legend below the axes
    plt.close(fig)


def attributes_figure(card: ModelCard) -> plt.Figure:
    """Test AUC (with its 95% intervals) and accuracy per attribute, bars from 0 so their
    lengths compare; the data source in the titles."""
    per = card.test.per_attribute
    names = sorted(card.attr_names, key=lambda n: per[n].auc or 0)
    auc = [per[n].auc if per[n].auc is not None else math.nan for n in names]
    bounds = {} if card.test_intervals is None else card.test_intervals.per_attribute_auc
    # an attribute without an interval (too few of one class) gets no whisker, not a zero one
    errors = [[a - b.low, b.high - a] if (b := bounds.get(n)) is not None and not math.isnan(a)
              else [math.nan, math.nan] for n, a in zip(names, auc, strict=True)]  # fmt: skip
    source = source_text(card.data.source)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.24 * len(names) + 1.6), sharey=True)
    left.barh(names, auc, color=_BLUE, xerr=np.array(errors).T, ecolor="black",
              error_kw={"elinewidth": 0.8, "capsize": 2})  # fmt: skip
    left.axvline(0.5, color="black", linewidth=0.8, linestyle="--")
    left.set_xlim(0, 1.0)
    _style(left, f"Test AUC per attribute, {source}\n(95% intervals; dashed: chance)", "AUC")
    right.barh(names, [per[n].accuracy_tuned for n in names], color=_ORANGE,
               label="at tuned thresholds")  # fmt: skip
    right.scatter([per[n].accuracy for n in names], names, color="black", s=10, zorder=3,
                  label="at 0.5")  # fmt: skip
    base = card.base_rate_test.per_attribute_accuracy
    right.scatter([base[n] for n in names], names, color=_RED, marker="|", s=120, zorder=4,
                  label="base rate (always the majority)")  # fmt: skip
    right.set_xlim(0, 1.0)
    _style(right, f"Test accuracy per attribute, {source}", "accuracy")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045), ncol=3, fontsize=8,
                 frameon=False)  # fmt: skip
    for ax in (left, right):
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def _plot_gaps(groups: GroupReport, path: Path) -> None:
    fig = gaps_figure(groups)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps the legend below the axes
    plt.close(fig)


def gaps_figure(groups: GroupReport) -> plt.Figure:
    """The largest gaps between groups with their 95% intervals; the colours say which
    intervals leave out 0, in a legend on the image itself."""
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
    ax.legend(
        handles=[Patch(color=_RED, label="beyond noise: the 95% interval leaves out 0"),
                 Patch(color=_BLUE, label="within noise: the interval holds 0")],
        fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False,
    )  # fmt: skip
    fig.tight_layout()
    return fig


def _plot_tradeoff(complete: list[FrozenTrial], path: Path) -> bool:
    """Val macro AUC vs latency and vs parameters with the front marked; False: no figures."""
    records = [(t.number, TrialRecord.of(t)) for t in complete]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    drawn, labels = False, []
    for ax, cost, label in zip(
        axes,
        ("latency_ms", "n_params"),
        ("batch-1 latency (ms, measured once per trial)", "parameters"),
        strict=True,
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
        front_labels = [((costs[i], aucs[i]), f"#{numbers[i]}") for i in front]
        labels.append((ax, front_labels, list(zip(costs, aucs, strict=True))))
        # from 0: costs compare as ratios, and a zoomed axis turns noise into gaps
        ax.set_xlim(0, 1.08 * max(costs))
        _style(ax, f"Validation macro AUC vs {label.split(' (')[0]}", label)
        # below the axes: the front's points sit in any corner
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
                  frameon=False)  # fmt: skip
    axes[0].set_ylabel("validation macro AUC")
    if drawn:
        fig.tight_layout()
        for ax, points, markers in labels:  # once the layout is fixed: label boxes are final
            _place_labels(ax, points, markers)
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


# Where a point's label may go, tried in turn: right above, right below, left above, ...
_LABEL_SPOTS = (
    (4, 3, "left"), (4, -11, "left"), (-4, 3, "right"), (-4, -11, "right"),
    (4, 12, "left"), (4, -20, "left"), (-4, 12, "right"), (-4, -20, "right"),
)  # fmt: skip


def _place_labels(
    ax: plt.Axes,
    points: list[tuple[tuple[float, float], str]],
    markers: Sequence[tuple[float, float]] = (),
) -> None:
    """Label each point at the first spot that covers no label already placed and no marker
    (the front's points often sit close together); the first spot where all are taken."""
    renderer = ax.figure.canvas.get_renderer()
    radius = 4  # pixels around a marker's centre that a label must leave free
    taken = [
        Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
        for x, y in ax.transData.transform(np.reshape(markers, (-1, 2)))
    ]
    for xy, text in points:
        for dx, dy, align in _LABEL_SPOTS:
            note = ax.annotate(text, xy, fontsize=7, textcoords="offset points",
                               xytext=(dx, dy), ha=align)  # fmt: skip
            box = note.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                break
            note.remove()
        else:
            dx, dy, align = _LABEL_SPOTS[0]
            note = ax.annotate(text, xy, fontsize=7, textcoords="offset points",
                               xytext=(dx, dy), ha=align)  # fmt: skip
            box = note.get_window_extent(renderer)
        taken.append(box)


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
    cards = _summary_cards(attrs, report, metric)
    names = sorted({k for t in top for k in decoded(t.params)})
    settings_line = (
        f"data: {source_text(attrs.get('data'))}, {attrs.get('image_size', '?')} px, space "
        f"{attrs.get('space', '?')}, up to {attrs.get('epochs', '?')} epochs per trial"
    )
    return _TEMPLATES.get_template("report.html").render(
        study_name=study.study_name,
        storage_label=storage_label,
        settings_line=settings_line,
        study_source=source_text(attrs.get("data")),
        metric=metric,
        cards=cards,
        notes=report.notes,
        sections=[
            {
                "image": image,
                "title": _SECTIONS[image][0],
                "caption": _SECTIONS[image][1],
                "caveat": report.caveats.get(image),
            }
            for image in report.images
        ],  # fmt: skip
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
        card_source=None if report.card is None else source_text(report.card.data.source),
        training_stop=None if report.card is None else training_stop(report.card),
        notebook_caveat=None if report.card is None else notebook_caveat(report.card),
        export_folder=str(report.export_folder),
        decisions=None if report.card is None else decisions_view(report.card),
        csv=CSV_NAME if with_csv else None,
    )


def source_text(source: str | None) -> str:
    """What a study's or a card's data source (a CelebA folder or "synthetic") names."""
    if source is None:
        return "unrecorded data"
    return "synthetic faces" if source == "synthetic" else f"CelebA ({source})"


def notebook_caveat(card: ModelCard) -> str | None:
    """Why the notebook's figure does not compare with a card's, None where it does."""
    if card.data.source != "synthetic":
        return None
    return (
        "trained and tested on synthetic faces; the notebook's figure is CelebA's, "
        "so the two do not compare"
    )


def _summary_cards(attrs: dict, report: Report, metric: str) -> list[tuple[str, str]]:
    """(figure, caption) pairs for the page's head: trials, best, budget, exported model;
    every score says which data it was measured on."""
    counts = report.counts
    cards = [
        (counts["complete"], "complete trials"),
        (counts["pruned"], "pruned"),
        (counts["fail"], "failed"),
    ]
    if report.best is not None:
        cards.append((f"{report.best.value:.4f}", f"best {metric}, trial "
                      f"#{report.best.number}, on {source_text(attrs.get('data'))}"))  # fmt: skip
    if "budget_epochs" in attrs:
        # counted from the trials: the stored figure is as of the study's last claim
        spent = f"{report.epochs_spent} of {attrs['budget_epochs']}"
        cards.append((spent, "epochs spent of the budget"))
    if report.cut_by_time:
        cards.append((report.cut_by_time, "pruned when --budget-minutes ran out"))
    if report.card is not None:
        card = report.card
        test, bounds, source = card.test, card.test_intervals, source_text(card.data.source)
        macro = "" if bounds is None else f", 95% {interval_text(bounds.macro_auc)}"
        micro = "" if bounds is None else f", 95% {interval_text(bounds.micro_auc)}"
        cards.append((fig(test.macro_auc), f"exported model: test macro AUC on {source}{macro}"))
        cards.append((fig(test.micro_auc), f"exported model: test micro AUC on {source}{micro}"))
        caveat = notebook_caveat(card)
        cards.append((fig(card.notebook_test_micro_auc), "the notebook's test micro AUC, on "
                      f"CelebA{'' if caveat is None else f' ({caveat})'}"))  # fmt: skip
    return cards


def _trial_row(trial: FrozenTrial, names: list[str]) -> list[str]:
    record = TrialRecord.of(trial)
    return [
        f"#{trial.number}",
        f"{trial.value:.4f}",
        *(short(decoded(trial.params).get(n)) for n in names),
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
        print(f"best trial #{report.best.number}: {report.best.value:.4f} "
              f"({source_text(study.user_attrs.get('data'))})")  # fmt: skip
    if report.card is not None:
        test, notebook = report.card.test, report.card.notebook_test_micro_auc
        bounds = report.card.test_intervals
        macro = "" if bounds is None else f" (95% {interval_text(bounds.macro_auc)})"
        micro = "" if bounds is None else f" (95% {interval_text(bounds.micro_auc)})"
        print(f"exported model on {source_text(report.card.data.source)}: test macro AUC "
              f"{fig(test.macro_auc)}{macro}, micro AUC {fig(test.micro_auc)}{micro} "
              f"(notebook on CelebA {notebook})")  # fmt: skip
        caveat = notebook_caveat(report.card)
        if caveat is not None:
            print(f"note: {caveat}")
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
    return main_of(build_parser(), argv, _report, logging.WARNING)


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
