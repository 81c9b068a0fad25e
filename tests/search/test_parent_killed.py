"""`search.run --workers 2` when the parent or one of its workers is SIGKILLed: real processes."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from search.coordination.storage import open_storage

from .conftest import start_search

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for_two_running_trials(url: str, name: str, parent, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert parent.poll() is None, parent.stdout.read()
        try:
            running = _study(url, name).get_trials(states=(TrialState.RUNNING,))
        except KeyError:  # the study does not exist yet
            running = []
        if len([t for t in running if t.intermediate_values]) == 2:
            return
        time.sleep(0.2)
    raise AssertionError("the two workers did not start training")


def test_workers_stop_like_on_sigterm_when_the_parent_is_sigkilled(search_home):
    url = f"sqlite:///{search_home}/orphaned.db"
    # a budget far beyond what the test waits for: workers that ran on would be seen running
    args = ["--trials", "50", "--workers", "2", "--study", "orphaned", "--epochs", "30"]
    parent = start_search(search_home, *args, storage=url)
    _wait_for_two_running_trials(url, "orphaned", parent)
    workers = _children(parent.pid)
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 120
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    still_running = [pid for pid in workers if _alive(pid)]
    for pid in still_running:
        os.kill(pid, signal.SIGKILL)
    assert not still_running, "the workers ran on as orphans"
    study = _study(url, "orphaned")
    assert not study.get_trials(states=(TrialState.RUNNING,))
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 2
    assert all("interrupted" in t.user_attrs["fail_reason"] for t in failed)


def test_a_parent_whose_worker_was_sigkilled_exits_0_when_the_budget_is_met(search_home):
    url = f"sqlite:///{search_home}/one-killed.db"
    args = ["--trials", "3", "--workers", "2", "--study", "one-killed", "--epochs", "30",
            "--grace-period", "6"]  # fmt: skip
    parent = start_search(search_home, *args, storage=url)
    _wait_for_two_running_trials(url, "one-killed", parent)
    os.kill(_children(parent.pid)[0], signal.SIGKILL)
    out, _ = parent.communicate(timeout=600)
    assert parent.returncode == 0, out
    assert re.search(r"worker\(s\) killed \(\d by SIGKILL\), but the budget was met", out)
    study = _study(url, "one-killed")
    assert len(study.get_trials(states=FINISHED)) == 3
    assert not study.get_trials(states=(TrialState.RUNNING,))
