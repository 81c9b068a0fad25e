"""search.report on studies built directly in SQLite: valid HTML, real PNGs, honest notes."""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState
from PIL import Image

from common.errors import UserError
from common.paths import export_dir
from data.attributes import CELEBA_ATTRIBUTES as NAMES
from model import ModelParams
from model.card import CARD_NAME
from model.groups import group_report
from model.intervals import split_intervals
from model.scoring import split_scores
from model.trust import trust_levels
from search.report import page as report
from tests.cards import tiny_card

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DISTRIBUTIONS = {
    "c1": CategoricalDistribution((4, 8, 16)),
    "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
}


class _Page(HTMLParser):
    """Collects the images and checks that every opened element is closed in order."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.open == []
    return page


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) > 200


def make_study(url: str, name: str, rows: list[tuple[int, float, TrialState, list[float]]]):
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    for key, value in {"data": "synthetic", "image_size": 32, "space": "demo",
                       "metric": "macro", "epochs": 3, "synthetic_n": 300,
                       "seed": 0}.items():  # fmt: skip
        study.set_user_attr(key, value)
    for c1, lr, state, curve in rows:
        study.add_trial(
            optuna.trial.create_trial(
                params={"c1": c1, "learning_rate": lr},
                distributions=DISTRIBUTIONS,
                value=curve[-1] if state == TrialState.COMPLETE else None,
                state=state,
                intermediate_values=dict(enumerate(curve, start=1)),
                user_attrs={"test_micro_auc": 0.81, "test_macro_auc": 0.62, "epochs_run": 3}
                if state == TrialState.COMPLETE else {},
            )
        )  # fmt: skip
    return study


def test_report_of_a_searched_study(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    make_study(url, "demo", [
        (8, 1e-3, TrialState.COMPLETE, [0.55, 0.62, 0.66]),
        (4, 3e-3, TrialState.COMPLETE, [0.56, 0.65, 0.70]),
        (16, 1e-4, TrialState.PRUNED, [0.50]),
        (16, 2e-4, TrialState.COMPLETE, [0.52, 0.55, 0.58]),
        (8, 5e-3, TrialState.COMPLETE, [0.57, 0.63, 0.68]),
        (4, 1e-4, TrialState.FAIL, []),
    ])  # fmt: skip
    assert report.main(["--storage", url]) == 0  # the only study is picked
    out = tmp_path / "studies" / "demo" / "report"
    page = parse(out / "index.html")
    assert page.images == ["history.png", "importances.png", "curves.png"]
    for image in page.images:
        check_png(out / image)
    text = " ".join(page.text)
    assert "#1" in text and "0.7000" in text  # the best trial heads the table
    assert "no refit yet" in text  # no export: said, not hidden
    summary = capsys.readouterr().out
    assert "4 complete, 1 pruned, 1 failed" in summary and "best trial #1: 0.7000" in summary
    assert f"report: {Path('studies/demo/report/index.html')}" in summary
    assert [p.name for p in out.parent.iterdir() if ".tmp-" in p.name] == []  # no temp left
    assert out.is_symlink()  # to its version folder (common.atomic)


def test_importances_are_skipped_with_a_note_when_they_cannot_be_told(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(url, "one", [(8, 1e-3, TrialState.COMPLETE, [0.55, 0.6])])
    result = report.write_report(study, tmp_path / "out")
    assert result.images == ["history.png", "curves.png"]
    assert any("importances need at least two complete trials" in n for n in result.notes)
    page = parse(tmp_path / "out" / "index.html")
    assert "importances need at least two complete trials" in " ".join(page.text)


def test_report_replaces_an_older_one_and_survives_an_empty_study(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.png").write_bytes(b"old")
    study = optuna.create_study(storage=url, study_name="empty")
    result = report.write_report(study, out)
    assert result.images == [] and result.best is None
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    parse(out / "index.html")


def test_unknown_study_is_one_line(tmp_path: Path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(storage=url, study_name="a")
    optuna.create_study(storage=url, study_name="b")
    assert report.main(["--storage", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pick one with --study: a, b" in err


def test_unreachable_storage_is_one_line_without_the_password(capsys):
    assert report.main(["--storage", "postgresql+psycopg://user:s3cret@127.0.0.1:1/db"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "s3cret" not in captured.err + captured.out


def test_every_trial_is_in_the_csv_and_markup_in_names_is_escaped(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    name = "<script>alert(1)</script>"
    study = make_study(url, name, [
        (8, 1e-3, TrialState.COMPLETE, [0.55, 0.6]),
        (4, 3e-3, TrialState.PRUNED, [0.5]),
    ])  # fmt: skip
    report.write_report(study, tmp_path / "out", storage_label="<b>storage</b>")
    html = (tmp_path / "out" / "index.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>storage" not in html and "&lt;b&gt;storage" in html
    parse(tmp_path / "out" / "index.html")
    rows = (tmp_path / "out" / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("number,value,") and "params_c1" in rows[0]
    assert len(rows) == 3 and ",PRUNED" in rows[2]


MARKUP = "<img src=x onerror=alert(1)>"


def test_markup_in_an_export_card_is_escaped(tmp_path: Path, monkeypatch):
    # a card is a file anyone can edit; its folder carries the study's name
    monkeypatch.chdir(tmp_path)
    study = make_study(f"sqlite:///{tmp_path / 's.db'}", MARKUP, [
        (8, 1e-3, TrialState.COMPLETE, [0.55, 0.6]),
    ])  # fmt: skip
    folder = export_dir(MARKUP)
    folder.mkdir(parents=True)
    card = tiny_card(32, ModelParams((4, 4, 8, 8), (8, 8)), study=MARKUP, trial=5)
    card = dataclasses.replace(card, data=dataclasses.replace(card.data, source=MARKUP))
    (folder / CARD_NAME).write_text(card.to_json())
    report.write_report(study, tmp_path / "out")
    html = (tmp_path / "out" / "index.html").read_text()
    assert "exported to" in html and "trial #5 but the best is now #0" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    parse(tmp_path / "out" / "index.html")

    tampered = json.loads(card.to_json())
    tampered["image_size"] = MARKUP  # a tampered card stops the report: the page stays as it was
    (folder / CARD_NAME).write_text(json.dumps(tampered))
    with pytest.raises(UserError, match="card in .* is unusable"):
        report.write_report(study, tmp_path / "out")
    assert (tmp_path / "out" / "index.html").read_text() == html


def _decided_card():
    """A card whose test figures, intervals, group gaps and trust come from real arrays: a
    model that reads Smiling at random on men."""
    rng = np.random.default_rng(0)
    labels = rng.random((300, len(NAMES))) < 0.4
    probs = np.clip(0.4 * labels + 0.6 * rng.random(labels.shape), 0, 1)
    male, smiling = NAMES.index("Male"), NAMES.index("Smiling")
    probs[labels[:, male], smiling] = rng.random(labels[:, male].sum())
    cuts = np.full(len(NAMES), 0.5)
    test = split_scores(labels, probs, NAMES, cuts)
    bounds = split_intervals(labels, probs, NAMES, cuts, resamples=200)
    return tiny_card(
        32,
        ModelParams(conv_widths=(4, 4, 8, 8), dense_widths=(8, 8)),
        test=test,
        test_intervals=bounds,
        groups=group_report(labels, probs, NAMES, cuts, resamples=200),
        trust=trust_levels(test, bounds),
    )


def test_report_shows_intervals_thresholds_and_the_largest_gaps_with_sizes(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    make_study(url, "decided", [(4, 1e-3, TrialState.COMPLETE, [0.6, 0.7])])
    card = _decided_card()
    best = tmp_path / "studies" / "decided" / "best"
    best.mkdir(parents=True)
    (best / "model_card.json").write_text(card.to_json())
    assert report.main(["--study", "decided", "--storage", url]) == 0
    folder = tmp_path / "studies" / "decided" / "report"
    page = parse(folder / "index.html")
    assert "gaps.png" in page.images
    check_png(folder / "gaps.png")
    text = " ".join(" ".join(page.text).split())
    assert "Who the model fails" in text and "95% bootstrap interval (200 resamples" in text
    smiling = card.groups.largest[0]
    assert (smiling.group, smiling.attribute, smiling.beyond_noise) == ("Male", "Smiling", True)
    male = card.groups.splits[0]
    assert f"Male / not Male Smiling AUC {smiling.with_value:.3f}" in text
    assert f"{male.n_with} / {male.n_without}" in text
    assert "thresholds: 1 of 40 tuned on validation" in text  # tiny_card's Male
    assert "Per attribute trust: high " in text
    out = capsys.readouterr().out
    assert f"test macro AUC {card.test.macro_auc:.4f} (95% " in out
