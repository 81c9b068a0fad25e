"""ASGI middleware at the service's edge: a Host check and the security headers.

- Only Host headers that name this server pass (its loopback names and bound address, with
  the port, plus what `--allowed-host` adds), so a page on another site cannot reach the
  API through a DNS name rebound to 127.0.0.1 (DNS rebinding); others get 421. `*` turns
  the check off, e.g. behind a proxy that does it.
- Every answer says `X-Content-Type-Options: nosniff`, a Content-Security-Policy that
  allows only this server's own scripts, styles and images (and `data:`/`blob:` images for
  the photo and crop) and `frame-ancestors 'none'`, so no other page can frame it.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ANY_HOST", "SECURITY_HEADERS", "HostCheck", "SecurityHeaders", "allowed_hosts"]

ANY_HOST = "*"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",  # frame-ancestors for older browsers
    "Referrer-Policy": "no-referrer",
}


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host header values that name this server: loopback names and `host`, each with the
    port (and bare on port 80), and the names in `extra` as given (add ':port' yourself
    where clients send it)."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    with_port = {f"{name}:{port}" for name in names}
    given = {name.lower() for name in extra}
    return frozenset(with_port | (names if port == 80 else set()) | given)


class HostCheck:
    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ANY_HOST not in self.hosts:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            if host not in self.hosts:
                message = f"unknown host {host!r} (start the server with --allowed-host)"
                await JSONResponse({"error": message}, 421)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
