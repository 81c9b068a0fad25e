"""A real `python -m serve` process on a free loopback port, for the API and browser tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

__all__ = ["running_server"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(export_dir: Path, *args: str, timeout: float = 180.0) -> Iterator[str]:
    """The base URL of a server for `export_dir`, stopped (and its log checked) afterwards."""
    port = _free_port()
    command = [sys.executable, "-m", "serve", "--model", str(export_dir), "--port", str(port)]
    process = subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stdout.read()}")
            try:
                if requests.get(f"{url}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not come up")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            log = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            log = process.communicate()[0]
    assert "Traceback" not in log, log
