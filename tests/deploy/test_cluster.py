"""Proof that the compose deployment survives faults: real PostgreSQL, real worker processes.

Workers and the dashboard run the exact commands docker-compose.yml gives its services.
Each test prints a RELIABILITY line with its figures (docs/operations.md, "Reliability"; run
with -s).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from tests.conftest import _admin_connection
from tests.deploy.cluster import (
    TEST_APPLICATION,
    Cluster,
    Process,
    finished,
    get_json,
    listening_addresses,
    wait_for,
)
from tests.deploy.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS_DONE_S = 300  # generous: eight TensorFlow processes share two cores
CONNECTION_ERRORS = re.compile(
    r"Traceback|OperationalError|connection failed|storage unreachable|^error:", re.MULTILINE
)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_dashboard_sigkill_replacement_and_no_password(make_cluster) -> None:
    cluster: Cluster = make_cluster("sigkill", trials=9)
    port = free_port()
    dashboard = cluster.start_dashboard(port)
    workers = [cluster.start_worker() for _ in range(3)]
    storage = cluster.storage()
    cmdlines = {p.name: p.cmdline() for p in [dashboard, *workers]}

    # The dashboard lists the study, its trials and their per-epoch values mid-search.
    def progress() -> dict | None:
        cluster.check_running([dashboard, *workers])
        return _dashboard_progress(port, cluster.study_name)

    detail = wait_for(progress, 180, "the dashboard to show a running trial and epochs")
    assert all(w.popen.poll() is None for w in workers), "the search ended too early"
    shown = next(t for t in detail["trials"] if t["intermediate_values"])
    stored = next(t for t in cluster.trials(storage) if t.number == shown["number"])
    assert {v["step"]: v["value"] for v in shown["intermediate_values"]} == {
        step: value for step, value in stored.intermediate_values.items() if step in
        {v["step"] for v in shown["intermediate_values"]}
    }  # fmt: skip
    assert listening_addresses(dashboard.pid) == {"127.0.0.1"}

    victim, running = _kill_one_mid_trial(cluster, storage, workers)
    replacement = cluster.start_worker()
    cmdlines[replacement.name] = replacement.cmdline()
    survivors = [w for w in workers if w is not victim] + [replacement]
    codes = cluster.wait_workers(survivors, WORKERS_DONE_S)
    assert codes == [0] * len(survivors), _outputs(survivors)
    assert victim.popen.returncode == -signal.SIGKILL

    trials = cluster.trials(storage)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert len(finished(trials)) == cluster.trials_budget
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    killed = [t for t in trials if t.state == TrialState.FAIL and t.number in running]
    assert len(killed) == 1, [(t.number, t.state) for t in trials]
    retries = [
        t
        for t in trials
        if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed[0].number
    ]
    assert len(retries) == 1 and retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retries[0].params == killed[0].params

    dashboard.popen.send_signal(signal.SIGTERM)
    assert dashboard.popen.wait(timeout=30) == 130
    for name, line in cmdlines.items():
        assert cluster.db.password not in line, name
    for process in [dashboard, *workers, replacement]:
        assert cluster.db.password not in process.output(), process.name
    print(
        f"\nRELIABILITY sigkill: 3 workers + 1 replacement + dashboard, budget "
        f"{cluster.trials_budget}, faults 1 SIGKILL mid-trial (trial {killed[0].number} FAIL, "
        f"retried as {retries[0].number}), finished {len(finished(trials))}, lost 0"
    )


def test_eight_workers_exact_budget_and_peak_connections(make_cluster) -> None:
    cluster: Cluster = make_cluster("eight", trials=12)
    peak = _ConnectionPeak(cluster.db.name)
    with peak:
        workers = [cluster.start_worker() for _ in range(8)]
        codes = cluster.wait_workers(workers, WORKERS_DONE_S)
    assert codes == [0] * 8, _outputs(workers)
    for worker in workers:
        assert not CONNECTION_ERRORS.search(worker.output()), worker.output()[-3000:]
    trials = cluster.trials(cluster.storage())
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == len(trials)
    assert len(finished(trials)) == cluster.trials_budget
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert peak.value > 0
    print(
        f"\nRELIABILITY eight workers: budget {cluster.trials_budget}, finished "
        f"{len(finished(trials))}, trials created {len(trials)}, duplicate numbers 0, "
        f"connection errors 0, peak PostgreSQL connections {peak.value} "
        f"({peak.value / 8:.1f} per worker)"
    )


def test_postgres_outage_loses_no_finished_trial(make_cluster) -> None:
    # A grace period longer than the outage, as in production (120 s against a restart of a
    # few seconds): otherwise a live trial whose heartbeats the outage held back is failed as
    # stale by another worker (see docs/operations.md, "Reliability").
    cluster: Cluster = make_cluster("outage", trials=10, SEARCH_GRACE_PERIOD="30")
    workers = [cluster.start_worker() for _ in range(3)]
    storage = cluster.storage()

    def two_finished() -> bool:
        cluster.check_running(workers)
        return len(finished(cluster.trials(storage))) >= 2

    wait_for(two_finished, 180, "two finished trials")
    before = {t.number: (t.state, t.value) for t in finished(cluster.trials(storage))}
    outage_s = _postgres_outage(5.0)

    codes = cluster.wait_workers(workers, WORKERS_DONE_S)
    for worker, code in zip(workers, codes, strict=True):
        if code != 0:  # allowed only with one clear line, no traceback
            last = worker.output().strip().splitlines()[-1]
            assert last.startswith("error: ") and "Traceback" not in worker.output(), last
    resumed = 0
    if any(codes):  # what an operator does after a long outage: start a worker again
        replacement = cluster.start_worker()
        assert cluster.wait_workers([replacement], WORKERS_DONE_S) == [0], replacement.output()
        resumed = 1
    trials = cluster.trials(storage)
    after = {t.number: (t.state, t.value) for t in finished(trials)}
    failed = sum(t.state == TrialState.FAIL for t in trials)
    lost = [n for n, seen in before.items() if after.get(n) != seen]
    assert not lost
    assert len(after) == cluster.trials_budget
    for worker in workers:
        assert cluster.db.password not in worker.output()
    print(
        f"\nRELIABILITY outage: 3 workers, budget {cluster.trials_budget}, PostgreSQL down "
        f"{outage_s:.1f}s after {len(before)} finished trials, worker exit codes {codes}, "
        f"restarted {resumed}, trials caught mid-storage-call and failed {failed}, "
        f"finished {len(after)}, lost {len(lost)}"
    )


def _dashboard_progress(port: int, study_name: str) -> dict | None:
    try:
        studies = get_json(port, "/api/studies")["study_summaries"]
        study = next((s for s in studies if s["study_name"] == study_name), None)
        if study is None:
            return None
        detail = get_json(port, f"/api/studies/{study['study_id']}")
    except OSError:  # not listening yet
        return None
    trials = detail["trials"]
    running = any(t["state"] == "Running" for t in trials)
    return detail if running and any(t["intermediate_values"] for t in trials) else None


def _kill_one_mid_trial(cluster: Cluster, storage, workers: list[Process]):
    """SIGKILL workers[0] at a moment all workers are inside a trial.

    The workers are frozen while the RUNNING trials are counted: with as many RUNNING trials
    as workers, each worker (the victim included) is mid-trial. Only trials whose parameters
    are stored count: a trial is RUNNING from its creation, and one killed before its
    parameters were sampled is retried with new ones.
    """
    victim = workers[0]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for worker in workers:
            worker.popen.send_signal(signal.SIGSTOP)
        for worker in workers:
            wait_for(lambda w=worker: _state(w.pid) == "T", 10, "SIGSTOP", poll_s=0.01)
        trials = cluster.trials(storage)
        running = {t.number for t in trials if t.state == TrialState.RUNNING and t.params}
        all_busy = len(running) == len(workers)
        if all_busy:
            victim.popen.kill()
            victim.popen.wait()
        for worker in workers:
            worker.popen.send_signal(signal.SIGCONT)  # a no-op for the reaped victim
        if all_busy:
            return victim, running
        time.sleep(0.2)
    raise AssertionError("the workers were never all inside a trial at once")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _postgres_outage(seconds: float) -> float:
    """Stop the local PostgreSQL, wait, start it again (always), return the outage length."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    control = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    started = time.monotonic()
    try:
        subprocess.run([*control, "stop", "-m", "fast"], check=True, capture_output=True)
        time.sleep(seconds)
    finally:
        subprocess.run([*control, "start"], check=True, capture_output=True)
        wait_for(_postgres_ready, 60, "PostgreSQL to accept connections again")
    return time.monotonic() - started


def _postgres_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0


class _ConnectionPeak:
    """Polls pg_stat_activity for one database and keeps the highest connection count."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.value = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _ConnectionPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        with _admin_connection() as admin:
            while not self._stop.wait(0.1):
                (count,) = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name <> %s",
                    (self.database, TEST_APPLICATION),
                ).fetchone()
                self.value = max(self.value, count)


def _outputs(processes: list[Process]) -> str:
    return "\n".join(f"--- {p.name}\n{p.output()[-2000:]}" for p in processes)
