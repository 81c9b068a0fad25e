"""The web service as an ASGI app: the page, the API and the limits around them.

`create_app(service)` takes an already loaded `ModelService`, so the model is loaded once,
before the server accepts anything; the batcher runs for the app's lifetime.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from serve import api
from serve.limits import BodyLimit, ConcurrencyLimit
from serve.service import ModelService

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"  # the page: plain HTML, CSS and JS, no build step


def create_app(service: ModelService) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.batcher.start()
        yield
        await service.batcher.stop()

    async def page(request):
        return FileResponse(STATIC / "index.html")

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", api.health),
            Route("/api/model", api.model_summary),
            Route("/api/predict", api.predict, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(ConcurrencyLimit, max_in_flight=service.limits.max_concurrent),
            Middleware(BodyLimit, max_bytes=service.limits.max_upload_bytes),
        ],
        exception_handlers={HTTPException: api.http_error, Exception: api.unexpected_error},
        lifespan=lifespan,
    )
    app.state.service = service
    return app
