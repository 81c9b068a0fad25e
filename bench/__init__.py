"""Benchmarks that print the figures quoted in README: `python -m bench.<name>`."""

import common.environment  # noqa: F401  (before any backend is imported)
