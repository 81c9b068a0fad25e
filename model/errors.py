"""Errors of the model package: training that went wrong, and exports that cannot be used."""

from __future__ import annotations

from common.errors import UserError

__all__ = ["CardError", "ExportError", "NonFiniteLossError", "TrainingError"]


class TrainingError(Exception):
    """Base of every error raised by `model.train` because training itself went wrong."""


class NonFiniteLossError(TrainingError):
    """Raised when the training loss becomes NaN or infinite; says at which epoch and batch."""


class ExportError(UserError):
    """Raised when an export folder is missing, incomplete, unloadable or cannot be written."""


class CardError(ExportError):
    """Raised when a model card is not valid JSON or a field has the wrong type or range."""
