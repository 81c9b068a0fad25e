"""Errors a user can fix: the CLIs print their message as one line and exit non-zero."""

from __future__ import annotations

__all__ = ["DataError", "UserError"]


class UserError(Exception):
    """Base of every error caused by input the user can correct (files, arguments, URLs)."""


class DataError(UserError):
    """Raised when a CelebA folder, its label files, its images or a cache is unusable."""
