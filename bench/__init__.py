"""Benchmarks that print the figures quoted in docs/benchmarks.md: `python -m bench.<name>`."""

import common.environment  # noqa: F401  (before any backend is imported)
