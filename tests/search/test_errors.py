"""Bad storage, names and studies: one `error:` line, exit 2, nothing written, no traceback.

Every command runs in-process on real SQLite files; "nothing written" is checked by listing
the working folder before and after.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from model import ModelParams
from search import dashboard, refit, run
from search.report import page as report
from search.trial.records import ExportRecord
from tests.cards import tiny_card

from .conftest import TINY_RUN
from .test_refit import BEST, make_study

optuna.logging.set_verbosity(optuna.logging.WARNING)

COMMANDS = {
    "run": lambda storage, *extra: run.main(
        [*TINY_RUN, "--trials", "1", "--storage", storage, *extra]
    ),  # fmt: skip
    "refit": lambda storage, *extra: refit.main(
        ["--storage", storage, "--max-epochs", "1", *extra]
    ),  # fmt: skip
    "report": lambda storage, *extra: report.main(["--storage", storage, *extra]),
    "dashboard": lambda storage, *extra: dashboard.main(["--storage", storage, "--port", "0"]),
}


def _files(folder: Path) -> dict[str, float]:
    """What a command wrote, the study database itself aside (opening it may switch it to WAL)."""
    return {str(p): p.stat().st_mtime for p in sorted(folder.rglob("*")) if ".db" not in p.name}


def _assert_one_error_line(capsys, code: int, *expected: str) -> str:
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for text in expected:
        assert text in err
    return err


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> Path:
    """An empty working folder: data/ or studies/ appearing in it means something was written."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def read_only_folder(tmp_path) -> Path:
    """A folder this process cannot write to (root ignores permissions: /proc refuses files)."""
    if os.geteuid() == 0:
        return Path("/proc")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("command", ["run", "refit", "report"])
def test_a_port_that_is_not_a_number(fresh_home, capsys, command):
    url = "postgresql+psycopg://u:s3cret@127.0.0.1:abc/db"
    err = _assert_one_error_line(capsys, COMMANDS[command](url), "its port is not a number",
                                 "postgresql+psycopg://u:***@127.0.0.1:abc/db")  # fmt: skip
    assert "s3cret" not in err
    assert _files(fresh_home) == {}


@pytest.mark.parametrize("command", ["run", "refit", "report", "dashboard"])
def test_a_file_that_is_not_a_database(fresh_home, capsys, command):
    (fresh_home / "notes.db").write_text("not a database\n")
    before = _files(fresh_home)
    code = COMMANDS[command](f"sqlite:///{fresh_home}/notes.db")
    _assert_one_error_line(capsys, code, "file is not a database")
    assert _files(fresh_home) == before
    assert (fresh_home / "notes.db").read_text() == "not a database\n"


@pytest.mark.parametrize("command", ["run", "dashboard"])
def test_sqlite_in_a_read_only_folder(fresh_home, read_only_folder, capsys, command):
    code = COMMANDS[command](f"sqlite:///{read_only_folder}/studies.db")
    _assert_one_error_line(capsys, code, "unable to open database file", "read-only")
    assert _files(fresh_home) == {}


@pytest.mark.parametrize("command", ["refit", "report"])
def test_refit_and_report_create_no_database_for_a_missing_path(
    fresh_home, read_only_folder, capsys, command
):
    for url in (f"sqlite:///{fresh_home}/typo.db", f"sqlite:///{read_only_folder}/studies.db"):
        _assert_one_error_line(capsys, COMMANDS[command](url), "no database at")
    assert _files(fresh_home) == {}


@pytest.mark.parametrize("command", ["run", "refit", "report"])
def test_a_study_name_with_a_slash(fresh_home, capsys, command):
    code = COMMANDS[command](f"sqlite:///{fresh_home}/s.db", "--study", "a/b")
    _assert_one_error_line(capsys, code, "study name 'a/b'")
    assert _files(fresh_home) == {}


def test_in_memory_sqlite_with_several_workers_is_refused(fresh_home, capsys):
    code = COMMANDS["run"]("sqlite:///:memory:", "--workers", "2")
    _assert_one_error_line(capsys, code, "in-memory SQLite", "--workers 2")
    assert _files(fresh_home) == {}


def test_run_checks_the_storage_before_it_prepares_data(fresh_home, read_only_folder, capsys):
    # --data synthetic would write data/ here first if the storage were checked late
    code = COMMANDS["run"](f"sqlite:///{read_only_folder}/studies.db", "--data", "synthetic")
    _assert_one_error_line(capsys, code, "cannot open storage")
    assert not (fresh_home / "data").exists()


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["--epochs", "3"], "epochs 2 (asked 3)"),
        (["--seed", "7"], "seed 0 (asked 7)"),
        (["--data", "data/celeba"], "data 'synthetic' (asked 'data/celeba')"),
    ],
)
def test_resuming_with_other_data_epochs_or_seed_is_refused(fresh_home, capsys, changed, expected):
    url = f"sqlite:///{fresh_home}/resume.db"
    study = optuna.create_study(storage=url, study_name="demo", direction="maximize")
    settings = {"data": "synthetic", "image_size": 16, "space": "demo", "metric": "macro",
                "epochs": 2, "synthetic_n": 300, "seed": 0}  # fmt: skip
    for key, value in settings.items():
        study.set_user_attr(key, value)
    before = _files(fresh_home)
    _assert_one_error_line(capsys, COMMANDS["run"](url, *changed), expected)
    assert _files(fresh_home) == before  # refused before any data was prepared


def test_refit_of_a_study_made_by_plain_optuna(fresh_home, capsys):
    url = f"sqlite:///{fresh_home}/plain.db"
    plain = optuna.create_study(storage=url, study_name="plain")
    plain.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    before = _files(fresh_home)
    _assert_one_error_line(capsys, COMMANDS["refit"](url), "not created by search.run")
    assert _files(fresh_home) == before


def test_refit_checks_its_output_folder_before_training(fresh_home, read_only_folder, capsys):
    url = f"sqlite:///{fresh_home}/tiny.db"
    make_study(url, "tiny", [(BEST, 0.7, TrialState.COMPLETE)])
    before = _files(fresh_home)
    code = COMMANDS["refit"](url, "--out", str(read_only_folder / "export"))
    _assert_one_error_line(capsys, code, f"cannot write to {read_only_folder}/export")
    assert _files(fresh_home) == before  # no data prepared, nothing trained or written


def test_a_report_whose_card_lacks_a_section(fresh_home, capsys):
    url = f"sqlite:///{fresh_home}/tiny.db"
    study = make_study(url, "tiny", [(BEST, 0.7, TrialState.COMPLETE)])
    export = fresh_home / "export"
    export.mkdir()
    card = json.loads(tiny_card(32, ModelParams(conv_widths=(4, 8, 16, 32))).to_json())
    del card["test"]
    (export / "model_card.json").write_text(json.dumps(card))
    ExportRecord(path=str(export), trial=0, test_micro_auc=None, test_macro_auc=None).save(study)
    before = _files(fresh_home)
    _assert_one_error_line(capsys, COMMANDS["report"](url), "the field 'test' is missing")
    assert _files(fresh_home) == before
