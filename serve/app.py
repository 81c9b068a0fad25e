"""The web service as an ASGI app: the page, the API and the limits around them.

`create_app(service, hosts)` takes an already loaded `ModelService`, so the model is loaded
once, before the server accepts anything; the batcher runs for the app's lifetime. The
OpenAPI description of the API is a hand-written file beside the page
(`static/openapi.json`, served at `/api/openapi.json`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from serve import api
from serve.guard import HostCheck, SecurityHeaders
from serve.limits import BodyLimit, Slots
from serve.service import ModelService

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"  # the page: plain HTML, CSS and JS, no build step


def create_app(service: ModelService, hosts: frozenset[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.batcher.start()
        yield
        await service.batcher.stop()
        service.decoder.shutdown(wait=False, cancel_futures=True)

    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def openapi(request: Request) -> FileResponse:
        return FileResponse(STATIC / "openapi.json", media_type="application/json")

    limits = service.limits
    app = Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", api.health),
            Route("/readyz", api.ready),
            Route("/api/model", api.model_summary),
            Route("/api/model_card.json", api.model_card),
            Route("/api/examples/{number:int}.png", api.example),
            Route("/api/predict", api.predict, methods=["POST"]),
            Route("/api/openapi.json", openapi),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(HostCheck, hosts=hosts),
            Middleware(
                BodyLimit, max_bytes=limits.max_upload_bytes, max_seconds=limits.read_timeout_s
            ),
        ],
        exception_handlers={HTTPException: api.http_error, Exception: api.unexpected_error},
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.slots = Slots(limits.max_concurrent)
    return app
