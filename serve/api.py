"""The HTTP API: `POST /api/predict`, `GET /api/model`, `/healthz`, `/readyz`, JSON errors.

`POST /api/predict` takes a multipart form with one or more `file` fields and answers
`{"results": [...]}`, one entry per image in order: the prediction, or `{"file", "error",
"status"}`. The status is 200 when at least one image was answered, else the first image's
own status (413 too many pixels, 415 not an image, 422 no face, 500 an unexpected failure
of that image alone) with its `error` on top. An upload that is not complete within the read
deadline is 408; over the processing slots, 503 with Retry-After (`/readyz` says 503 then
too, while `/healthz` only says the process is up).
Query: `detect=0` for photos that are aligned face crops already, `crop=1` to receive the
model's input as a PNG data URL. Every error, including unexpected ones, is JSON without a
traceback; the traceback goes to the server's log.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from common.errors import UserError
from data.errors import ImageError, TooManyPixelsError
from serve.examples import EXAMPLES, example_png
from serve.face_crop import FaceError
from serve.limits import (
    BodyTimeout,
    BodyTooLarge,
    Slots,
    body_limit_message,
    body_timeout_message,
)
from serve.service import ModelService

__all__ = [
    "example",
    "health",
    "http_error",
    "model_card",
    "model_summary",
    "predict",
    "ready",
    "unexpected_error",
]

log = logging.getLogger(__name__)

_FALSE = ("0", "false", "no", "off")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    slots: Slots = request.app.state.slots
    status = {"in_progress": slots.taken, "max_concurrent": slots.size}
    if slots.full:
        return JSONResponse({"status": "busy", **status}, 503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", **status})


async def model_summary(request: Request) -> Response:
    return JSONResponse(request.app.state.service.summary())


async def model_card(request: Request) -> Response:
    card = request.app.state.service.card
    return Response(card.to_json(), media_type="application/json")


async def example(request: Request) -> Response:
    number = request.path_params["number"]
    if not 0 <= number < EXAMPLES:
        return _error(404, f"no example {number}: there are {EXAMPLES}")
    data = await asyncio.to_thread(example_png, number)
    return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


async def predict(request: Request) -> Response:
    service: ModelService = request.app.state.service
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _error(415, "send the photo as multipart/form-data in the field 'file'")
    detect = request.query_params.get("detect", "1").lower() not in _FALSE
    crop = request.query_params.get("crop", "0").lower() not in _FALSE
    try:
        async with request.form(max_files=service.limits.max_files, max_fields=10) as form:
            uploads = [item for item in form.getlist("file") if isinstance(item, UploadFile)]
            files = [(upload.filename or "upload", await upload.read()) for upload in uploads]
    except BodyTooLarge:
        return _error(413, body_limit_message(service.limits.max_upload_bytes))
    except BodyTimeout:
        return _error(408, body_timeout_message(service.limits.read_timeout_s))
    except ClientDisconnect:  # nobody is left to read an answer
        return _error(400, "the client went away before the upload finished")
    if not files:
        return _error(400, "no photo: send it in the multipart form field 'file'")
    slots: Slots = request.app.state.slots
    if slots.full:
        message = f"busy: {slots.size} requests in progress, retry shortly"
        return JSONResponse({"error": message}, 503, headers={"Retry-After": "1"})
    with slots.held():
        results = await asyncio.gather(
            *(_predict_one(service, data, name, detect=detect, crop=crop) for name, data in files)
        )
    failed = [r for r in results if "error" in r]
    if len(failed) < len(results):
        return JSONResponse({"results": results})
    first = failed[0]
    return JSONResponse({"error": first["error"], "results": results}, first["status"])


async def _predict_one(
    service: ModelService, data: bytes, name: str, *, detect: bool, crop: bool
) -> dict:
    if not data:
        return {"file": name, "error": f"{name}: empty file", "status": 400}
    try:
        return await service.predict(data, name, detect=detect, crop=crop)
    except TooManyPixelsError as err:
        status = 413
        message = str(err)
    except ImageError as err:
        status = 415
        message = str(err)
    except FaceError:
        status = 422
        message = f"{name}: no face found (for an aligned face crop, send detect=0)"
    except UserError as err:
        status = 422
        message = f"{name}: {err}"
    except Exception:  # a bug or a decoder's surprise: this image's answer, not the others'
        log.exception("predicting %s failed", name)
        status = 500
        message = f"{name}: could not be processed (the server's log has the details)"
    return {"file": name, "error": " ".join(message.split()), "status": status}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this answer, so uvicorn logs its traceback
    return _error(500, "internal error (the server's log has the details)")
