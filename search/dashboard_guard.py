"""A WSGI guard in front of optuna-dashboard, which has no access control of its own.

- Read-only unless told otherwise: only GET and HEAD pass; the dashboard's writes (notes,
  deleting a study or trial) need `--allow-writes`. Refusals are JSON with a `reason`, which
  the dashboard shows.
- Only the Host headers of the address it serves pass, so a page on another site cannot
  reach it through a DNS name rebound to 127.0.0.1 (DNS rebinding).
- Bound beyond loopback, every request needs the secret of $DASHBOARD_TOKEN, as a bearer
  token or as the password of HTTP basic auth (any user name), so a browser can log in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable

__all__ = ["TOKEN_ENV", "Guard", "allowed_hosts", "is_loopback"]

TOKEN_ENV = "DASHBOARD_TOKEN"
_READ_METHODS = ("GET", "HEAD")


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the dashboard on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host header values that name this dashboard: its address, loopback names, `extra`."""
    names = {"127.0.0.1", "localhost", "[::1]", *extra}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    with_port = {f"{name}:{port}" for name in names}
    return frozenset(with_port | (names if port == 80 else set()))


class Guard:
    """Wraps the dashboard's WSGI app with the checks above."""

    def __init__(
        self, app: Callable, hosts: frozenset[str], token: str | None, allow_writes: bool
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.token = token
        self.allow_writes = allow_writes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "").lower()
        if host not in self.hosts:
            return _refuse(start_response, "421 Misdirected Request", f"unknown host {host!r}")
        if self.token is not None and not self._authorised(environ.get("HTTP_AUTHORIZATION")):
            headers = [("WWW-Authenticate", 'Basic realm="optuna-dashboard"')]
            return _refuse(start_response, "401 Unauthorized", "token needed", headers)
        if not self.allow_writes and environ.get("REQUEST_METHOD") not in _READ_METHODS:
            message = "the dashboard is read-only (start it with --allow-writes to change studies)"
            return _refuse(
                start_response, "405 Method Not Allowed", message, [("Allow", "GET, HEAD")]
            )
        return self.app(environ, start_response)

    def _authorised(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return False
        else:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())


def _refuse(
    start_response: Callable, status: str, message: str, headers: list | None = None
) -> list[bytes]:
    # JSON with a `reason`: what the dashboard's frontend shows ("Failed to delete undefined."
    # for a plain-text body).
    body = json.dumps({"reason": message}).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
         *(headers or [])],
    )  # fmt: skip
    return [body]
