"""The deployment files: docker-compose config validates, no password in them, pinned image."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.deploy.compose import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    REPO,
    load_compose,
    read_env_file,
    service_argv,
    service_environment,
)

GPU_FILE = REPO / "docker-compose.gpu.yml"
LOCK_FILE = REPO / "requirements.lock"
SECRETS = ("POSTGRES_PASSWORD", "DASHBOARD_DB_PASSWORD", "DASHBOARD_TOKEN")


def filled_env_text() -> str:
    """.env.example with the secrets set, as a user's .env would have them."""
    text = ENV_EXAMPLE.read_text()
    for name in SECRETS:
        text = re.sub(rf"(?m)^{name}=$", f"{name}=test-{name.lower()}", text)
    return text


def _compose_config(tmp_path: Path, env_text: str, *files: Path) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's package)")
    for file in files:
        shutil.copy(file, tmp_path / file.name)
    (tmp_path / ".env").write_text(env_text)
    args = [arg for file in files for arg in ("-f", file.name)]
    return subprocess.run(
        ["docker-compose", *args, "config"], cwd=tmp_path, capture_output=True, text=True
    )


def test_compose_config_validates_with_env_example(tmp_path: Path) -> None:
    done = _compose_config(tmp_path, filled_env_text(), COMPOSE_FILE)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    assert set(services) == {"postgres", "worker", "dashboard", "serving"}
    assert services["dashboard"]["ports"] == ["127.0.0.1:8080:8080/tcp"]
    assert services["postgres"]["ports"][0].startswith("127.0.0.1:")
    assert "healthcheck" in services["postgres"]
    assert "pgdata:/var/lib/postgresql/data:rw" in services["postgres"]["volumes"]
    assert {"pgdata", "search-data", "studies"} <= set(config["volumes"])
    for name, role in (("worker", "search"), ("dashboard", "dashboard")):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        url = services[name]["environment"]["OPTUNA_STORAGE"]
        assert url == f"postgresql+psycopg://{role}@postgres:5432/optuna"  # no password in it


def test_tf_serving_reads_the_export_read_only_and_answers_on_loopback(tmp_path: Path) -> None:
    done = _compose_config(tmp_path, filled_env_text(), COMPOSE_FILE)
    assert done.returncode == 0, done.stderr
    serving = yaml.safe_load(done.stdout)["services"]["serving"]
    assert serving["image"].startswith("tensorflow/serving:")
    assert serving["profiles"] == ["serving"]  # only on request: there is no export at first
    assert serving["ports"] == ["127.0.0.1:8501:8501/tcp"]
    (volume,) = serving["volumes"]
    assert volume == f"{tmp_path}/studies/demo/best/saved_model:/models/celeba/1:ro"
    assert serving["environment"]["MODEL_NAME"] == "celeba"


def test_compose_commands_are_the_ones_the_tests_run(tmp_path: Path) -> None:
    (tmp_path / "filled.env").write_text(filled_env_text())
    env = read_env_file(tmp_path / "filled.env")
    done = _compose_config(tmp_path, filled_env_text(), COMPOSE_FILE)
    services = yaml.safe_load(done.stdout)["services"]
    for name in ("worker", "dashboard"):
        command = services[name]["command"]
        resolved = [*services[name]["entrypoint"], *(
            command.split() if isinstance(command, str) else command)]  # fmt: skip
        assert [sys.executable, *resolved[1:]] == service_argv(name, env)
        assert services[name]["environment"] == service_environment(name, env)


def test_compose_needs_a_password_and_holds_none(tmp_path: Path) -> None:
    for name in SECRETS:
        without = re.sub(rf"(?m)^{name}=.*$", "", filled_env_text())
        done = _compose_config(tmp_path, without, COMPOSE_FILE)
        assert done.returncode != 0 and name in done.stderr
    for service in load_compose()["services"].values():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), (key, value)


def test_the_example_env_file_as_it_is_starts_nothing(tmp_path: Path) -> None:
    assert all(read_env_file(ENV_EXAMPLE)[name] == "" for name in SECRETS)  # no placeholder
    done = _compose_config(tmp_path, ENV_EXAMPLE.read_text(), COMPOSE_FILE)
    assert done.returncode != 0 and "set POSTGRES_PASSWORD in .env" in done.stderr


def test_worker_and_dashboard_have_healthchecks_and_the_dashboard_reads_only(
    tmp_path: Path,
) -> None:
    done = _compose_config(tmp_path, filled_env_text(), COMPOSE_FILE)
    services = yaml.safe_load(done.stdout)["services"]
    worker, dashboard = services["worker"], services["dashboard"]
    assert "open_storage" in " ".join(worker["healthcheck"]["test"])
    assert dashboard["healthcheck"]["test"][1:5] == ["python", "-m", "search.dashboard", "--check"]
    assert "--allow-writes" not in dashboard["command"]
    url = dashboard["environment"]["OPTUNA_STORAGE"]
    assert url == "postgresql+psycopg://dashboard@postgres:5432/optuna"  # not the owner
    assert dashboard["environment"]["PGPASSWORD"] == "test-dashboard_db_password"
    init = "/docker-entrypoint-initdb.d/10-dashboard-role.sh"
    assert any(v.endswith(f"{init}:ro") for v in services["postgres"]["volumes"])


def test_gpu_override_validates(tmp_path: Path) -> None:
    done = _compose_config(tmp_path, filled_env_text(), COMPOSE_FILE, GPU_FILE)
    assert done.returncode == 0, done.stderr
    worker = yaml.safe_load(done.stdout)["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_dockerfile_runs_search_run_on_pinned_packages() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"(?m)^FROM python:3\.11-slim@sha256:[0-9a-f]{64}$", text)
    image = load_compose()["services"]["postgres"]["image"]
    assert re.fullmatch(r"postgres:15@sha256:[0-9a-f]{64}", image)
    entrypoint = re.search(r"(?m)^ENTRYPOINT (\[.*\])$", text).group(1)
    assert yaml.safe_load(entrypoint) == load_compose()["services"]["worker"]["entrypoint"]
    assert "pip install --require-hashes -r requirements.lock" in text
    assert "pip install --no-deps ." in text


def test_lock_pins_every_dependency_with_hashes() -> None:
    pins = {}
    for entry in re.split(r"\n(?=\S)", LOCK_FILE.read_text()):
        if entry.startswith("#"):
            continue
        requirement = re.match(r"([A-Za-z0-9_.-]+)==(\S+) \\\n", entry)
        assert requirement, f"not pinned: {entry.splitlines()[0]}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"no hash: {requirement[0]}"
        pins[requirement[1].lower().replace("_", "-")] = requirement[2]
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for text in dependencies["dependencies"]:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} missing from requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {text}"
