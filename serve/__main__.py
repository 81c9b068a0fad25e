"""`python -m serve`: the web page and HTTP API for an exported model.

    python -m serve [--model DIR] [--host 127.0.0.1] [--port 8000] [--max-upload-mb 10]
        [--max-pixels N] [--max-concurrent 64] [--max-batch 32] [--batch-wait-ms 5]

Loads the export once (Keras safe mode, card validated; default the newest export), traces
the model, then serves until Ctrl-C. Binds loopback unless told otherwise.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from common.cli import run_command
from common.errors import UserError
from data.decode import MAX_PIXELS

__all__ = ["build_parser", "main"]

log = logging.getLogger("serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serve", description="Web page and HTTP API for an exported model."
    )
    add = parser.add_argument
    add("--model", type=Path, help="export folder (default: the newest studies/*/best)")
    add("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    add("--port", type=int, default=8000)
    add("--max-upload-mb", type=float, default=10.0, help="largest request body")
    add("--max-pixels", type=int, default=MAX_PIXELS, help="largest image, width x height")
    add("--max-concurrent", type=int, default=64, help="requests in flight; more get 503")
    add("--max-batch", type=int, default=32, help="most faces in one model call")
    add("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits to fill")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_command(lambda: _serve(args))


def _serve(args: argparse.Namespace) -> None:
    for name in ("max_upload_mb", "max_pixels", "max_concurrent", "max_batch"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    import uvicorn

    from model.export import load_export, newest_export
    from serve.app import create_app
    from serve.service import Limits, ModelService

    export_dir = args.model if args.model is not None else newest_export()
    model, card = load_export(export_dir)
    limits = Limits(
        max_upload_bytes=round(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        max_concurrent=args.max_concurrent,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
    )
    service = ModelService(model, card, limits)
    service.warm_up()
    log.info("model %s (study %s, trial %d) loaded", export_dir, card.study, card.trial)
    log.info("serving on http://%s:%d/", args.host, args.port)
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    raise SystemExit(main())
