"""The study lock never waits silently or forever: a stalled holder is named, then given up on.

The holder is a real second PostgreSQL session (or a real file lock) that takes the lock and
then does nothing, as a stalled worker would.
"""

from __future__ import annotations

import fcntl
import threading

import psycopg
import pytest

from search.coordination.lock import advisory_key, lock_path_for, study_lock
from search.errors import StorageError


def _connect(url: str, application_name: str) -> psycopg.Connection:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(conninfo, application_name=application_name)


@pytest.mark.postgres
def test_a_stalled_holder_is_named_after_a_while_and_given_up_on(postgres_url, capsys):
    holder = _connect(postgres_url, "stalled-holder")
    # Taken inside a transaction left open, as the old pg_advisory_lock worker did.
    holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("s"),))
    holder_pid = holder.info.backend_pid
    with pytest.raises(StorageError) as error:
        with study_lock(postgres_url, "s", warn_after_s=0.5, give_up_after_s=2):
            pytest.fail("the lock was taken while another session held it")
    holder.close()
    assert "study 's'" in str(error.value)
    assert f"pid {holder_pid} (stalled-holder)" in str(error.value)
    waiting = [line for line in capsys.readouterr().out.splitlines() if "waiting" in line]
    assert len(waiting) == 1
    assert f"pid {holder_pid} (stalled-holder)" in waiting[0]


@pytest.mark.postgres
def test_the_lock_is_taken_once_the_holder_lets_go_and_held_outside_a_transaction(
    postgres_url,
):
    holder = _connect(postgres_url, "brief-holder")
    holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("s"),))
    threading.Timer(1.0, holder.close).start()
    with study_lock(postgres_url, "s", warn_after_s=60, give_up_after_s=60):
        with _connect(postgres_url, "observer") as observer:
            states = observer.execute(
                "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            ).fetchall()
    assert states == [("idle",)]  # not "idle in transaction", which blocks vacuum


def test_a_held_sqlite_lock_file_is_given_up_on_with_one_clear_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/s.db"
    with open(lock_path_for(url, "s"), "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(StorageError, match="gave up after .* lock of study 's'"):
            with study_lock(url, "s", warn_after_s=0.2, give_up_after_s=1):
                pytest.fail("the lock was taken while another process held it")
    assert "s.db.s.lock" in capsys.readouterr().out
