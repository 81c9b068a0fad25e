"""Fixtures of the deployment tests: a database with a password role, prepared data, a cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _admin_connection
from tests.deploy.cluster import Cluster, Database
from tests.deploy.compose import REPO

ROLE_SCRIPT = REPO / "deploy" / "postgres" / "10-dashboard-role.sh"

# Tiny synthetic faces and models: each trial takes a few seconds on two CPU cores.
SYNTHETIC_N = 300
IMAGE_SIZE = 16
SEARCH_SETTINGS = {
    "SEARCH_DATA": "synthetic",
    "SEARCH_IMAGE_SIZE": str(IMAGE_SIZE),
    "SEARCH_EPOCHS": "2",
    "SEARCH_SPACE": "demo",
    "SEARCH_GRACE_PERIOD": "6",
    # Several worker containers on one machine, as docs/operations.md says to scale them: one
    # worker process each (the default is one per core), so a SIGKILL stops exactly one worker.
    "SEARCH_EXTRA_ARGS": f"--synthetic-n {SYNTHETIC_N} --workers 1",
}


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    """A fresh database owned by a new role that has a password (to prove it never leaks)."""
    name = postgres_url.rsplit("/", 1)[1]
    suffix = uuid.uuid4().hex[:10]
    role, password = f"deploy_{suffix}", f"secret-xyz-{suffix}"
    with _admin_connection() as admin:
        # CREATEROLE: the image's owner is a superuser, which its init script needs
        admin.execute(f"CREATE ROLE {role} LOGIN CREATEROLE PASSWORD '{password}'")
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO {role}')
    database = Database(name, role, password, f"dash_{suffix}", f"ro-secret-{suffix}")
    _run_role_script(database)
    yield database
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f"DROP ROLE IF EXISTS {database.dashboard_role}")
        admin.execute(f"DROP ROLE IF EXISTS {role}")


def _run_role_script(database: Database) -> None:
    """The compose file's PostgreSQL init script, run as the image's entrypoint would."""
    env = {**os.environ, "POSTGRES_USER": database.role, "POSTGRES_DB": database.name,
           "DASHBOARD_DB_USER": database.dashboard_role,
           "DASHBOARD_DB_PASSWORD": database.dashboard_password,
           "PGHOST": "127.0.0.1", "PGPASSWORD": database.password}  # fmt: skip
    subprocess.run(["sh", str(ROLE_SCRIPT)], env=env, check=True, capture_output=True)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workers' working folder (the container's /work), with the data cache prepared once.

    On a real deployment the cache is prepared once per machine (or on shared storage) before
    the workers start; this does the same for the synthetic faces.
    """
    folder = tmp_path_factory.mktemp("deploy-work")
    code = (
        "from search.trial.study_data import prepare_data; "
        f"prepare_data('synthetic', {IMAGE_SIZE}, {SYNTHETIC_N}, 0)"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    return folder


@pytest.fixture
def make_cluster(workdir: Path, database: Database, tmp_path: Path) -> Iterator[callable]:
    clusters: list[Cluster] = []

    def make(study: str, trials: int, **overrides: str) -> Cluster:
        settings = {
            **SEARCH_SETTINGS,
            "SEARCH_STUDY": study,
            "SEARCH_TRIALS": str(trials),
            **overrides,
        }
        cluster = Cluster(workdir, tmp_path, database, settings)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop_all()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
