"""The service's limits (`Limits`, each default once), the body's size and read deadline
(ASGI middleware), and the processing slots.

`BodyLimit` refuses a declared Content-Length over the limit before reading anything, and
stops reading a body (chunked, or lying about its length) as soon as it passes the limit or
its deadline: the handler sees `BodyTooLarge` or `BodyTimeout` and answers 413 or 408. A
client that sends one byte every few seconds therefore holds its connection for at most
the deadline.

`Slots` counts the requests whose upload is complete and that are being decoded or scored:
over `size` of them a request is answered 503 with Retry-After at once rather than queued
without bound. Uploads in progress hold no slot, so slow clients cannot take the service's
slots from normal ones; connections as a whole are bounded by uvicorn's
`limit_concurrency` (serve.server).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from data.decode import MAX_PIXELS

__all__ = [
    "BodyLimit",
    "BodyTimeout",
    "BodyTooLarge",
    "Limits",
    "Slots",
    "body_limit_message",
    "body_timeout_message",
]


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 10 * 1024 * 1024  # a whole request body
    max_pixels: int = MAX_PIXELS  # per image, checked from its header before decoding
    max_concurrent: int = 64  # requests past their upload, being processed; more get 503
    max_connections: int = 256  # open connections (uvicorn's limit_concurrency); more get 503
    read_timeout_s: float = 30.0  # from a request's head to the end of its body
    idle_timeout_s: float = 10.0  # for a connection's next request head to arrive
    decode_threads: int = min(4, os.cpu_count() or 1)  # photos decoded at once: bounds memory
    max_files: int = 16  # images in one request
    max_batch: int = 32  # faces in one model call
    batch_wait_ms: float = 5.0  # how long the first face of a batch waits for company


class BodyTooLarge(Exception):
    """Raised from `receive` when a request body passes the upload limit."""


class BodyTimeout(Exception):
    """Raised from `receive` when a request body is not complete by its deadline."""


def body_limit_message(limit: int) -> str:
    return f"upload too large: more than {limit / 2**20:g} MiB"


def body_timeout_message(seconds: float) -> str:
    return f"upload too slow: not complete within {seconds:g} s"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, max_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"error": body_limit_message(self.max_bytes)}, 413)
            await response(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_seconds
        seen = 0
        complete = False

        async def limited_receive() -> Message:
            nonlocal seen, complete
            if complete:  # e.g. waiting for the client to disconnect: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


class Slots:
    """At most `size` requests being processed at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.taken = 0  # one event loop changes it: no lock needed

    @property
    def full(self) -> bool:
        return self.taken >= self.size

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.taken += 1
        try:
            yield
        finally:
            self.taken -= 1
