"""How many workers a machine runs and what each may use: its GPU, or its share of the cores.

With GPUs: `workers_per_gpu` workers per visible GPU, each pinned with CUDA_VISIBLE_DEVICES;
workers that share a GPU allocate its memory as they need it instead of taking most of it
up front (TensorFlow's and JAX's defaults). Without: one worker per core (as many as the
memory holds at WORKER_MEMORY_GIB each), each limited to its share of the cores
(TensorFlow's thread pools and OpenMP; XLA's single-thread switch when it has one core) and
pinned to them (CPUS_ENV, applied by common.environment at start): JAX sizes its CPU thread
pools by the process's CPU affinity and ignores the thread settings, so an unpinned one-core
JAX worker kept three threads busy.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from common.environment import CPUS_ENV

__all__ = [
    "WORKER_MEMORY_GIB",
    "worker_cores",
    "cpu_cores",
    "default_workers",
    "memory_gib",
    "visible_gpus",
    "worker_environment",
]

# A demo worker peaks at about 1.2 GB resident (docs/benchmarks.md, "Memory"): 2 GiB leaves
# it room.
WORKER_MEMORY_GIB = 2


_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def visible_gpus() -> list[str]:
    """The GPU ids this process may use (honours CUDA_VISIBLE_DEVICES), found without Keras."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu for gpu in listed.split(",") if gpu.strip() not in ("", "-1")]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def cpu_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the host's)."""
    return len(os.sched_getaffinity(0))


def memory_gib() -> float:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30


def default_workers(workers_per_gpu: int = 1) -> int:
    """`workers_per_gpu` per GPU; on CPU one worker per core, which `python -m bench.workers`
    measured 1.5x faster than one worker using every core (docs/benchmarks.md, "Two cores,
    two workers?")."""
    gpus = visible_gpus()
    if gpus:
        return len(gpus) * workers_per_gpu
    return max(1, min(cpu_cores(), int(memory_gib() // WORKER_MEMORY_GIB)))


def worker_environment(index: int, workers: int) -> dict[str, str]:
    """Environment for worker `index` of `workers` on this machine (thread counts the user
    set in the environment are kept)."""
    gpus = visible_gpus()
    if gpus:
        env = {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]}
        if workers > len(gpus):  # a shared GPU: each takes memory as it needs it
            env |= {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
        return env
    threads = max(1, cpu_cores() // workers)
    env = {name: str(threads) for name in _THREAD_VARIABLES if name not in os.environ}
    if CPUS_ENV not in os.environ:  # set, even empty (no pinning: a shared machine), it is kept
        env[CPUS_ENV] = ",".join(str(core) for core in worker_cores(index, workers))
    if threads == 1:  # XLA on CPU (the JAX backend) has no thread count, only this switch
        flags = os.environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    return env


def worker_cores(index: int, workers: int) -> list[int]:
    """The cores CPU worker `index` of `workers` runs on: its own share of this process's
    cores, shared round-robin when there are more workers than cores."""
    cores = sorted(os.sched_getaffinity(0))
    share = max(1, len(cores) // workers)
    start = (index * share) % len(cores)
    return cores[start : start + share]
