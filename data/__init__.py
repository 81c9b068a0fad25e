"""CelebA data layer: read and validate, synthesize, decode once into a memory-mapped cache.

`prepare_cache`, `default_cache_dir`, `generate_synthetic` and `ensure_synthetic` are
imported on first use: their modules are also run as `python -m data.prepare` /
`python -m data.synth`, and importing them here eagerly would make runpy warn that the
module was imported before it was run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import common.environment  # noqa: F401  (before any backend is imported)
from common.lazy import lazy_attributes
from data.attributes import CELEBA_ATTRIBUTES
from data.celeba import CelebaSource, read_celeba
from data.dataset import CelebaData, Split, load
from data.decode import decode_image
from data.errors import DataError

if TYPE_CHECKING:
    from data.prepare import default_cache_dir, prepare_cache
    from data.synth import ensure_synthetic, generate_synthetic

__all__ = [
    "CELEBA_ATTRIBUTES",
    "CelebaData",
    "CelebaSource",
    "DataError",
    "Split",
    "decode_image",
    "default_cache_dir",
    "ensure_synthetic",
    "generate_synthetic",
    "load",
    "prepare_cache",
    "read_celeba",
]

_LAZY = {
    "prepare_cache": "data.prepare",
    "default_cache_dir": "data.prepare",
    "generate_synthetic": "data.synth",
    "ensure_synthetic": "data.synth",
}

__getattr__ = lazy_attributes("data", _LAZY)
