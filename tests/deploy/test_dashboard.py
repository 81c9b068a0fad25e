"""`python -m search.dashboard` on PostgreSQL: the API shows trials and epochs, loopback only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from search.dashboard import main
from tests.deploy.cluster import Database, get_json, listening_addresses, wait_for
from tests.deploy.compose import REPO
from tests.deploy.conftest import free_port

pytestmark = pytest.mark.postgres


def test_dashboard_serves_trials_and_epochs_on_loopback_only(
    database: Database, tmp_path: Path
) -> None:
    storage = optuna.storages.RDBStorage(database.url)
    study = optuna.create_study(storage=storage, study_name="watched", direction="maximize")
    done = study.ask()
    done.suggest_int("c1", 4, 16)
    for epoch, value in enumerate((0.61, 0.67, 0.7), start=1):
        done.report(value, epoch)
    study.tell(done, 0.7)
    running = study.ask()
    running.report(0.55, 1)

    port = free_port()
    log = tmp_path / "dashboard.log"
    # The URL with its password goes by environment, as docs/operations.md says; no --host.
    env = {**os.environ, "OPTUNA_STORAGE": database.url, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "search.dashboard", "--port", str(port)]
    with open(log, "wb") as out:
        dashboard = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=out)
    try:
        studies = wait_for(lambda: _studies(port), 60, "the dashboard to answer")
        assert [s["study_name"] for s in studies] == ["watched"]
        detail = get_json(port, f"/api/studies/{studies[0]['study_id']}")
        trials = {t["number"]: t for t in detail["trials"]}
        assert trials[0]["state"] == "Complete" and trials[1]["state"] == "Running"
        assert [v["value"] for v in trials[0]["intermediate_values"]] == [0.61, 0.67, 0.7]
        assert [v["value"] for v in trials[1]["intermediate_values"]] == [0.55]

        assert listening_addresses(dashboard.pid) == {"127.0.0.1"}
        address = _non_loopback_address()
        if address is not None:
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
                pass
        cmdline = Path(f"/proc/{dashboard.pid}/cmdline").read_bytes()
        assert database.password.encode() not in cmdline
    finally:
        dashboard.send_signal(signal.SIGTERM)
        code = dashboard.wait(timeout=30)
    assert code == 130
    output = log.read_text()
    assert database.password not in output
    assert f"{database.role}:***@127.0.0.1" in output


def test_bad_storage_gets_one_line_and_a_password_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--storage", "postgresql+psycopg://someone:hunter2@127.0.0.1:1/none"])
    err = capsys.readouterr().err
    assert code == 2
    assert "hunter2" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("warning: the password in --storage is visible in the process")
    assert lines[1].startswith("error: cannot open storage postgresql+psycopg://someone:***@")


def test_port_in_use_gets_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--storage", f"sqlite:///{tmp_path}/s.db", "--port", str(port)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def _studies(port: int) -> list[dict] | None:
    try:
        return get_json(port, "/api/studies")["study_summaries"] or None
    except OSError:
        return None


def _non_loopback_address() -> str | None:
    """This machine's main address, if it has one besides loopback (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address
