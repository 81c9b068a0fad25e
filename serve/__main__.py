"""`python -m serve`: the web page and HTTP API for an exported model.

    python -m serve [--model DIR] [--host 127.0.0.1] [--port 8000] [--allowed-host NAME]...
        [--max-upload-mb 10] [--max-pixels N] [--max-concurrent 64] [--max-connections 256]
        [--read-timeout 30] [--idle-timeout 10] [--decode-threads N] [--max-batch 32]
        [--batch-wait-ms 5]

Checks every option and takes the port first (each mistake one `error:` line, exit 2), then
loads the export (Keras safe mode, card validated; default the newest export), traces the
model and serves until Ctrl-C. Binds loopback unless told otherwise; only Host headers that
name this server are answered (`--allowed-host` adds names, `*` turns the check off).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from common.cli import main_of
from common.errors import UserError
from serve.limits import Limits

__all__ = ["build_parser", "main"]

log = logging.getLogger("serve")

_POSITIVE = ("max_upload_mb", "max_pixels", "max_concurrent", "max_connections", "max_batch")
_POSITIVE += ("read_timeout", "idle_timeout", "decode_threads")


def build_parser() -> argparse.ArgumentParser:

    defaults = Limits()
    parser = argparse.ArgumentParser(
        prog="python -m serve", description="Web page and HTTP API for an exported model."
    )
    add = parser.add_argument
    add("--model", type=Path, help="export folder (default: the newest studies/*/best)")
    add("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    add("--port", type=_number(int), default=8000)
    add("--allowed-host", action="append", default=[], metavar="NAME",
        help="another Host header to answer, e.g. faces.example.org:8000 ('*': any)")  # fmt: skip
    add("--max-upload-mb", type=_number(float), default=defaults.max_upload_bytes / 2**20,
        help="largest request body")  # fmt: skip
    add(
        "--max-pixels", type=_number(int), default=defaults.max_pixels, help="largest image, w x h"
    )
    add("--max-concurrent", type=_number(int), default=defaults.max_concurrent,
        help="requests being processed; more get 503")  # fmt: skip
    add("--max-connections", type=_number(int), default=defaults.max_connections,
        help="open connections; over it requests get 503")  # fmt: skip
    add("--read-timeout", type=_number(float), default=defaults.read_timeout_s,
        help="seconds for a request's body to arrive; slower uploads get 408")  # fmt: skip
    add("--idle-timeout", type=_number(float), default=defaults.idle_timeout_s,
        help="seconds a connection may wait before sending its request head")  # fmt: skip
    add("--decode-threads", type=_number(int), default=defaults.decode_threads,
        help="photos decoded at once (memory: about this x --max-pixels x 3 bytes)")  # fmt: skip
    add("--max-batch", type=_number(int), default=defaults.max_batch,
        help="most faces in one model call")  # fmt: skip
    add("--batch-wait-ms", type=_number(float), default=defaults.batch_wait_ms,
        help="how long a batch waits to fill")  # fmt: skip
    return parser


def _number(kind: type) -> type:
    """argparse's `type`: any text passes, so that `_check` can say what is wrong in one
    line rather than argparse's usage and error lines."""

    def parse(text: str) -> int | float | str:
        try:
            return kind(text)
        except ValueError:
            return text

    parse.__name__ = kind.__name__
    return parse  # type: ignore[return-value]


def _check(args: argparse.Namespace) -> None:
    """UserError for the first option that is not a usable value."""
    for name, value in vars(args).items():
        option = "--" + name.replace("_", "-")
        if name in (*_POSITIVE, "port", "batch_wait_ms"):
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise UserError(f"{option} must be a finite number, not {value!r}")
        if name in _POSITIVE and value <= 0:
            raise UserError(f"{option} must be positive, not {value}")
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, not {args.port}")
    if args.batch_wait_ms < 0:
        raise UserError(f"--batch-wait-ms must be 0 or more, not {args.batch_wait_ms}")


def main(argv: list[str] | None = None) -> int:
    return main_of(build_parser(), argv, _serve)


def _serve(args: argparse.Namespace) -> None:
    _check(args)
    from serve.server import bind, serve

    sock = bind(args.host, args.port)  # a busy port is found before the long part
    try:
        app = _load_app(args)
        log.info("serving on http://%s:%d/", args.host, args.port)
        serve(app, sock, app.state.service.limits)
    finally:
        sock.close()


def _load_app(args: argparse.Namespace) -> object:
    from common.native_logs import quiet_native_stderr
    from model.export import newest_export
    from serve.guard import allowed_hosts

    export_dir = args.model if args.model is not None else newest_export()
    log.info("loading the model from %s ...", export_dir)
    limits = Limits(
        max_upload_bytes=round(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        max_concurrent=args.max_concurrent,
        max_connections=args.max_connections,
        read_timeout_s=args.read_timeout,
        idle_timeout_s=args.idle_timeout,
        decode_threads=args.decode_threads,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
    )
    with quiet_native_stderr():  # TensorFlow's CUDA lines on a machine without a GPU
        from model.export import load_export
        from serve.app import create_app
        from serve.service import ModelService

        model, card = load_export(export_dir)
        service = ModelService(model, card, limits)
        service.warm_up()
    log.info("model %s (study %s, trial %d) loaded", export_dir, card.study, card.trial)
    return create_app(service, allowed_hosts(args.host, args.port, args.allowed_host))


if __name__ == "__main__":
    raise SystemExit(main())
