"""Errors a user can fix: the CLIs print their message as one line and exit non-zero."""

from __future__ import annotations

__all__ = ["DataError", "ImageError", "TooManyPixelsError", "UserError"]


class UserError(Exception):
    """Base of every error caused by input the user can correct (files, arguments, URLs)."""


class DataError(UserError):
    """Raised when a CelebA folder, its label files, its images or a cache is unusable."""


class ImageError(DataError):
    """Raised when a file cannot be read as an image (missing, not an image, corrupt)."""


class TooManyPixelsError(ImageError):
    """Raised, before decoding, for an image whose header declares more pixels than allowed."""
