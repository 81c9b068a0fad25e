"""What every process starts with (common/environment.py): the Keras backend fastest for the
machine, KERAS_BACKEND overriding; and a CPU worker confined to its own cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common import environment
from common.environment import CPUS_ENV, choose_backend
from search.coordination.devices import worker_cores, worker_environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """Pretend a machine: which backends are installed, a GPU."""

    def pretend(*, installed=("jax", "tensorflow"), gpu=False) -> None:
        monkeypatch.setattr(environment, "_installed", lambda name: name in installed)
        monkeypatch.setattr(environment, "_has_gpu", lambda environ: gpu)

    return pretend


def test_cpus_train_on_tensorflow(machine):
    machine(gpu=False)
    assert choose_backend({}) == "tensorflow"


def test_gpu_machines_train_on_jax(machine):
    machine(gpu=True)
    assert choose_backend({}) == "jax"


@pytest.mark.parametrize("only", ["jax", "tensorflow"])
def test_the_only_installed_backend_is_used(machine, only):
    machine(installed=(only,), gpu=only == "tensorflow")
    assert choose_backend({}) == only


@pytest.mark.parametrize("override", ["jax", "tensorflow", "torch"])
def test_keras_backend_in_the_environment_wins(machine, override):
    machine(gpu=True)
    assert choose_backend({"KERAS_BACKEND": override}) == override


def test_a_usable_or_unset_keras_backend_is_no_problem(machine):
    machine(installed=("tensorflow",))
    assert environment.backend_problem({}) is None
    assert environment.backend_problem({"KERAS_BACKEND": "tensorflow"}) is None


def test_a_keras_backend_not_installed_is_named_with_what_to_do(machine):
    machine(installed=("tensorflow",))
    assert environment.backend_problem({"KERAS_BACKEND": "jax"}) == (
        "KERAS_BACKEND=jax, but jax is not installed in this environment: install it, "
        "or unset KERAS_BACKEND to use the default"
    )


def test_keras_numpy_backend_needs_jax(machine):
    machine(installed=("tensorflow", "numpy"))
    assert environment.backend_problem({"KERAS_BACKEND": "numpy"}) == (
        "KERAS_BACKEND=numpy, but jax is not installed in this environment: install it, "
        "or unset KERAS_BACKEND to use the default"
    )
    machine(installed=("tensorflow", "numpy", "jax"))
    assert environment.backend_problem({"KERAS_BACKEND": "numpy"}) is None


def test_a_command_under_a_mistyped_keras_backend_prints_one_line():
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-m", "serve.predict", "face.jpg"],
        cwd=ROOT,
        env={**clean, "KERAS_BACKEND": "tensorflw"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: KERAS_BACKEND=tensorflw is not a Keras backend "
        "(one of tensorflow, jax, torch, numpy, openvino)\n"
    )


def test_a_hidden_gpu_is_no_gpu(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(environment.Path, "exists", lambda self: True)  # /dev/nvidiactl
    assert environment._has_gpu({"CUDA_VISIBLE_DEVICES": "-1"}) is False
    assert environment._has_gpu({"CUDA_VISIBLE_DEVICES": "0"}) is True


PROBE = "import model, keras; print(keras.backend.backend())"


def _run_probe(probe: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def _backend_of_a_new_process(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return _run_probe(PROBE, {**clean, **env})


def test_a_command_starts_on_the_chosen_backend():
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    assert _backend_of_a_new_process() == choose_backend(clean)


@pytest.mark.skipif(
    not (environment._installed("jax") and environment._installed("tensorflow")),
    reason="needs both jax and tensorflow",
)
def test_keras_backend_overrides_the_choice_in_a_new_process():
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    other = "jax" if choose_backend(clean) == "tensorflow" else "tensorflow"
    assert _backend_of_a_new_process(KERAS_BACKEND=other) == other


def test_cpu_workers_get_cores_of_their_own(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert [worker_cores(i, 4) for i in range(4)] == [[0], [1], [2], [3]]
    assert [worker_cores(i, 2) for i in range(2)] == [[0, 1], [2, 3]]
    assert [worker_cores(i, 8) for i in range(6)] == [[0], [1], [2], [3], [0], [1]]


def test_a_worker_process_runs_on_its_cores_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a CPU worker, whatever the machine
    monkeypatch.delenv(CPUS_ENV, raising=False)
    cores = sorted(os.sched_getaffinity(0))
    env = {**os.environ, **worker_environment(len(cores) - 1, len(cores))}
    assert env[CPUS_ENV] == str(cores[-1])
    probe = "import model, os; print(sorted(os.sched_getaffinity(0)))"
    assert _run_probe(probe, env) == str([cores[-1]])


def test_pinning_the_user_set_or_turned_off_is_kept(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv(CPUS_ENV, "")  # a shared machine: let the scheduler place workers
    assert CPUS_ENV not in worker_environment(0, 2)
    environment.pin_cpus({CPUS_ENV: ""})  # nothing to apply


@pytest.mark.skipif(not environment._installed("jax"), reason="jax is not installed")
def test_jax_compiles_into_a_persistent_cache_under_the_home(tmp_path: Path):
    probe = (
        "import model, jax, jax.numpy as jnp; jax.jit(lambda x: x * 2)(jnp.ones(3)); "
        "print(jax.config.jax_compilation_cache_dir)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env = {**clean, "KERAS_BACKEND": "jax", "CELEBA_SEARCH_HOME": str(tmp_path)}
    cache = tmp_path / "data" / "cache" / "jax"
    assert _run_probe(probe, env) == str(cache.resolve())
    assert any(cache.iterdir())  # even a program this small is kept
