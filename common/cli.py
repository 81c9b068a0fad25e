"""What every command does with a user's mistake, and how it prints a value on one line.

Each `main(argv)` parses its arguments and hands its work to `run_command`: a `UserError`
becomes one `error: ...` line on stderr and exit status 2, Ctrl-C one `interrupted` line
and 130. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from common.errors import UserError

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "EXIT_USER_ERROR",
    "main_of",
    "print_error",
    "run_command",
    "set_up_logging",
    "fig",
    "short",
]

EXIT_OK = 0
EXIT_SOME_FAILED = 1  # part of the work failed (a file, a worker); the rest was done
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def main_of(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    work: Callable[[argparse.Namespace], int | None],
    log_level: int = logging.INFO,
) -> int:
    """A command's whole `main`: parse `argv`, set up logging, run `work` under the policy."""
    args = parser.parse_args(argv)
    set_up_logging(log_level)
    return run_command(lambda: work(args))


def run_command(work: Callable[[], int | None]) -> int:
    """Run a command's body and turn what the user can fix into one line and an exit status."""
    try:
        code = work()
    except UserError as exc:
        print_error(str(exc))
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if code is None else code


def set_up_logging(level: int = logging.INFO, fmt: str = LOG_FORMAT) -> None:
    """Every command's logging: records at `level` and above go to stderr, one per line."""
    logging.basicConfig(level=level, format=fmt)


def print_error(message: str) -> None:
    """`error: message` on stderr, always one line."""
    print("error: " + " ".join(message.split()), file=sys.stderr)


def fig(value: float | None, digits: int = 4) -> str:
    """A score or a time for a line or a table: fixed digits, "-" where there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def short(value: object) -> str:
    """A parameter's value for a line of text: floats to three significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)
