"""How many workers a machine should run: one per visible GPU, else one (it uses every core)."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["default_workers", "visible_gpus", "worker_environment"]


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


def default_workers() -> int:
    return max(1, len(visible_gpus()))


def worker_environment(index: int) -> dict[str, str]:
    """Environment for worker `index`: pinned to one GPU when there are GPUs."""
    gpus = visible_gpus()
    return {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]} if gpus else {}
