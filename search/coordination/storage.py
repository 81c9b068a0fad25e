"""The one place that turns a storage URL into an Optuna storage: SQLite or PostgreSQL.

SQLite gets WAL and a busy timeout so a few local workers do not fail with "database is
locked"; every storage gets a heartbeat so a killed worker's trial is failed and retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sqlite3
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._rdb import models
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from common.paths import DEFAULT_STORAGE
from search.errors import StorageError

__all__ = [
    "OrphanAwareStorage",
    "GRACE_PERIOD_S",
    "STORAGE_HELP",
    "STORAGE_ENV",
    "check_shared",
    "connectable_url",
    "mask_url",
    "parse_url",
    "open_storage",
    "postgres_connect_args",
    "resolve_storage_url",
    "retry_storage",
    "sqlite_path",
    "storage_reason",
    "warn_if_password_in_argv",
]

log = logging.getLogger(__name__)

STORAGE_ENV = "OPTUNA_STORAGE"  # lets a password stay out of the command line
STORAGE_HELP = f"SQLAlchemy URL (default ${STORAGE_ENV}, else {DEFAULT_STORAGE})"
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 120  # generous: a loaded machine can delay a heartbeat by tens of seconds
SQLITE_BUSY_TIMEOUT_S = 60
SCHEMA_RACE_ATTEMPTS = 5  # tries to open a database that other workers are creating
RETRY_WINDOW_S = 90.0  # how long a storage call keeps retrying while the database is away

T = TypeVar("T")
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token")
_SECRET_QUERY_VALUE = re.compile(rf"([?&][^=&]*(?:{'|'.join(_SECRET_WORDS)})[^=&]*=)[^&]*", re.I)
_SCHEME = re.compile(r"([\w+.-]+://)(.*)", re.S)


def resolve_storage_url(cli_value: str | None) -> str:
    """The storage URL from the command line, else $OPTUNA_STORAGE, else the SQLite default."""
    return cli_value or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def parse_url(url: str) -> sqlalchemy.URL:
    """The parsed storage URL; StorageError (one line, credentials masked) if it is malformed.

    The password may hold any character unescaped ('@', '/', '?', ':'): see `_credentials`.
    """
    parts = _credentials(url)
    try:
        if parts is None:
            return make_url(url)
        head, user, password, tail = parts
        return make_url(head + tail).set(
            username=unquote(user), password=None if password is None else unquote(password)
        )
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        # ValueError: a port that is not a number ("invalid literal for int()").
        reason = "its port is not a number" if "int()" in str(exc) else "cannot parse it"
        raise StorageError(f"not a storage URL ({reason}): {mask_url(url)}") from None


def mask_url(url: str) -> str:
    """The URL as given, with every credential (password, any secret in the query) as ***."""
    parts = _credentials(url)
    if parts is not None and parts[2] is not None:
        head, user, _, tail = parts
        url = f"{head}{user}:***@{tail}"
    return re.sub(_SECRET_QUERY_VALUE, r"\1***", url)


def _credentials(url: str) -> tuple[str, str, str | None, str] | None:
    """(scheme://, user, password or None, what follows them) of a URL that names a user.

    The credentials end at the URL's last '@': a host never holds one, while a password
    typed unescaped may (SQLAlchemy ends it at the first '@' and would show the rest as
    the host). A '/' right after '://' (sqlite:///path) means no host, hence no user.
    """
    match = _SCHEME.fullmatch(url)
    if match is None:
        return None
    head, rest = match.groups()
    if rest.startswith("/") or "@" not in rest:
        return None
    userinfo, _, tail = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return head, user, password if colon else None, tail


def check_shared(url: str) -> None:
    """StorageError for in-memory SQLite: each connection of it is a database of its own, so
    the search's workers, its summary, refit and the dashboard would never see one study."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and sqlite_path(url) is None:
        raise StorageError(
            f"{mask_url(url)} is an in-memory database that no other process or connection "
            "sees: use a file (sqlite:///studies/NAME.db) or PostgreSQL"
        )


def connectable_url(url: str) -> str:
    """The URL as SQLAlchemy must read it: the password percent-escaped, whatever it holds."""
    return parse_url(url).render_as_string(hide_password=False)


def warn_if_password_in_argv(cli_value: str | None) -> None:
    """A password given with --storage is visible to every user of the machine in `ps`."""
    if cli_value is None:
        return
    try:
        parse_url(cli_value)
    except StorageError:
        return  # the URL's own error line follows; a warning first would make it two
    parts = _credentials(cli_value)
    if (parts is not None and parts[2] is not None) or _SECRET_QUERY_VALUE.search(cli_value):
        print(
            f"warning: the password in --storage is visible in the process list; "
            f"put the URL in ${STORAGE_ENV} instead",
            file=sys.stderr,
        )


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite URL, None for other back-ends or in-memory SQLite."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


def open_storage(
    url: str, *, grace_period: int = GRACE_PERIOD_S, create: bool = True
) -> RDBStorage:
    """An RDBStorage with heartbeat and retry of stale trials; StorageError if unreachable.

    With `create=False` (readers: refit, report) a SQLite file that does not exist is an
    error rather than a new, empty database.

    The heartbeat beats at least four times per grace period, so a live trial on a loaded
    machine is not mistaken for a dead one.
    """
    heartbeat_interval = max(1, min(HEARTBEAT_INTERVAL_S, grace_period // 4))
    backend = parse_url(url).get_backend_name()
    engine_kwargs: dict = {"pool_pre_ping": True, "connect_args": postgres_connect_args(url)}
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            _prepare_sqlite_file(path, url, create)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    elif backend != "postgresql":
        raise StorageError(f"unsupported storage {mask_url(url)}: use sqlite:/// or postgresql://")
    try:
        for attempt in range(SCHEMA_RACE_ATTEMPTS):
            try:
                with warnings.catch_warnings():
                    # Heartbeat and its retry callback are stable in practice, "experimental"
                    # in name.
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return OrphanAwareStorage(
                        connectable_url(url),
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                            max_retry=3
                        ),
                    )
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Workers starting together on a fresh database race to create Optuna's
                # tables ("duplicate key ... pg_type_typname_nsp_index"); the loser retries
                # and finds them made.
                if attempt == SCHEMA_RACE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        raise StorageError(f"cannot open storage {mask_url(url)}: {storage_reason(exc)}") from None
    except ModuleNotFoundError as exc:
        raise StorageError(f"storage {mask_url(url)} needs the driver {exc.name!r}") from None


class OrphanAwareStorage(RDBStorage):
    """An RDBStorage whose stale-trial check also finds trials that never beat.

    Optuna only fails a RUNNING trial as stale once it has a heartbeat. A worker that dies (or
    loses the database) between creating a trial and its first beat would leave a trial that
    counts against the budget forever; here such a trial is stale once it has been running
    for the grace period without a beat, and is failed and retried like any other.
    """

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return super()._get_stale_trial_ids(study_id) + self._orphaned_trial_ids(study_id)

    def _orphaned_trial_ids(self, study_id: int) -> list[int]:
        trial, beat = models.TrialModel, models.TrialHeartbeatModel
        # Optuna stores the start as naive UTC (from the writer's clock).
        started_before = datetime.now(UTC).replace(tzinfo=None) - timedelta(
            seconds=self.grace_period or GRACE_PERIOD_S
        )
        query = (
            sqlalchemy.select(trial.trial_id)
            .outerjoin(beat, beat.trial_id == trial.trial_id)
            .where(trial.study_id == study_id, trial.state == TrialState.RUNNING)
            .where(beat.trial_heartbeat_id.is_(None), trial._datetime_start_utc < started_before)
        )
        with self.engine.connect() as connection:
            return list(connection.scalars(query))


def postgres_connect_args(url: str) -> dict:
    """Connection options for PostgreSQL: a timeout, and a name that says which process this is.

    The name shows in pg_stat_activity, so a worker that holds the study lock can be found.
    """
    args: dict = {"connect_timeout": 10}
    if "application_name" not in parse_url(url).query:
        args["application_name"] = f"celeba-search pid {os.getpid()} on {socket.gethostname()}"
    return args


def storage_reason(exc: BaseException) -> str:
    """The first line of the database's own message (Optuna wraps it in a generic one)."""
    if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _prepare_sqlite_file(path: Path, url: str, create: bool) -> None:
    if not create and not path.is_file():
        raise StorageError(
            f"no database at {path}: run python -m search.run first, or fix --storage"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers (the dashboard) and one writer work at once; the mode persists.
        with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except OSError as exc:
        raise StorageError(f"cannot create the folder {path.parent}: {exc.strerror}") from None
    except sqlite3.Error as exc:
        # "unable to open database file" (a read-only folder), "file is not a database", ...
        hint = " (is the folder read-only?)" if "unable to open" in str(exc) else ""
        raise StorageError(f"cannot open storage {mask_url(url)}: {exc}{hint}") from None


def retry_storage(call: Callable[[], T], what: str, window_s: float = RETRY_WINDOW_S) -> T:
    """Run a storage call, retrying with back-off while the database is unreachable.

    A finished trial must not be lost because PostgreSQL restarted for a few seconds; after
    `window_s` the error becomes a StorageError with one clear line.
    """
    deadline = time.monotonic() + window_s
    delay = 0.5
    while True:
        try:
            return call()
        except (sqlalchemy.exc.OperationalError, optuna.exceptions.StorageInternalError) as exc:
            if time.monotonic() + delay > deadline:
                raise StorageError(
                    f"storage unreachable while trying to {what}: {storage_reason(exc)}"
                ) from None
            log.warning("storage unreachable (%s); retrying in %.1fs", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
