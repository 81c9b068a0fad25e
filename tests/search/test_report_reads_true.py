"""The report says what happened: pruned trials drawn, integer trial axes, the best curve
named, importances from few trials flagged, bars from 0 with their intervals, the data source
beside every headline figure, nested CSV values as JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from matplotlib.colors import to_hex
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from data.attributes import CELEBA_ATTRIBUTES as NAMES
from model import ModelParams
from model.card import Interval, SplitIntervals
from search.report import page as report
from tests.cards import tiny_card
from tests.search.test_report import parse

DISTRIBUTIONS = {
    "c1": CategoricalDistribution((4, 8, 16)),
    "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
}


def searched(url: str, n_complete: int = 8, n_pruned: int = 11) -> optuna.Study:
    """A study like `make demo`'s: complete trials with latencies and per-attribute AUCs,
    pruned ones that reported one or two epochs."""
    study = optuna.create_study(storage=url, study_name="demo", direction="maximize")
    for key, value in {"data": "synthetic", "image_size": 32, "space": "demo",
                       "metric": "macro", "epochs": 3, "synthetic_n": 300,
                       "seed": 0}.items():  # fmt: skip
        study.set_user_attr(key, value)
    rng = np.random.default_rng(0)
    states = [TrialState.COMPLETE] * n_complete + [TrialState.PRUNED] * n_pruned
    for number, state in enumerate(rng.permutation(states)):
        done = state == TrialState.COMPLETE
        curve = list(np.round(0.5 + np.cumsum(rng.random(3 if done else 1 + number % 2)) / 20, 4))
        attrs = {"val_macro_auc": curve[-1], "n_params": int(rng.integers(1000, 5000)),
                 "latency_ms": 1.0 + rng.random() / 50,  # close together: labels would collide
                 "val_auc_per_attribute": {"Smiling": 0.9, "Male": 0.75}}  # fmt: skip
        study.add_trial(
            optuna.trial.create_trial(
                params={"c1": int(rng.choice([4, 8, 16])), "learning_rate": 1e-3 + number / 1e4},
                distributions=DISTRIBUTIONS,
                value=curve[-1] if done else None,
                state=TrialState(state),
                intermediate_values=dict(enumerate(curve, start=1)),
                user_attrs=attrs if done else {},
            )
        )
    return study


def test_history_draws_pruned_trials_on_an_integer_trial_axis(tmp_path: Path):
    study = searched(f"sqlite:///{tmp_path / 's.db'}")
    trials = study.get_trials()
    points = report.history_points(trials, study.direction)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert [n for n, _ in points["pruned"]] == [t.number for t in pruned] and len(pruned) == 11
    assert len(points["complete"]) == 8
    figure = report.history_figure(trials, study.direction, "validation macro AUC")
    ax = figure.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert any(label.startswith("pruned (11)") for label in labels)
    figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(figure)


def test_curves_name_the_best_few_and_grey_the_rest(tmp_path: Path):
    study = searched(f"sqlite:///{tmp_path / 's.db'}")
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: t.value, reverse=True)
    figure = report.curves_figure(trials, ranked[: report.TOP_CURVES], "validation macro AUC")
    ax = figure.axes[0]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[0] == f"best: #{ranked[0].number} ({ranked[0].value:.4f})"
    assert legend[-2:] == ["other complete trials", "pruned or unfinished"]
    assert len(legend) == report.TOP_CURVES + 2  # not one entry per trial
    colours = [to_hex(line.get_color()) for line in ax.get_lines()]
    assert len(colours) == len(trials)  # every trial drawn, the pruned after one epoch too
    coloured = [c for c in colours if c not in (report._GREY, report._LIGHT_GREY)]
    assert len(coloured) == len(set(coloured)) == report.TOP_CURVES
    figure.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    plt.close(figure)


def test_importances_from_few_trials_carry_a_caveat(tmp_path: Path):
    study = searched(f"sqlite:///{tmp_path / 's.db'}")
    result = report.write_report(study, tmp_path / "out")
    assert "importances.png" in result.images
    text = " ".join(parse(tmp_path / "out" / "index.html").text)
    assert "These importances come from 8 complete trials (fewer than 20)" in text

    many = searched(f"sqlite:///{tmp_path / 'many.db'}", n_complete=25, n_pruned=2)
    report.write_report(many, tmp_path / "many")
    assert "These importances come from" not in (tmp_path / "many" / "index.html").read_text()


def test_trials_csv_holds_per_attribute_aucs_as_json(tmp_path: Path):
    study = searched(f"sqlite:///{tmp_path / 's.db'}")
    report.write_report(study, tmp_path / "out")
    frame = pd.read_csv(tmp_path / "out" / "trials.csv")
    cells = frame["user_attrs_val_auc_per_attribute"].dropna()
    assert len(cells) == 8
    assert all(json.loads(cell) == {"Smiling": 0.9, "Male": 0.75} for cell in cells)
    assert set(frame["state"]) == {"COMPLETE", "PRUNED"}


def test_close_pareto_labels_do_not_overlap():
    fig, ax = plt.subplots()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    points = [((5 + i / 100, 5 + i / 100), f"#{i}") for i in range(4)]
    report._place_labels(ax, points)
    fig.canvas.draw()
    boxes = [text.get_window_extent() for text in ax.texts]
    assert len(boxes) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    plt.close(fig)


def _card_with_intervals():
    card = tiny_card(32, ModelParams((4, 4, 8, 8), (8, 8)))
    per = {n: dataclasses.replace(s, auc=0.6 + 0.3 * (i % 2))
           for i, (n, s) in enumerate(card.test.per_attribute.items())}  # fmt: skip
    bounds = {n: Interval(s.auc - 0.05, min(1.0, s.auc + 0.05)) for n, s in per.items()}
    bounds["Bald"] = None  # too few of one class to resample
    intervals = SplitIntervals(200, Interval(0.6, 0.8), Interval(0.6, 0.8), Interval(0.4, 0.6),
                               Interval(0.4, 0.6), bounds)  # fmt: skip
    return dataclasses.replace(
        card,
        test=dataclasses.replace(card.test, per_attribute=per),
        test_intervals=intervals,
    )


def test_attribute_bars_start_at_zero_with_their_intervals():
    card = _card_with_intervals()
    figure = report.attributes_figure(card)
    auc_ax, accuracy_ax = figure.axes
    assert auc_ax.get_xlim()[0] == 0 and accuracy_ax.get_xlim()[0] == 0
    assert all(bar.get_x() == 0 for bar in auc_ax.patches)
    assert all(bar.get_x() == 0 for bar in accuracy_ax.patches)
    whiskers = [c for c in auc_ax.collections if c.get_segments()]
    segments = [s for c in whiskers for s in c.get_segments() if len(s) and not np.isnan(s).any()]
    assert len(segments) == len(NAMES) - 1  # every interval but Bald's
    widths = sorted(round(abs(s[1][0] - s[0][0]), 6) for s in segments)
    assert widths[0] > 0.05  # the intervals' widths, not placeholder whiskers
    assert "synthetic faces" in auc_ax.get_title(loc="left")
    plt.close(figure)


def test_headline_figures_name_their_data(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    searched(url)
    best = tmp_path / "studies" / "demo" / "best"
    best.mkdir(parents=True)
    (best / "model_card.json").write_text(_card_with_intervals().to_json())
    assert report.main(["--storage", url]) == 0
    page = parse(tmp_path / "studies" / "demo" / "report" / "index.html")
    text = " ".join(" ".join(page.text).split())
    assert "best validation macro AUC, trial #" in text and ", on synthetic faces" in text
    assert "exported model: test macro AUC on synthetic faces" in text
    assert "exported model: test micro AUC on synthetic faces" in text
    caveat = "the notebook's figure is CelebA's, so the two do not compare"
    assert "0.9583 the notebook's test micro AUC, on CelebA (trained and tested on " in text
    assert caveat in text
    assert "test split (synthetic faces)" in text
    out = capsys.readouterr().out
    assert "exported model on synthetic faces" in out
    assert "note: trained and tested on synthetic faces" in out


def test_a_celeba_card_has_no_notebook_caveat():
    card = tiny_card(32, ModelParams((4, 4, 8, 8), (8, 8)))
    celeba = dataclasses.replace(card, data=dataclasses.replace(card.data, source="/d/celeba"))
    assert report.notebook_caveat(celeba) is None
    assert report.source_text("/d/celeba") == "CelebA (/d/celeba)"
    assert report.notebook_caveat(card) is not None


def test_epochs_spent_are_counted_from_the_trials_and_time_cuts_are_named(tmp_path: Path):
    study = searched(f"sqlite:///{tmp_path / 's.db'}", n_complete=3, n_pruned=2)
    reported = sum(len(t.intermediate_values) for t in study.trials)
    # as stored at the last claim: a worker that ran out of time made no later claim
    study.set_user_attr("budget_epochs", 40)
    study.set_user_attr("epochs_spent", reported - 2)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    study.add_trial(
        optuna.trial.create_trial(
            params=pruned[0].params,
            distributions=DISTRIBUTIONS,
            state=TrialState.PRUNED,
            intermediate_values={1: 0.55},
            user_attrs={"pruned_by": "time"},
        )
    )
    written = report.write_report(study, tmp_path / "report")
    text = " ".join(" ".join(parse(written.out / "index.html").text).split())
    assert f"{reported + 1} of 40 epochs spent of the budget" in text
    assert "1 pruned when --budget-minutes ran out" in text


def test_the_gaps_chart_says_what_its_colours_mean():
    from tests.search.test_report import _decided_card

    groups = _decided_card().groups
    figure = report.gaps_figure(groups)
    (ax,) = figure.axes
    legend = {text.get_text(): patch.get_facecolor()
              for text, patch in zip(ax.get_legend().get_texts(), ax.get_legend().get_patches(),
                                     strict=True)}  # fmt: skip
    beyond = [k for k in legend if k.startswith("beyond noise")]
    within = [k for k in legend if k.startswith("within noise")]
    assert len(beyond) == len(within) == 1
    bars = {to_hex(bar.get_facecolor()) for bar in ax.patches}
    by_gap = {g.beyond_noise for g in groups.largest}
    assert by_gap == {True, False}  # both kinds drawn, so both colours must be named
    assert bars == {to_hex(legend[beyond[0]]), to_hex(legend[within[0]])}
    plt.close(figure)
