"""A password anywhere in the storage URL (netloc or query) is never shown or stored."""

from __future__ import annotations

import optuna
import pytest

from search import run
from search.coordination.storage import mask_url
from search.report import page as report

from .conftest import TINY_RUN


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:pw1@h/db", "postgresql+psycopg://u:***@h/db"),
        ("postgresql+psycopg://u@h/db?password=pw1", "postgresql+psycopg://u@h/db?password=***"),
        (
            "postgresql+psycopg://u@h/db?sslmode=require&sslpassword=pw1",
            "postgresql+psycopg://u@h/db?sslmode=require&sslpassword=***",
        ),
        (
            "postgresql+psycopg://u:pw1@h:port/db?password=pw1",
            "postgresql+psycopg://u:***@h:port/db?password=***",
        ),  # fmt: skip
    ],
)
def test_every_credential_is_masked(url, shown):
    assert mask_url(url) == shown


def test_a_password_in_the_query_warns_like_one_in_the_netloc(in_search_home, capsys):
    url = "postgresql+psycopg://u@127.0.0.1:1/x?password=topsecret"
    assert run.main([*TINY_RUN, "--trials", "1", "--storage", url]) == 2
    out, err = capsys.readouterr()
    warning, error = err.splitlines()
    assert "visible in the process list" in warning
    assert "postgresql+psycopg://u@127.0.0.1:1/x?password=***" in error
    assert "topsecret" not in out + err


@pytest.mark.postgres
def test_a_query_password_reaches_neither_console_nor_study_nor_report(
    in_search_home, postgres_url, capfd, tmp_path
):
    url = f"{postgres_url}?password=topsecret"  # trust auth: any password is accepted
    assert run.main([*TINY_RUN, "--trials", "1", "--storage", url]) == 0
    assert report.main(["--storage", url, "--out", str(tmp_path / "report")]) == 0
    out, err = capfd.readouterr()
    assert "password=***" in out and "topsecret" not in out + err
    page = (tmp_path / "report" / "index.html").read_text()
    assert "password=***" in page and "topsecret" not in page
    study = optuna.load_study(study_name="demo", storage=postgres_url)
    stored = [study.user_attrs] + [(t.user_attrs, t.system_attrs) for t in study.trials]
    assert "topsecret" not in repr(stored)
