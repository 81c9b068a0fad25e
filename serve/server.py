"""The HTTP server around the app: the port taken before the model loads, connections bounded.

`bind(host, port)` takes the listening address first, so a busy port is one clear line
before a slow model load rather than after it. `serve(app, sock, limits)` runs uvicorn on
that socket with its connection limit (`limit_concurrency`: over it, requests get 503),
keep-alive timeout, and uvicorn's h11 protocol given a deadline for each request's head:
uvicorn only times out a connection that is idle between requests, so one
that connects and sends nothing, or sends its headers a byte at a time, would stay open
forever and hold a file descriptor.
"""

from __future__ import annotations

import asyncio
import resource
import socket

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from common.errors import UserError
from serve.limits import Limits

__all__ = ["bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), not yet listening; UserError if the port is taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as err:
        raise UserError(f"--host {host}: {err.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    return sock


def _head_deadline_protocol(seconds: float) -> type[H11Protocol]:
    class HeadDeadline(H11Protocol):
        """Closes a connection whose next request head has not arrived within `seconds`
        of its opening or of its previous answer."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_deadline()

        def _arm_head_deadline(self) -> None:
            cycle = self.cycle  # a new request replaces it
            self.loop.call_later(seconds, self._head_deadline_passed, cycle)

        def _head_deadline_passed(self, cycle: object) -> None:
            if self.cycle is cycle and not self.transport.is_closing():
                self.transport.close()

    return HeadDeadline


def _more_open_files() -> None:
    """Raise the soft limit on open files to the hard one: each connection costs one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # some systems refuse an unlimited soft limit
            pass


def serve(app: object, sock: socket.socket, limits: Limits) -> None:
    _more_open_files()
    config = uvicorn.Config(
        app,
        http=_head_deadline_protocol(limits.idle_timeout_s),
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.idle_timeout_s,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[sock])
