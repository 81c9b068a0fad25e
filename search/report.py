"""`python -m search.report`: a study as an HTML page with plots, and a short summary.

    python -m search.report [--study NAME] [--storage URL] [--out DIR]

Writes `studies/<study>/report/` (or DIR): index.html and PNGs of the optimisation
history, the parameter importances, the validation curves of the top trials and, when
the study's best trial was refitted and exported, the exported model's per-attribute test
AUC and accuracy. The folder is built under a temporary name and renamed into place.
"""

from __future__ import annotations

import argparse
import html
import logging
import math
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402

from data.atomic import install, temp_dir_for  # noqa: E402
from data.errors import UserError  # noqa: E402
from model.export import CARD_NAME, ExportError, read_card  # noqa: E402
from search.choose import load_existing_study  # noqa: E402
from search.storage import STORAGE_ENV, mask_url, resolve_storage_url, retry_storage  # noqa: E402

__all__ = ["Report", "main", "write_report"]

log = logging.getLogger(__name__)

TOP_CURVES = 5  # validation curves drawn in colour
TOP_TABLE = 10  # rows of the best-trials table
EXIT_USER_ERROR = 2
_BLUE, _ORANGE, _GREY, _RED = "#1f77b4", "#ff7f0e", "#b0b0b0", "#d62728"


@dataclass
class Report:
    """What was written, for the terminal summary and for tests."""

    out: Path
    counts: dict[str, int]
    best: FrozenTrial | None
    images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    card: dict | None = None


def write_report(study: optuna.Study, out: str | Path, *, storage_label: str = "") -> Report:
    """Write the report folder `out` for `study` (replacing an older one atomically)."""
    trials = retry_storage(lambda: study.get_trials(deepcopy=False), "read the trials")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    ranked = sorted(complete, key=lambda t: t.value, reverse=maximize)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    report = Report(out=Path(out), counts=counts, best=ranked[0] if ranked else None)
    report.card = _exported_card(study, report.notes)
    if report.card is not None and report.best is not None:
        if report.card["trial"] != report.best.number:
            report.notes.append(
                f"the export is of trial #{report.card['trial']} but the best is now "
                f"#{report.best.number}: run search.refit again"
            )
    metric = f"validation {study.user_attrs.get('metric', 'macro')} AUC"
    tmp = temp_dir_for(report.out)
    tmp.chmod(0o755)
    try:
        if trials:
            _plot_history(trials, maximize, metric, tmp / "history.png")
            report.images.append("history.png")
        else:
            report.notes.append("the study has no trials yet")
        if _plot_importances(study, complete, tmp / "importances.png", report.notes):
            report.images.append("importances.png")
        if _plot_curves(trials, ranked[:TOP_CURVES], metric, tmp / "curves.png"):
            report.images.append("curves.png")
        else:
            report.notes.append("no trial reported a validation value yet: no curves")
        if report.card is not None:
            _plot_attributes(report.card, tmp / "attributes.png")
            report.images.append("attributes.png")
        page = _page(study, report, ranked[:TOP_TABLE], metric, storage_label)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        install(tmp, report.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        plt.close("all")
    return report


def _exported_card(study: optuna.Study, notes: list[str]) -> dict | None:
    """The model card of the study's export: where the study says it went, else the default."""
    recorded = study.user_attrs.get("best_export", {}).get("path")
    folder = Path(recorded) if recorded else Path("studies") / study.study_name / "best"
    if not (folder / CARD_NAME).is_file():
        notes.append("no refit yet: run python -m search.refit for the per-attribute figures")
        return None
    try:
        card = read_card(folder)
    except ExportError as err:
        notes.append(f"the export's card is unreadable: {err}")
        return None
    card["_folder"] = str(folder)
    return card


def _plot_history(trials: list[FrozenTrial], maximize: bool, metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.2))
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    ax.scatter([t.number for t in done], [t.value for t in done], color=_BLUE, s=36,
               label="complete", zorder=3)  # fmt: skip
    ax.scatter(
        [t.number for t in pruned],
        [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
        color=_GREY, marker="x", s=30, label="pruned (last reported value)", zorder=2,
    )  # fmt: skip
    if done:
        best, xs, ys = None, [], []
        for t in sorted(done, key=lambda t: t.number):
            if best is None or (t.value > best if maximize else t.value < best):
                best = t.value
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color=_ORANGE, linewidth=2, label="best so far")
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    for number in failed:
        ax.axvline(number, color=_RED, alpha=0.25, linewidth=1)
    title = "Optimisation history" + (f" ({len(failed)} failed: red lines)" if failed else "")
    _style(ax, title, "trial number", metric)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_importances(
    study: optuna.Study, complete: list[FrozenTrial], path: Path, notes: list[str]
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
        importances = optuna.importance.get_param_importances(study)
    if any("importances will be equal" in str(w.message) for w in caught):
        notes.append("too few complete trials to tell the parameters' importances apart: skipped")
        return False
    names = sorted(importances, key=importances.get)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.3))
    ax.barh(names, [importances[n] for n in names], color=_BLUE)
    for y, name in enumerate(names):
        ax.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=8)
    title = f"Parameter importances (PED-ANOVA over {len(complete)} complete trials)"
    _style(ax, title, "share of importance", "")
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def _plot_curves(
    trials: list[FrozenTrial], top: list[FrozenTrial], metric: str, path: Path
) -> bool:
    reported = [t for t in trials if t.intermediate_values]
    if not reported:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.2))
    top_numbers = {t.number for t in top}
    for t in reported:
        if t.number not in top_numbers:
            steps = sorted(t.intermediate_values)
            ax.plot(steps, [t.intermediate_values[s] for s in steps], color=_GREY,
                    linewidth=1, alpha=0.6, zorder=1)  # fmt: skip
    for rank, t in enumerate(top):
        steps = sorted(t.intermediate_values)
        ax.plot(steps, [t.intermediate_values[s] for s in steps], marker="o", markersize=3,
                linewidth=2 if rank == 0 else 1.4, label=f"#{t.number}: {t.value:.4f}",
                color=plt.cm.tab10(rank), zorder=3)  # fmt: skip
    _style(ax, f"Validation curves: the top {len(top)} in colour, the others grey",
           "epoch", metric)  # fmt: skip
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if top:
        ax.legend(loc="lower right", fontsize=8, frameon=False, title="trial: final value")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def _plot_attributes(card: dict, path: Path) -> None:
    per = card["test"]["per_attribute"]
    names = sorted(card["attr_names"], key=lambda n: per[n]["auc"] if per[n]["auc"] else 0)
    auc = [per[n]["auc"] or math.nan for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.24 * len(names) + 1.6), sharey=True)
    left.barh(names, [a - 0.5 for a in auc], left=0.5, color=_BLUE)
    left.axvline(0.5, color="black", linewidth=0.8)
    left.set_xlim(min([0.4, *(a - 0.02 for a in auc if not math.isnan(a))]), 1.0)
    _style(left, "Test AUC per attribute (0.5 = chance)", "AUC", "")
    right.barh(names, [per[n]["accuracy_tuned"] for n in names], color=_ORANGE,
               label="at tuned thresholds")  # fmt: skip
    right.scatter([per[n]["accuracy"] for n in names], names, color="black", s=10, zorder=3,
                  label="at 0.5")  # fmt: skip
    base = card["base_rate_test"].get("per_attribute_accuracy")
    if base:
        right.scatter([base[n] for n in names], names, color=_RED, marker="|", s=120, zorder=4,
                      label="base rate (always the majority)")  # fmt: skip
    right.set_xlim(min([0.4, *(per[n]["accuracy_tuned"] - 0.02 for n in names)]), 1.0)
    _style(right, "Test accuracy per attribute", "accuracy", "")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045), ncol=3, fontsize=8,
                 frameon=False)  # fmt: skip
    for ax in (left, right):
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", visible=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps the legend below the axes


