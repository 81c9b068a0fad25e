"""Worker layout: GPUs shared by --workers-per-gpu workers; cores split between CPU workers."""

from __future__ import annotations

from search.coordination import devices
from search.run import build_parser, config_from_args


def test_workers_per_gpu_share_each_gpu_and_allocate_memory_as_needed(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")

    assert devices.default_workers(workers_per_gpu=2) == 4
    envs = [devices.worker_environment(index, workers=4) for index in range(4)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["0", "1", "0", "1"]
    assert all(env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" for env in envs)
    assert all(env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for env in envs)
    # one worker per GPU keeps the frameworks' defaults (the whole GPU is its own)
    assert devices.worker_environment(1, workers=2) == {"CUDA_VISIBLE_DEVICES": "1"}


def test_the_command_line_derives_the_workers_from_workers_per_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    args = build_parser().parse_args(["--preset", "demo", "--workers-per-gpu", "3"])
    assert config_from_args(args).workers == 3


def test_cpu_workers_split_the_cores_between_them(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(devices, "cpu_cores", lambda: 8)
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")

    monkeypatch.setattr(devices, "memory_gib", lambda: 64.0)
    assert devices.default_workers() == 8  # one per core
    monkeypatch.setattr(devices, "memory_gib", lambda: 7.0)
    assert devices.default_workers() == 3  # as many as the memory holds
    two = devices.worker_environment(0, workers=2)
    assert two["TF_NUM_INTRAOP_THREADS"] == two["OMP_NUM_THREADS"] == "4"
    assert "XLA_FLAGS" not in two  # XLA can only be told "one thread"
    eight = devices.worker_environment(7, workers=8)
    assert eight["TF_NUM_INTEROP_THREADS"] == "1"
    assert eight["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"


def test_thread_counts_the_user_set_are_kept(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert "OMP_NUM_THREADS" not in devices.worker_environment(0, workers=2)


def test_the_command_line_runs_one_worker_per_core_on_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(devices, "cpu_cores", lambda: 2)
    monkeypatch.setattr(devices, "memory_gib", lambda: 24.0)
    args = build_parser().parse_args(["--preset", "demo"])
    assert config_from_args(args).workers == 2
    args = build_parser().parse_args(["--preset", "demo", "--workers", "1"])
    assert config_from_args(args).workers == 1
