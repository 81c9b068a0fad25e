"""What search.run's exit status and last lines say: the budget, not a killed worker, decides."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import optuna

from search.coordination.storage import open_storage
from search.run import main

from .conftest import TINY_RUN, start_search


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _epochs_reported(url: str, name: str) -> int:
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:  # the study does not exist yet
        return 0
    return sum(len(t.intermediate_values) for t in study.trials)


def test_a_killed_worker_under_an_epoch_budget_alone_still_exits_0(search_home):
    url = f"sqlite:///{search_home}/killed-epochs.db"
    args = ["--budget-epochs", "12", "--epochs", "4", "--workers", "2", "--pruner", "none",
            "--grace-period", "6", "--study", "killed-epochs"]  # fmt: skip
    parent = start_search(search_home, *args, storage=url)
    deadline = time.monotonic() + 180
    while _epochs_reported(url, "killed-epochs") < 1 or len(_children(parent.pid)) < 2:
        assert parent.poll() is None and time.monotonic() < deadline, parent.stdout.read()
        time.sleep(0.2)
    os.kill(_children(parent.pid)[0], signal.SIGKILL)
    out, _ = parent.communicate(timeout=300)

    assert parent.returncode == 0, out
    assert "budget was met by the others" in out
    assert _epochs_reported(url, "killed-epochs") == 12


def test_an_in_memory_storage_is_refused_in_one_line(in_search_home, capsys):
    assert main([*TINY_RUN, "--trials", "1", "--storage", "sqlite:///:memory:"]) == 2
    out, err = capsys.readouterr()
    assert (
        err.startswith("error: sqlite:///:memory: is an in-memory database")
        and err.count("\n") == 1
    )
    assert not any(line.startswith("[") for line in out.splitlines())  # nothing trained
