"""The study lock: one worker at a time creates the study or claims a trial.

A file lock for SQLite, a PostgreSQL advisory lock otherwise. Both are taken without
blocking and retried with back-off, so a stalled holder never stops the others silently:
after `WARN_AFTER_S` of waiting one line says who holds the lock, after `GIVE_UP_AFTER_S`
the wait ends with one clear error. A claim holds the lock for milliseconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy

from search.coordination.storage import (
    connectable_url,
    parse_url,
    postgres_connect_args,
    sqlite_path,
)
from search.errors import StorageError

__all__ = ["GIVE_UP_AFTER_S", "WARN_AFTER_S", "advisory_key", "lock_path_for", "study_lock"]

WARN_AFTER_S = 30.0
GIVE_UP_AFTER_S = 300.0
_FIRST_DELAY_S = 0.01
_MAX_DELAY_S = 1.0

# The holder of an advisory lock: a bigint key is stored as classid (high 32 bits) and objid
# (low 32 bits) with objsubid 1.
_HOLDER_SQL = sqlalchemy.text(
    "SELECT a.pid, a.application_name, a.client_addr, a.client_hostname, a.state "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid::bigint = :high AND l.objid::bigint = :low "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@contextlib.contextmanager
def study_lock(
    url: str,
    study_name: str,
    *,
    warn_after_s: float = WARN_AFTER_S,
    give_up_after_s: float = GIVE_UP_AFTER_S,
) -> Iterator[None]:
    """A lock held by one worker at a time, across processes and (for PostgreSQL) machines.

    Raises StorageError when the lock stays taken for `give_up_after_s`.
    """
    lock_file = lock_path_for(url, study_name)
    if lock_file is not None:
        with open(lock_file, "a") as handle:
            _wait_for(
                lambda: _try_flock(handle),
                lambda: f"another process using {lock_file}",
                study_name,
                warn_after_s,
                give_up_after_s,
            )
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if parse_url(url).get_backend_name() != "postgresql":
        yield  # in-memory SQLite: one process, nothing to share
        return
    key = advisory_key(study_name)
    engine = sqlalchemy.create_engine(
        connectable_url(url),
        poolclass=sqlalchemy.pool.NullPool,
        connect_args=postgres_connect_args(url),
    )
    try:
        # Autocommit: the session holds the lock, not an open transaction idle while it waits.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

            def try_lock() -> bool:
                sql = sqlalchemy.text("SELECT pg_try_advisory_lock(:k)")
                return bool(connection.execute(sql, {"k": key}).scalar())

            # Session-level lock: PostgreSQL releases it by itself if this worker dies.
            _wait_for(
                try_lock,
                lambda: _advisory_holder(connection, key),
                study_name,
                warn_after_s,
                give_up_after_s,
            )
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def advisory_key(study_name: str) -> int:
    """The PostgreSQL advisory-lock key of a study (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big", signed=True)


def lock_path_for(url: str, study_name: str) -> Path | None:
    """Where the SQLite lock file of a study lives (None for PostgreSQL)."""
    path = sqlite_path(url)
    return None if path is None else path.with_name(path.name + f".{study_name}.lock")


def _wait_for(
    try_acquire: Callable[[], bool],
    holder: Callable[[], str],
    study_name: str,
    warn_after_s: float,
    give_up_after_s: float,
) -> None:
    started = time.monotonic()
    delay = _FIRST_DELAY_S
    warned = False
    while not try_acquire():
        waited = time.monotonic() - started
        if waited >= give_up_after_s:
            raise StorageError(
                f"gave up after {waited:.0f}s waiting for the lock of study {study_name!r}, "
                f"held by {holder()}"
            )
        if waited >= warn_after_s and not warned:
            print(
                f"waiting {waited:.0f}s for the lock of study {study_name!r}, held by {holder()}",
                flush=True,
            )
            warned = True
        time.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY_S)


def _try_flock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _advisory_holder(connection: sqlalchemy.Connection, key: int) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = connection.execute(
        _HOLDER_SQL, {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}
    ).first()
    if row is None:
        return "a session that has just let it go"
    pid, application, address, host, state = row
    where = host or address or "a local socket"
    return f"PostgreSQL pid {pid} ({application or 'no application_name'}) from {where}, {state}"
