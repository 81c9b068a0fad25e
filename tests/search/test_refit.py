"""search.refit and model.export on a tiny synthetic study (32x32, a few hundred faces)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from common.native_logs import has_nvidia_device
from model import predict_proba
from model.card import ModelCard
from model.export import export_model, read_card
from model.scoring import base_rate_probs
from search import refit
from search.report import page as report
from search.trial.records import StudySettings
from search.trial.space import encoded
from search.trial.study_data import data_for_study

SETTINGS = {"data": "synthetic", "image_size": 32, "space": "demo", "metric": "macro",
            "epochs": 1, "synthetic_n": 300, "seed": 0}  # fmt: skip
BEST = {"c1": 4, "c2": 8, "c3": 16, "c4": 32, "batch_size": 32, "learning_rate": 3e-3}
OTHER = {**BEST, "c1": 8, "learning_rate": 1e-3}
DISTRIBUTIONS = {
    "c1": CategoricalDistribution((4, 8, 16)),
    "c2": CategoricalDistribution((8, 16, 32)),
    "c3": CategoricalDistribution((16, 32, 64)),
    "c4": CategoricalDistribution((32, 64, 128)),
    "batch_size": CategoricalDistribution((32, 64, 128)),
    "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
    # how search.run stores widths and batch sizes now: ordered exponents
    **{f"log2_{name}": IntDistribution(low, low + 2)
       for name, low in (("c1", 2), ("c2", 3), ("c3", 4), ("c4", 5), ("batch_size", 5))},
}  # fmt: skip


def make_study(url: str, name: str, trials: list[tuple[dict, float | None, TrialState]]):
    """A study as search.run leaves it: its settings, and finished trials with curves."""
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    for key, value in SETTINGS.items():
        study.set_user_attr(key, value)
    for params, value, state in trials:
        curve = {1: 0.55, 2: value} if value is not None else {1: 0.5}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={name: DISTRIBUTIONS[name] for name in params},
                value=value if state == TrialState.COMPLETE else None,
                state=state,
                intermediate_values=curve,
                user_attrs={"test_macro_auc": 0.6, "test_micro_auc": 0.8, "epochs_run": 2},
            )
        )
    return study


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory):
    """A working directory holding the synthetic data (built once) and studies/."""
    path = tmp_path_factory.mktemp("refit")
    before = Path.cwd()
    os.chdir(path)  # data/ and studies/ are relative paths, as for a user in the repo
    try:
        yield path
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def study_url(workdir: Path) -> str:
    url = f"sqlite:///{workdir / 'studies.db'}"
    make_study(
        url,
        "tiny",
        [
            (OTHER, 0.60, TrialState.COMPLETE),  # an older study's categorical widths
            (encoded(BEST), 0.70, TrialState.COMPLETE),
            (OTHER, None, TrialState.PRUNED),
        ],
    )
    return url


@pytest.fixture(scope="module")
def refitted(workdir: Path, study_url: str) -> refit.RefitResult:
    study = optuna.load_study(study_name="tiny", storage=study_url)
    return refit.refit(study, max_epochs=2, patience=1)


def test_refit_exports_every_file_and_a_full_card(workdir: Path, refitted, study_url: str):
    out = workdir / "studies" / "tiny" / "best"
    assert refitted.export_dir == Path("studies/tiny/best")
    assert (out / "model.keras").is_file()
    tensorflow = keras.backend.backend() == "tensorflow"  # a SavedModel needs TensorFlow
    assert (out / "saved_model" / "saved_model.pb").is_file() == tensorflow
    text = (out / "model_card.json").read_text()
    assert ModelCard.from_json(text) == refitted.card  # one writer, one reader
    card = json.loads(text)
    assert card["study"] == "tiny" and card["trial"] == 1  # the better COMPLETE trial
    assert card["params"] == BEST and card["image_size"] == 32
    assert len(card["attr_names"]) == 40 and list(card["thresholds"]) == card["attr_names"]
    assert 1 <= card["epochs_trained"] <= 2 and card["training_seconds"] > 0
    assert card["stopped_by"] == ("epochs" if card["epochs_trained"] == 2 else "patience")
    for split in ("validation", "test"):
        figures = card[split]
        for key in ("micro_auc", "macro_auc", "mean_accuracy", "mean_accuracy_tuned"):
            assert 0.0 <= figures[key] <= 1.0
        assert set(figures["per_attribute"]) == set(card["attr_names"])
    # thresholds tuned on validation cannot do worse there than 0.5 does
    assert card["validation"]["mean_accuracy_tuned"] >= card["validation"]["mean_accuracy"]
    assert card["base_rate_test"]["macro_auc"] == pytest.approx(0.5)
    assert card["versions"]["keras"] == keras.__version__ and card["versions"]["python"]
    assert card["data"]["fingerprint"] and card["data"]["counts"]["test"] > 0
    assert card["files"] == {
        "model": "model.keras",
        "savedmodel": "saved_model" if tensorflow else None,
    }
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]  # no temp left

    study = optuna.load_study(study_name="tiny", storage=study_url)
    assert study.user_attrs["best_export"]["path"] == str(Path.cwd() / "studies/tiny/best")
    artifacts = optuna.artifacts.get_all_artifact_meta(study)
    assert [a.filename for a in artifacts] == ["model_card.json"]


def test_reloaded_model_predicts_like_the_trained_one(workdir: Path, refitted, study_url: str):
    study = optuna.load_study(study_name="tiny", storage=study_url)
    data = data_for_study(StudySettings.stored_on(study))
    images = np.asarray(data.test.images[:32])
    reloaded = keras.saving.load_model(workdir / refitted.export_dir / "model.keras")
    np.testing.assert_allclose(
        predict_proba(reloaded, images), predict_proba(refitted.model, images), atol=1e-6
    )


def test_export_replaces_an_older_export(workdir: Path, refitted, tmp_path: Path):
    out = tmp_path / "best"
    for trial in (7, 8):
        card = dataclasses.replace(refitted.card, trial=trial)
        export_model(refitted.model, card, out, savedmodel=False)
    assert read_card(out).trial == 8
    assert sorted(p.name for p in out.iterdir()) == ["model.keras", "model_card.json"]
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".best.v-")]
    assert visible == ["best"] and len(list(tmp_path.glob(".best.v-*"))) == 2  # old: grace


def test_report_draws_the_exported_models_attributes(workdir: Path, refitted, study_url):
    assert report.main(["--study", "tiny", "--storage", study_url]) == 0
    folder = workdir / "studies" / "tiny" / "report"
    assert (folder / "attributes.png").is_file()
    assert "exported model" in (folder / "index.html").read_text()


def test_refit_command_prints_figures_beside_the_notebook(workdir: Path, study_url, capsys):
    code = refit.main(["--study", "tiny", "--storage", study_url, "--max-epochs", "1",
                       "--out", str(workdir / "cli-best"), "--no-savedmodel"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "base rate (train positives)" in out and "0.9583" in out
    assert "notebook (CelebA test)" in out
    assert "95% bootstrap interval" in out and "acc@chosen" in out
    assert "thresholds: " in out and " of 40 tuned on validation" in out
    assert "trust: high " in out
    assert not (workdir / "cli-best" / "saved_model").exists()


def test_refit_within_a_time_budget_says_it_stopped_for_it(workdir: Path, study_url, capsys):
    code = refit.main(["--study", "tiny", "--storage", study_url, "--max-epochs", "3",
                       "--budget-minutes", "0.0001", "--out", str(workdir / "timed"),
                       "--no-savedmodel"])  # fmt: skip
    assert code == 0
    card = read_card(workdir / "timed")
    assert (card.epochs_trained, card.stopped_by) == (1, "time")
    assert "1 epochs (best 1; stopped: the time budget ran out)" in capsys.readouterr().out


def test_the_refit_minutes_count_from_the_commands_start(workdir: Path, study_url):
    # what ran before training (starting the backend, loading the data) counts: here an hour
    study = optuna.load_study(study_name="tiny", storage=study_url)
    result = refit.refit(study, max_epochs=3, budget_minutes=30, started=time.time() - 3600,
                         out=workdir / "late", savedmodel=False)  # fmt: skip
    assert (result.card.epochs_trained, result.card.stopped_by) == (1, "time")


def test_a_budget_of_no_minutes_is_one_line_before_training(workdir: Path, study_url, capsys):
    code = refit.main(["--study", "tiny", "--storage", study_url, "--budget-minutes", "0",
                       "--out", str(workdir / "never")])  # fmt: skip
    assert code != 0
    assert capsys.readouterr().err == "error: --budget-minutes must be positive, got 0.0\n"
    assert not (workdir / "never").exists()


@pytest.mark.skipif(has_nvidia_device(), reason="on a GPU machine the native lines stay")
def test_the_refit_command_prints_no_native_start_up_lines(workdir: Path, study_url):
    out = str(workdir / "quiet-best")
    command = [sys.executable, "-m", "search.refit", "--study", "tiny", "--storage", study_url,
               "--max-epochs", "1", "--out", out, "--no-savedmodel"]  # fmt: skip
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "exported to" in done.stdout
    # TensorFlow's abseil lines and its cuInit error on a machine without a GPU
    for noise in ("absl::InitializeLog", "cuInit", "cudart_stub", "I0000", "E0000"):
        assert noise not in done.stderr, done.stderr


def test_refit_without_a_complete_trial_fails_in_one_line(workdir: Path, capsys):
    url = f"sqlite:///{workdir / 'empty.db'}"
    make_study(url, "nothing", [(BEST, None, TrialState.PRUNED), (BEST, None, TrialState.FAIL)])
    code = refit.main(["--study", "nothing", "--storage", url])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "no COMPLETE trial" in err and "1 pruned, 1 fail" in err


def test_refit_of_an_unknown_study_names_the_stored_ones(workdir: Path, study_url, capsys):
    assert refit.main(["--study", "nope", "--storage", study_url]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no study 'nope'" in err and "tiny" in err


def test_base_rate_probabilities_repeat_the_train_positive_rates():
    train = np.array([[1, 0], [1, 0], [0, 0], [1, 1]])
    probs = base_rate_probs(train, 3)
    assert probs.shape == (3, 2)
    np.testing.assert_allclose(probs[2], [0.75, 0.25])


def test_the_recorded_export_outlives_the_next_refit(workdir: Path, refitted, study_url):
    """The study and the report name the stable link, not the versioned folder behind it."""
    study = optuna.load_study(study_name="tiny", storage=study_url)
    out = workdir / "twice" / "best"
    for _ in range(2):
        refit.refit(study, max_epochs=1, patience=1, out=out, savedmodel=False)
    recorded = Path(study.user_attrs["best_export"]["path"])
    assert recorded == out and out.is_symlink()
    keras.saving.load_model(recorded / "model.keras")  # still there after the second refit
    assert report.main(["--study", "tiny", "--storage", study_url]) == 0
    page = (workdir / "studies" / "tiny" / "report" / "index.html").read_text()
    assert f"exported to <code>{out}</code>" in page and ".best.v-" not in page
