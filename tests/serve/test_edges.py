"""The service's edges with servers of their own: slow and idle clients, slots, connection
limits, the Host allow-list, option checks, a busy port and a quiet start-up."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from PIL import Image

from common.native_logs import has_nvidia_device
from serve.__main__ import main
from tests.cards import SYNTHETIC_NOTE
from tests.sample import SAMPLE
from tests.serve.server import running_server

needs_sample = pytest.mark.skipif(SAMPLE is None, reason="../shared/celeba-sample is absent")
SLOW_HEAD = (
    b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100000\r\n"
    b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n"
)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(60)  # a bound on every wait below, never reached when the server is right
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def face_post(url: str) -> requests.Response:
    face = sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[0]
    return requests.post(
        f"{url}/api/predict?detect=0", files={"file": face.read_bytes()}, timeout=60
    )


@needs_sample
def test_slow_uploads_hold_no_slot_and_are_cut_off_at_the_read_deadline(tiny_export):
    args = ("--max-concurrent", "1", "--read-timeout", "3")
    with running_server(tiny_export, *args) as url, ExitStack() as stack:
        port = port_of(url)
        slow = [stack.enter_context(connect(port)) for _ in range(4)]
        for sock in slow:  # each sends its head and a few bytes, then nothing more
            sock.sendall(SLOW_HEAD.replace(b"{port}", str(port).encode()))
        answer = face_post(url)  # more slow uploads than slots: a normal client still gets in
        assert answer.status_code == 200, answer.text
        for sock in slow:
            reply = read_all(sock)
            assert reply.startswith(b"HTTP/1.1 408 "), reply
            assert b"upload too slow: not complete within 3 s" in reply
        assert requests.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"


def test_idle_connections_and_slow_request_heads_are_closed(tiny_export):
    with running_server(tiny_export, "--idle-timeout", "2") as url:
        port = port_of(url)
        with connect(port) as idle, connect(port) as trickle:
            trickle.sendall(b"GET /healthz HTTP/1.1\r\n")  # and never the rest of its head
            assert read_all(idle) == b""  # closed by the server, not by the 60 s bound
            assert read_all(trickle) == b""
        with connect(port) as kept:  # after an answer, the same deadline for the next head
            kept.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert read_all(kept).startswith(b"HTTP/1.1 200 ")
        assert requests.get(f"{url}/healthz", timeout=10).ok


def test_over_the_connection_limit_requests_get_503(tiny_export):
    with running_server(tiny_export, "--max-connections", "3") as url, ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(connect(port_of(url)))
        answer = requests.get(f"{url}/healthz", timeout=10)
        assert answer.status_code == 503


def test_busy_slots_answer_503_and_readiness_says_busy(tiny_export):
    # 16 flat 7000x7000 PNGs: seconds of decoding on one thread keep the one slot taken
    buffer = io.BytesIO()
    Image.new("RGB", (7000, 7000), (120, 110, 100)).save(buffer, format="PNG")
    heavy = [("file", (f"{i}.png", buffer.getvalue())) for i in range(16)]
    args = ("--max-concurrent", "1", "--decode-threads", "1")
    with running_server(tiny_export, *args) as url:
        first: list[requests.Response] = []
        worker = threading.Thread(
            target=lambda: first.append(
                requests.post(f"{url}/api/predict?detect=0", files=heavy, timeout=300)
            )
        )
        worker.start()
        busy = None
        for _ in range(600):  # until the heavy request holds the slot, or it has finished
            ready = requests.get(f"{url}/readyz", timeout=10)
            if ready.status_code == 503:
                busy = requests.post(f"{url}/api/predict", files={"file": b"x"}, timeout=10)
                break
            if not worker.is_alive():
                break
        worker.join()
        assert ready.status_code == 503 and ready.json()["status"] == "busy"
        assert ready.headers["retry-after"] == "1"
        assert busy.status_code in (503, 415)  # 415: the heavy one finished in between
        if busy.status_code == 503:
            assert "busy" in busy.json()["error"] and busy.headers["retry-after"] == "1"
        assert first[0].status_code == 200
        assert requests.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"


def test_an_allowed_host_is_answered_and_others_are_not(tiny_export):
    with running_server(tiny_export, "--allowed-host", "faces.test") as url:
        ok = requests.get(f"{url}/api/model", headers={"Host": "faces.test"}, timeout=10)
        assert ok.status_code == 200
        refused = requests.get(f"{url}/api/model", headers={"Host": "other.test"}, timeout=10)
        assert refused.status_code == 421


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be between 1 and 65535, not 70000"),
        (["--port", "http"], "--port must be a finite number, not 'http'"),
        (["--max-upload-mb", "nan"], "--max-upload-mb must be a finite number, not nan"),
        (["--max-upload-mb", "inf"], "--max-upload-mb must be a finite number, not inf"),
        (["--max-pixels", "0"], "--max-pixels must be positive, not 0"),
        (["--read-timeout", "-1"], "--read-timeout must be positive, not -1.0"),
        (["--batch-wait-ms", "-1"], "--batch-wait-ms must be 0 or more, not -1.0"),
    ],
)
def test_bad_options_are_one_line_before_anything_loads(tmp_path, capsys, args, message):
    # the model folder does not exist either: the option is what the line must be about
    assert main(["--model", str(tmp_path / "none"), *args]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_busy_port_is_one_line_before_the_model_loads(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--model", str(tmp_path / "none"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_start_up_prints_one_loading_line_and_no_native_noise(tiny_export: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "serve", "--model", str(tiny_export), "--port", str(port)]
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    process = subprocess.Popen(command, **output)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "serving on" in line:
                break
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert lines[0] == f"INFO serve: loading the model from {tiny_export} ..."
    assert lines[-1] == f"INFO serve: serving on http://127.0.0.1:{port}/"
    if not has_nvidia_device():  # on a GPU machine the native lines stay, on purpose
        assert len(lines) == 3, lines  # loading, loaded, serving


def test_predict_prints_its_answer_and_no_native_noise(tiny_export: Path, tmp_path: Path):
    face = tmp_path / "face.png"
    Image.new("RGB", (24, 24), (180, 140, 120)).save(face)
    command = [sys.executable, "-m", "serve.predict", "--model", str(tiny_export), "--no-detect"]
    done = subprocess.run([*command, str(face)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{face}: ")
    # the tiny export's card says synthetic faces: one line says what that means
    assert done.stderr.startswith(f"{SYNTHETIC_NOTE} It has never seen a real photo")
    if not has_nvidia_device():  # on a GPU machine the native lines stay, on purpose
        assert done.stderr.count("\n") == 1, done.stderr
