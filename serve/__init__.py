"""Serving an exported model: face cropping, `python -m serve.predict`, the web service."""

import common.environment  # noqa: F401  (before any backend is imported)
