"""The process environment every command shares, set once, before any backend is imported.

Each package's `__init__` imports this module first, so `python -m <package>.<command>`,
a test and a worker process all start with the same settings; a value already in the
environment wins.
"""

from __future__ import annotations

import os

__all__: list[str] = []

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
os.environ.setdefault("MPLBACKEND", "Agg")  # plots are written to files, never shown
