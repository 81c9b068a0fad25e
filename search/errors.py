"""Errors of the search service that a user can fix (bad arguments, unreachable storage)."""

from __future__ import annotations

from common.errors import UserError

__all__ = ["ConfigError", "StorageError"]


class ConfigError(UserError):
    """Raised when command-line arguments or a preset are invalid or contradict each other."""


class StorageError(UserError):
    """Raised when the study storage cannot be reached or the study cannot be found."""
