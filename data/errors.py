"""What can be wrong with CelebA data or an image file; each a `UserError` (common.errors)."""

from __future__ import annotations

from common.errors import UserError

__all__ = ["DataError", "ImageError", "TooManyPixelsError"]


class DataError(UserError):
    """Raised when a CelebA folder, its label files, its images or a cache is unusable."""


class ImageError(DataError):
    """Raised when a file cannot be read as an image (missing, not an image, corrupt)."""


class TooManyPixelsError(ImageError):
    """Raised, before decoding, for an image whose header declares more pixels than allowed."""
