"""Errors raised while training: a search fails the trial, a refit reports it."""

from __future__ import annotations

__all__ = ["NonFiniteLossError", "TrainingError"]


class TrainingError(Exception):
    """Base of every error raised by `model.train` because training itself went wrong."""


class NonFiniteLossError(TrainingError):
    """Raised when the training loss becomes NaN or infinite; says at which epoch and batch."""
