"""search package."""

import common.environment  # noqa: F401  (before any backend is imported)
