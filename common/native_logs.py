"""Silence the C++ libraries' start-up lines on a machine without an NVIDIA GPU.

TensorFlow's native code logs through abseil before its log level applies, so
TF_CPP_MIN_LOG_LEVEL does not hide `cudart_stub ... Could not find cuda drivers` or
`E0000 ... failed call to cuInit` on a CPU-only machine. Around the model's load and
first calls (serve) or the backend's start (a search worker), `quiet_native_stderr()`
points the process's stderr (file descriptor 2) at /dev/null and back, where no GPU device
exists; on a GPU machine everything stays visible. Python's own errors are raised after it,
so they still reach the user.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["has_nvidia_device", "quiet_native_stderr", "start_backend_quietly"]


def has_nvidia_device() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    if has_nvidia_device():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def start_backend_quietly() -> None:
    """Import Keras and run its backend's first operation inside `quiet_native_stderr()`.

    TensorFlow prints its lines at import and its cuInit error at the first operation; once
    both are behind it, the process trains without printing them."""
    with quiet_native_stderr():
        import keras

        keras.ops.convert_to_tensor(0.0)
