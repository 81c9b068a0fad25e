"""The root of every error a user can fix: the CLIs print its message as one line."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """Base of every error caused by input the user can correct (files, arguments, URLs)."""
