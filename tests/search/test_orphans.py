"""A worker that dies, or loses the database, between claiming a trial and its first beat.

Optuna never fails a RUNNING trial that has no heartbeat; such a trial would hold a slot of the
budget forever and every other worker would wait on it. The victims here are real processes
on real storages; they stop exactly where the claim has created the trial (study.ask under
the study lock) and before its first beat, which is the state a crash there leaves.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import optuna
import psycopg
import pytest
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from search.coordination.budget import Claim, claim_trial
from search.coordination.heartbeat import first_beat
from search.coordination.lock import study_lock
from search.coordination.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

GRACE_S = 2  # short, so the orphan is recognised within seconds
BUDGET = 4


def _worker(url: str, study_name: str) -> None:
    """The other worker: claims and finishes trials until the budget is spent."""
    study = optuna.load_study(
        study_name=study_name, storage=open_storage(url, grace_period=GRACE_S)
    )
    while True:
        with study_lock(url, study_name):
            result = claim_trial(study, BUDGET)
        if result.claim is Claim.DONE:
            return
        if result.claim is Claim.WAIT:
            time.sleep(0.2)
            continue
        study.tell(result.trial, 0.5)


def _claim_then_die(url: str, study_name: str) -> None:
    study = optuna.load_study(
        study_name=study_name, storage=open_storage(url, grace_period=GRACE_S)
    )
    with study_lock(url, study_name):
        study.ask()  # what the claim does first; the beat would come next
        os.kill(os.getpid(), signal.SIGKILL)


def _claim_then_lose_the_database(url: str, study_name: str, asked, cut) -> None:
    study = optuna.load_study(
        study_name=study_name, storage=open_storage(url, grace_period=GRACE_S)
    )
    with study_lock(url, study_name):
        trial = study.ask()
        asked.set()
        cut.wait(30)
        first_beat(study, trial)  # the database is gone: this raises, the worker dies


def _finish_with_other_worker(url: str) -> optuna.Study:
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=_worker, args=(url, "orphans"))
    worker.start()
    worker.join(timeout=90)
    if worker.is_alive():
        worker.kill()
        worker.join()
        pytest.fail("the other worker waited on the orphaned trial for 90 s")
    assert worker.exitcode == 0
    return optuna.load_study(study_name="orphans", storage=url)


def _assert_exact_budget_and_orphan_failed(study: optuna.Study) -> None:
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == BUDGET
    assert TrialState.RUNNING not in states
    assert study.trials[0].state == TrialState.FAIL  # the orphan, failed as stale


def _kill_between_claim_and_first_beat(url: str) -> None:
    optuna.create_study(storage=open_storage(url), study_name="orphans")
    victim = multiprocessing.get_context("spawn").Process(
        target=_claim_then_die, args=(url, "orphans")
    )
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == -signal.SIGKILL


def test_a_worker_killed_before_its_first_beat_leaves_no_trial_running_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/orphans.db"
    _kill_between_claim_and_first_beat(url)
    _assert_exact_budget_and_orphan_failed(_finish_with_other_worker(url))


@pytest.mark.postgres
def test_a_worker_killed_before_its_first_beat_leaves_no_trial_running_on_postgres(
    postgres_url,
):
    _kill_between_claim_and_first_beat(postgres_url)
    _assert_exact_budget_and_orphan_failed(_finish_with_other_worker(postgres_url))


@pytest.mark.postgres
def test_a_connection_broken_before_the_first_beat_leaves_no_trial_running(postgres_url):
    name = make_url(postgres_url).database
    victim_url = f"{postgres_url}?application_name=orphan-victim"
    optuna.create_study(storage=open_storage(postgres_url), study_name="orphans")
    context = multiprocessing.get_context("spawn")
    asked, cut = context.Event(), context.Event()
    victim = context.Process(
        target=_claim_then_lose_the_database, args=(victim_url, "orphans", asked, cut)
    )
    victim.start()
    assert asked.wait(60)
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
        # Cut the victim's connections and keep it from reconnecting until it has given up.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'orphan-victim'"
        )
        cut.set()
        victim.join(timeout=60)
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert victim.exitcode not in (0, None)  # its first beat failed with the connection
    _assert_exact_budget_and_orphan_failed(_finish_with_other_worker(postgres_url))