def _style(ax: plt.Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1.2em; color: #222; }
h1 { margin-bottom: 0.1em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin-top: 0; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1.2em 0; }
.card { background: #f5f7fa; border-radius: 8px; padding: 0.7em 1.1em; min-width: 9em; }
.card b { display: block; font-size: 1.5em; }
.card span { color: #666; font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; }
th { background: #f5f7fa; } td.l, th.l { text-align: left; }
img { max-width: 100%; } .note { color: #8a6d3b; background: #fcf8e3; padding: 0.4em 0.8em;
border-radius: 6px; } code { background: #f0f0f0; padding: 0 0.3em; border-radius: 3px; }
"""


def _page(
    study: optuna.Study,
    report: Report,
    top: list[FrozenTrial],
    metric: str,
    storage_label: str,
) -> str:
    e = html.escape
    attrs = study.user_attrs
    c = report.counts
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Study {e(study.study_name)}: search report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Study <code>{e(study.study_name)}</code></h1>",
        f'<p class="sub">{e(storage_label)} &middot; data {e(str(attrs.get("data", "?")))}, '
        f"{e(str(attrs.get('image_size', '?')))} px, space {e(str(attrs.get('space', '?')))}, "
        f"up to {e(str(attrs.get('epochs', '?')))} epochs per trial; objective: {e(metric)}</p>",
        '<div class="cards">',
        _card_box(f"{c['complete']}", "complete trials"),
        _card_box(f"{c['pruned']}", "pruned"),
        _card_box(f"{c['fail']}", "failed"),
    ]
    if report.best is not None:
        parts.append(_card_box(f"{report.best.value:.4f}", f"best, trial #{report.best.number}"))
    if report.card is not None:
        test = report.card["test"]
        parts.append(_card_box(_fmt(test["macro_auc"]), "exported model: test macro AUC"))
        parts.append(_card_box(_fmt(test["micro_auc"]), "test micro AUC (notebook 0.9583)"))
    parts.append("</div>")
    parts += [f'<p class="note">{e(note)}</p>' for note in report.notes]
    captions = {
        "history.png": ("Optimisation history", "Every trial's objective value; pruned trials "
                        "at the last value they reported."),
        "importances.png": ("Parameter importances", "How much each parameter explains of "
                            "the spread between the best trials and the rest."),
        "curves.png": ("Validation curves", "The value each trial reported after every "
                       "epoch; the pruner stopped the grey ones that fell behind."),
        "attributes.png": ("The exported model, attribute by attribute", "On the test "
                           "split, which the search never used to select."),
    }  # fmt: skip
    for image in report.images:
        title, caption = captions[image]
        parts += [f"<h2>{e(title)}</h2>", f"<p>{e(caption)}</p>",
                  f'<img src="{e(image)}" alt="{e(title)}">']  # fmt: skip
        if image == "history.png":
            parts += _best_table(top, metric)
        if image == "attributes.png":
            parts += _export_table(report.card)
    if "history.png" not in report.images and top:
        parts += _best_table(top, metric)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _card_box(value: str, label: str) -> str:
    return f'<div class="card"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'


def _best_table(top: list[FrozenTrial], metric: str) -> list[str]:
    if not top:
        return []
    names = sorted({k for t in top for k in t.params})
    head = ["trial", metric, *names, "test micro AUC", "test macro AUC", "test mean acc.",
            "epochs", "s/epoch"]  # fmt: skip
    rows = ["<h2>The best trials</h2>", "<table><tr>"]
    rows.append("".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
    for t in top:
        a = t.user_attrs
        cells = [f"#{t.number}", f"{t.value:.4f}", *(_short(t.params.get(n)) for n in names),
                 _fmt(a.get("test_micro_auc")), _fmt(a.get("test_macro_auc")),
                 _fmt(a.get("test_mean_accuracy")), str(a.get("epochs_run", "-")),
                 _fmt(a.get("seconds_per_epoch"), 1)]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    rows.append("</table>")
    rows.append("<p>Test figures are recorded for the record; trials were selected by the "
                "validation value only.</p>")  # fmt: skip
    return rows


def _export_table(card: dict) -> list[str]:
    test, base = card["test"], card["base_rate_test"]
    rows = [
        f"<p>Trial #{card['trial']} retrained for {card['epochs_trained']} epochs "
        f"(best {card['best_epoch']}), exported to <code>{html.escape(card['_folder'])}</code>."
        "</p><table><tr><th class='l'>test split</th><th>micro AUC</th><th>macro AUC</th>"
        "<th>mean acc. at 0.5</th><th>at tuned thresholds</th></tr>",
        f"<tr><td class='l'>exported model</td><td>{_fmt(test['micro_auc'])}</td>"
        f"<td>{_fmt(test['macro_auc'])}</td><td>{_fmt(test['mean_accuracy'])}</td>"
        f"<td>{_fmt(test['mean_accuracy_tuned'])}</td></tr>",
        f"<tr><td class='l'>base rate (train positives)</td><td>{_fmt(base['micro_auc'])}</td>"
        f"<td>{_fmt(base['macro_auc'])}</td><td>{_fmt(base['mean_accuracy'])}</td>"
        "<td>-</td></tr>",
        f"<tr><td class='l'>the notebook (CelebA)</td>"
        f"<td>{card['notebook_test_micro_auc']:.4f}</td><td>-</td><td>-</td><td>-</td></tr>",
        "</table>",
    ]
    return rows


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def print_summary(study: optuna.Study, report: Report) -> None:
    c = report.counts
    print(
        f"study {study.study_name!r}: {c['complete']} complete, {c['pruned']} pruned, "
        f"{c['fail']} failed"
    )
    if report.best is not None:
        print(f"best trial #{report.best.number}: {report.best.value:.4f}")
    if report.card is not None:
        test = report.card["test"]
        print(f"exported model: test macro AUC {_fmt(test['macro_auc'])}, "
              f"micro AUC {_fmt(test['micro_auc'])} (notebook 0.9583)")  # fmt: skip
    for note in report.notes:
        print(f"note: {note}")
    print(f"report: {report.out / 'index.html'} ({len(report.images)} plots)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.report",
        description="Write an HTML report of a study: history, importances, curves, export.",
    )
    add = parser.add_argument
    add("--study", help="study name (default: the only study in the storage, else celeba)")
    add("--storage", help=f"SQLAlchemy URL (default ${STORAGE_ENV}, else studies/celeba.db)")
    add("--out", type=Path, help="report folder (default studies/<study>/report)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        url = resolve_storage_url(args.storage)
        study = load_existing_study(url, args.study)
        out = args.out if args.out is not None else Path("studies") / study.study_name / "report"
        report = write_report(study, out, storage_label=mask_url(url))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        print(f"error: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    print_summary(study, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
