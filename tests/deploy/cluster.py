"""Local stand-ins for the compose services: worker and dashboard processes on one database.

Each process runs the exact command docker-compose.yml gives its service (see compose.py),
with the environment the compose file gives it, in a working folder that plays the role of
the container's /work (data cache and studies/ relative to it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import optuna
from optuna.trial import FrozenTrial, TrialState

from tests.deploy.compose import REPO, service_argv, service_environment, with_option

T = TypeVar("T")

TEST_APPLICATION = "deploy-test"  # the test's own connections, left out of connection counts
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
DASHBOARD_TOKEN = "cluster-test-token"  # what compose takes from .env


@dataclass(frozen=True)
class Database:
    name: str
    role: str  # the owner, as the workers log in
    password: str
    dashboard_role: str  # read-only, made by the compose file's init script
    dashboard_password: str

    @property
    def url(self) -> str:
        # The test's own reads go as the role too: tables a superuser created first would be
        # out of the workers' reach.
        return f"postgresql+psycopg://{self.role}:{self.password}@127.0.0.1:5432/{self.name}"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cmdline(self) -> str:
        return Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@dataclass
class Cluster:
    """Workers and a dashboard started as the compose file starts them, on one database."""

    workdir: Path
    logs: Path
    db: Database
    settings: dict[str, str]  # the compose variables of the search (SEARCH_*)
    processes: list[Process] = field(default_factory=list)

    @property
    def study_name(self) -> str:
        return self.settings["SEARCH_STUDY"]

    @property
    def trials_budget(self) -> int:
        return int(self.settings["SEARCH_TRIALS"])

    def compose_variables(self) -> dict[str, str]:
        return {
            "POSTGRES_USER": self.db.role,
            "POSTGRES_PASSWORD": self.db.password,
            "POSTGRES_DB": self.db.name,
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "DASHBOARD_DB_USER": self.db.dashboard_role,
            "DASHBOARD_DB_PASSWORD": self.db.dashboard_password,
            "DASHBOARD_TOKEN": DASHBOARD_TOKEN,
            **self.settings,
        }

    def start_worker(self) -> Process:
        return self._start("worker", service_argv("worker", self.compose_variables()))

    def start_dashboard(self, port: int) -> Process:
        # In the container it binds 0.0.0.0 and docker publishes it on the host's 127.0.0.1;
        # a process on the host binds 127.0.0.1 itself.
        argv = service_argv("dashboard", self.compose_variables())
        argv = with_option(with_option(argv, "--host", "127.0.0.1"), "--port", str(port))
        return self._start("dashboard", argv)

    def _start(self, service: str, argv: list[str]) -> Process:
        name = f"{service}-{sum(p.name.startswith(service) for p in self.processes)}"
        env = {
            **os.environ,
            **service_environment(service, self.compose_variables()),
            "PYTHONPATH": str(REPO),  # the image installs the project; here it is the checkout
        }
        log = self.logs / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv, cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def storage(self) -> optuna.storages.RDBStorage:
        return optuna.storages.RDBStorage(
            self.db.url,
            engine_kwargs={
                "pool_pre_ping": True,
                "connect_args": {"application_name": TEST_APPLICATION},
            },
        )

    def trials(self, storage: optuna.storages.RDBStorage) -> list[FrozenTrial]:
        """The study's trials, [] before a worker has created it."""
        try:
            study_id = storage.get_study_id_from_name(self.study_name)
        except KeyError:
            return []
        return storage.get_all_trials(study_id, deepcopy=False)

    def wait_workers(self, workers: list[Process], timeout_s: float) -> list[int]:
        deadline = time.monotonic() + timeout_s
        codes = []
        for worker in workers:
            try:
                codes.append(worker.popen.wait(timeout=max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"{worker.name} still running:\n{worker.output()[-3000:]}"
                ) from None
        return codes

    def check_running(self, processes: list[Process]) -> None:
        """Fail the test at once, with its output, if one of `processes` has exited."""
        for process in processes:
            if process.popen.poll() is not None:
                raise AssertionError(
                    f"{process.name} exited with {process.popen.returncode}:\n"
                    f"{process.output()[-3000:]}"
                )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGCONT)
                process.popen.kill()
                process.popen.wait()


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str, poll_s: float = 0.3) -> T:
    """The first truthy value `check` returns, polling until `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def get_json(port: int, path: str) -> dict:
    """GET `path` with the cluster's dashboard token (a dashboard without one ignores it)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", f"Bearer {DASHBOARD_TOKEN}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def finished(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if t.state in FINISHED]


def listening_addresses(pid: int) -> set[str]:
    """The addresses a process listens on (TCP), from `ss`."""
    lines = subprocess.run(
        ["ss", "-H", "-ltnp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    mine = [line.split() for line in lines if f"pid={pid}," in line]
    return {fields[3].rsplit(":", 1)[0] for fields in mine}
