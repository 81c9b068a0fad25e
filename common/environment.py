"""The process environment every command shares, set once, before any backend is imported.

Each package's `__init__` imports this module first, so `python -m <package>.<command>`,
a test and a worker process all start with the same settings; a value already in the
environment wins.

The Keras backend is the fastest one measured for this kind of machine
(docs/benchmarks-speed.md), unless KERAS_BACKEND names one: JAX where a GPU is (those
machines have no TensorFlow), TensorFlow on a CPU. On CPUs JAX's steady epochs were at
best a fifth faster, but compiling each new configuration cost it 15-25 s more per trial
than TensorFlow's tracing, and in a search nearly every trial is a new configuration.
JAX's compiled programs persist under `JAX_CACHE`, so a process (a recycled worker, a
refit) need not compile a step again that an earlier one compiled.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from common.cli import EXIT_USER_ERROR, print_error
from common.paths import CACHES

__all__ = [
    "BACKEND_ENV",
    "CPUS_ENV",
    "JAX_CACHE",
    "KERAS_BACKEND_MODULES",
    "backend_problem",
    "choose_backend",
    "pin_cpus",
]

BACKEND_ENV = "KERAS_BACKEND"
CPUS_ENV = "CELEBA_SEARCH_CPUS"  # cores a worker process runs on (search/coordination/devices.py)
JAX_CACHE = CACHES / "jax"
# Keras 3's backends and the module each needs (the model card accepts these names too);
# Keras' numpy backend computes convolutions with JAX (keras/src/backend/numpy/nn.py)
KERAS_BACKEND_MODULES = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "numpy": "jax",
    "openvino": "openvino",
}


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None  # finds it without importing it


def _has_gpu(environ: Mapping[str, str]) -> bool:
    """An NVIDIA GPU this process may use, told without importing a backend."""
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None and all(gpu.strip() in ("", "-1") for gpu in listed.split(",")):
        return False
    return Path("/dev/nvidiactl").exists()


def choose_backend(environ: Mapping[str, str] = os.environ) -> str:
    """KERAS_BACKEND when set, else the installed backend fastest for this machine."""
    if environ.get(BACKEND_ENV):
        return environ[BACKEND_ENV]
    has_jax, has_tf = _installed("jax"), _installed("tensorflow")
    if has_jax != has_tf:
        return "jax" if has_jax else "tensorflow"
    return "jax" if _has_gpu(environ) else "tensorflow"


def backend_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the KERAS_BACKEND set cannot work here, or None: said before Keras fails on it
    with a traceback at its first import."""
    name = environ.get(BACKEND_ENV)
    if not name:
        return None
    if name not in KERAS_BACKEND_MODULES:
        known = ", ".join(KERAS_BACKEND_MODULES)
        return f"{BACKEND_ENV}={name} is not a Keras backend (one of {known})"
    if not _installed(KERAS_BACKEND_MODULES[name]):
        return (
            f"{BACKEND_ENV}={name}, but {KERAS_BACKEND_MODULES[name]} is not installed in this "
            f"environment: install it, or unset {BACKEND_ENV} to use the default"
        )
    return None


def pin_cpus(environ: Mapping[str, str] = os.environ) -> None:
    """Confine this process to the cores CPUS_ENV lists ("0,1"), before any thread pool exists:
    TensorFlow and XLA size their pools by the CPU affinity. A core this machine lacks leaves
    the affinity as it is."""
    listed = environ.get(CPUS_ENV)
    if listed:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(core) for core in listed.split(",")})


pin_cpus()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
os.environ.setdefault("MPLBACKEND", "Agg")  # plots are written to files, never shown
if (problem := backend_problem()) is not None:
    print_error(problem)
    raise SystemExit(EXIT_USER_ERROR)  # every command would fail at its first Keras import
os.environ[BACKEND_ENV] = choose_backend()
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(JAX_CACHE.resolve()))
# cache every program: the small steps of the demo's networks compile in under JAX's
# default threshold of a second each, yet together cost a pruned trial several seconds
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
