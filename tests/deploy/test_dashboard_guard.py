"""The guard in front of optuna-dashboard, over real HTTP against a real dashboard process
on a real SQLite study: read-only by default, Host headers checked, a token beyond loopback."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest

from tests.deploy.cluster import Database, wait_for
from tests.deploy.compose import REPO
from tests.deploy.conftest import free_port

TOKEN = "s3cret-token-for-tests"


def _study(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'watched.db'}"
    study = optuna.create_study(storage=url, study_name="watched")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    return url


def _request(port: int, method: str, path: str, host: str | None = None, auth: str | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    if auth is not None:
        headers["Authorization"] = auth
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def _dashboard(
    url: str, tmp_path: Path, *args: str, env: dict | None = None, token: str | None = None
) -> Iterator[int]:
    port = free_port()
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    argv = [sys.executable, "-m", "search.dashboard", "--storage", url, "--port", str(port)]
    log = tmp_path / f"dashboard-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([*argv, *args], cwd=tmp_path, env=environ, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: _answers(port, token), 60, "the dashboard to answer")
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _answers(port: int, token: str | None) -> bool:
    auth = f"Bearer {token}" if token else None
    try:
        return _request(port, "GET", "/api/studies", auth=auth)[0] == 200
    except OSError:
        return False


def test_read_only_by_default_and_foreign_hosts_refused(tmp_path: Path):
    url = _study(tmp_path)
    with _dashboard(url, tmp_path) as port:
        status, body = _request(port, "DELETE", "/api/studies/1")
        # the frontend shows `reason` from a JSON body ("Failed to delete undefined." without)
        assert status == 405 and "read-only" in json.loads(body)["reason"]
        assert _request(port, "POST", "/api/studies/1/note", host=f"localhost:{port}")[0] == 405
        assert _request(port, "GET", "/api/studies/1")[0] == 200
        assert _request(port, "HEAD", "/api/studies")[0] == 200
        # a page of evil.example whose name now resolves to 127.0.0.1 (DNS rebinding)
        assert _request(port, "GET", "/api/studies", host=f"evil.example:{port}")[0] == 421
        assert _request(port, "DELETE", "/api/studies/1", host="evil.example")[0] == 421
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["watched"]


def test_writes_pass_with_allow_writes(tmp_path: Path):
    url = _study(tmp_path)
    with _dashboard(url, tmp_path, "--allow-writes") as port:
        assert _request(port, "DELETE", "/api/studies/1")[0] in (200, 204)
    assert optuna.get_all_study_summaries(url) == []


def test_beyond_loopback_a_token_from_the_environment_is_required(tmp_path: Path):
    url = _study(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "search.dashboard", "--storage", url, "--host", "0.0.0.0"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO), "DASHBOARD_TOKEN": ""},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: listening on 0.0.0.0 opens the dashboard")
    assert result.stderr.count("\n") == 1

    env = {"DASHBOARD_TOKEN": TOKEN}
    with _dashboard(url, tmp_path, "--host", "0.0.0.0", env=env, token=TOKEN) as port:
        assert _request(port, "GET", "/api/studies")[0] == 401
        assert _request(port, "GET", "/api/studies", auth="Bearer wrong")[0] == 401
        assert _request(port, "GET", "/api/studies", auth=f"Bearer {TOKEN}")[0] == 200
        basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
        assert _request(port, "GET", "/dashboard", auth=f"Basic {basic}")[0] == 200
        assert _request(port, "DELETE", "/api/studies/1", auth=f"Bearer {TOKEN}")[0] == 405
        check = [sys.executable, "-m", "search.dashboard", "--check", "--host", "0.0.0.0",
                 "--port", str(port)]  # fmt: skip
        environ = {**os.environ, "PYTHONPATH": str(REPO), **env}
        answered = subprocess.run(check, env=environ, capture_output=True, text=True, timeout=60)
        assert answered.returncode == 0, answered.stderr
    gone = subprocess.run(check, env=environ, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 2 and gone.stderr.startswith("error: no dashboard answers at")


@pytest.mark.postgres
def test_the_read_only_database_role_reads_the_study_and_cannot_write(
    database: Database, tmp_path: Path
):
    # the role was made before the tables existed, as on the first `docker compose up`
    study = optuna.create_study(storage=database.url, study_name="watched")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    url = f"postgresql+psycopg://{database.dashboard_role}@127.0.0.1:5432/{database.name}"
    env = {"PGPASSWORD": database.dashboard_password}
    with _dashboard(url, tmp_path, "--allow-writes", env=env) as port:
        status, body = _request(port, "GET", "/api/studies/1")
        assert status == 200 and len(json.loads(body)["trials"]) == 2
        assert _request(port, "DELETE", "/api/studies/1")[0] >= 400  # refused by the database
    assert len(optuna.load_study(study_name="watched", storage=database.url).trials) == 2
