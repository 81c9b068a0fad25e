"""The decode-once cache: its file layout and the memory-mapped reader `load`.

A cache is one folder::

    images.npy      (N, S, S, 3) uint8, rows sorted by partition: train, then val, then test
    labels.npy      (N, 40) uint8 0/1, columns in manifest["attr_names"] order
    ids.npy         (N,) str image file names
    partitions.npy  (N,) uint8 0 train, 1 val, 2 test
    manifest.json   written last; a folder without it is not a cache

Each split is a contiguous slice of the memory-mapped arrays, so a trainer reads only the
pages it touches and nothing is copied into memory up front.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.celeba import PARTITIONS
from data.errors import DataError

__all__ = ["CACHE_VERSION", "FILES", "MANIFEST", "CelebaData", "Split", "load", "read_manifest"]

CACHE_VERSION = 1
MANIFEST = "manifest.json"
FILES = ("images.npy", "labels.npy", "ids.npy", "partitions.npy")


@dataclass(frozen=True)
class Split:
    """One partition of the cache; `images` and `labels` are read-only memory maps."""

    ids: np.ndarray  # (N,) str image ids, e.g. "000001.jpg"
    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N, 40) uint8 0/1 in attr_names order

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class CelebaData:
    """A loaded cache: the attribute names and the three splits."""

    path: Path  # the cache folder
    attr_names: tuple[str, ...]
    image_size: int
    train: Split
    val: Split
    test: Split
    fingerprint: str  # of the source: label and partition files plus image names/sizes/mtimes
    manifest: dict  # the parsed manifest.json


def read_manifest(cache_dir: str | Path) -> dict | None:
    """The manifest of a complete cache of this version, or None when there is none."""
    path = Path(cache_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != CACHE_VERSION:
        return None
    if not all((Path(cache_dir) / name).is_file() for name in FILES):
        return None
    return manifest


def load(cache_dir: str | Path) -> CelebaData:
    """Memory-map a cache written by `data.prepare` (`DataError` if missing or incomplete)."""
    path = Path(cache_dir)
    if not path.is_dir():
        raise DataError(f"{path}: cache not found (build it with python -m data.prepare)")
    version = path.resolve()  # follow common.atomic's link once: every file from one version
    manifest = read_manifest(version)
    if manifest is None:
        raise DataError(f"{path}: not a complete cache of version {CACHE_VERSION} (rebuild it)")
    try:
        images = np.load(version / "images.npy", mmap_mode="r")
        labels = np.load(version / "labels.npy", mmap_mode="r")
        ids = np.load(version / "ids.npy")
        partitions = np.load(version / "partitions.npy")
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable cache file ({err})") from None
    try:
        size = int(manifest["image_size"])
        names = tuple(manifest["attr_names"])
        counts = [int(manifest["counts"][name]) for name in PARTITIONS]
        fingerprint = str(manifest["fingerprint"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: malformed {MANIFEST} (rebuild it)") from None
    total = sum(counts)
    expected = np.repeat(np.arange(len(PARTITIONS), dtype=np.uint8), counts)
    if (
        images.shape != (total, size, size, 3)
        or images.dtype != np.uint8
        or labels.shape != (total, len(names))
        or ids.shape != (total,)
        or not np.array_equal(partitions, expected)
    ):
        raise DataError(f"{path}: cache files disagree with {MANIFEST} (rebuild it)")
    ends = np.cumsum(counts)
    splits = [
        Split(ids[end - n : end], images[end - n : end], labels[end - n : end])
        for n, end in zip(counts, ends, strict=True)
    ]
    return CelebaData(
        path=path,
        attr_names=names,
        image_size=size,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        fingerprint=fingerprint,
        manifest=manifest,
    )
