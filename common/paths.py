"""Where things live: studies and exports, the decode-once caches, synthetic faces, CelebA.

Every default path of every command is derived here, under one root: the current folder,
or `$CELEBA_SEARCH_HOME` when it is set (a data disk, a container volume).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ARTIFACTS",
    "CACHES",
    "CELEBA",
    "DEFAULT_STORAGE",
    "HOME",
    "HOME_ENV",
    "STUDIES",
    "SYNTHETIC",
    "export_dir",
    "report_dir",
]

HOME_ENV = "CELEBA_SEARCH_HOME"
HOME = Path(os.environ.get(HOME_ENV) or ".")

STUDIES = HOME / "studies"  # SQLite studies, exports (<study>/best), reports (<study>/report)
ARTIFACTS = STUDIES / "artifacts"  # model cards, served by optuna-dashboard
DEFAULT_STORAGE = f"sqlite:///{STUDIES / 'celeba.db'}"
CACHES = HOME / "data" / "cache"  # decoded images, one folder per source and size
SYNTHETIC = HOME / "data" / "synthetic"  # generated faces, one folder per size and seed
CELEBA = HOME / "data" / "celeba"  # where the real data set is looked for by default


def export_dir(study: str) -> Path:
    """The stable path of a study's exported model: a link that every refit replaces."""
    return STUDIES / study / "best"


def report_dir(study: str) -> Path:
    return STUDIES / study / "report"
