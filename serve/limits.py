"""ASGI middleware for the service's request limits: body size and requests in flight.

The body limit refuses a declared Content-Length over the limit before reading anything,
and stops reading a body (chunked, or lying about its length) as soon as it passes the
limit: the handler sees `BodyTooLarge` and answers 413. The concurrency limit answers 503
with Retry-After at once rather than queueing without bound.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyTooLarge", "ConcurrencyLimit", "body_limit_message", "BodyLimit"]


class BodyTooLarge(Exception):
    """Raised from `receive` when a request body passes the upload limit."""


def body_limit_message(limit: int) -> str:
    return f"upload too large: more than {limit / 2**20:g} MiB"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"error": body_limit_message(self.max_bytes)}, 413)
            await response(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited_receive, send)


class ConcurrencyLimit:
    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            response = JSONResponse(
                {"error": f"busy: {self.max_in_flight} requests in progress, retry shortly"},
                503,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
