"""`python -m search.dashboard`: optuna-dashboard for the search's storage.

    python -m search.dashboard [--storage URL] [--host 127.0.0.1] [--port 8080]
        [--artifacts studies/artifacts] [--allow-writes] [--allowed-host NAME] [--check]

The storage URL comes from --storage, else $OPTUNA_STORAGE, else the SQLite default; put a
URL with a password in $OPTUNA_STORAGE so it stays out of the process list. optuna-dashboard
has no authentication, so it listens on 127.0.0.1 unless told otherwise, and a guard
(search.dashboard_guard) lets only reads through (writes with --allow-writes), only Host
headers naming this address, and, bound beyond loopback, only requests carrying the secret
in $DASHBOARD_TOKEN. `--check` asks a running dashboard for its studies and exits 0 if it
answers (the compose healthcheck).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from common.cli import run_command, set_up_logging
from common.errors import UserError
from common.paths import ARTIFACTS
from search.coordination.storage import (
    STORAGE_HELP,
    mask_url,
    open_storage,
    resolve_storage_url,
    warn_if_password_in_argv,
)
from search.dashboard_guard import TOKEN_ENV, Guard, allowed_hosts, is_loopback

__all__ = ["main"]

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    # One line per request on stderr would drown the log the dashboard polls every second.
    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.dashboard",
        description="Watch the search in optuna-dashboard (trials, per-epoch curves, exports).",
    )
    add = parser.add_argument
    add("--storage", help=STORAGE_HELP)
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, default=8080, help="port to listen on (default 8080)")
    add("--artifacts", type=Path, default=ARTIFACTS,
        help=f"artifact folder, used if it exists (default {ARTIFACTS})")  # fmt: skip
    add(
        "--allow-writes",
        action="store_true",
        help="let the dashboard change studies (notes, deletion); default read-only",
    )
    add(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another name browsers reach it by (Host header), e.g. a published address",
    )
    add("--check", action="store_true", help="exit 0 if a dashboard answers here, else 2")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_up_logging()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # docker stop = Ctrl-C
    warn_if_password_in_argv(args.storage)
    url = resolve_storage_url(args.storage)
    return run_command(lambda: _check(args) if args.check else _serve(url, args))


def _token(host: str) -> str | None:
    """The secret requests must carry: required beyond loopback, optional on it."""
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise UserError(
            f"listening on {host} opens the dashboard to other machines: set {TOKEN_ENV} "
            "to a secret that browsers then give as the password (any user name)"
        )
    return token


def _serve(url: str, args: argparse.Namespace) -> None:
    token = _token(args.host)
    hosts = allowed_hosts(args.host, args.port, args.allowed_host)
    app = Guard(_make_app(url, args.artifacts), hosts, token, args.allow_writes)
    server = _listen(args.host, args.port, app)
    print(f"optuna-dashboard for {mask_url(url)} on http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _check(args: argparse.Namespace) -> None:
    """Ask the dashboard at --host/--port for its studies, as a browser would."""
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    address = f"{host}:{args.port}"
    request = urllib.request.Request(f"http://{address}/api/studies")
    token = _token(args.host)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise UserError(f"no dashboard answers at http://{address}/ ({reason})") from None
    print(f"dashboard at http://{address}/ answers", flush=True)


def _make_app(url: str, artifacts: Path):
    from optuna.artifacts import FileSystemArtifactStore
    from optuna_dashboard import wsgi

    storage = open_storage(url)  # StorageError (one line) when unreachable
    store = FileSystemArtifactStore(str(artifacts)) if artifacts.is_dir() else None
    if store is not None:
        print(f"artifacts from {artifacts}", flush=True)
    return wsgi(storage, artifact_store=store)


def _listen(host: str, port: int, app) -> WSGIServer:
    try:
        return make_server(host, port, app, _ThreadingServer, handler_class=_QuietHandler)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    raise SystemExit(main())
