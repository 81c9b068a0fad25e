"""Build the decode-once cache of a CelebA folder: `python -m data.prepare --celeba PATH`.

The folder is validated first (nothing is written if it is unusable). Then every image is
decoded once on all cores, each worker writing its rows straight into a preallocated
memory-mapped `images.npy` inside a temporary folder, which is renamed into place only
when everything, manifest included, is written. An unreadable JPEG is logged, listed in the
manifest's `bad_files` and left out (`strict=True` makes it an error instead). A cache
whose source fingerprint and image size match is reused without decoding anything.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.atomic import install, temp_dir_for
from common.cli import run_command, set_up_logging
from common.paths import CACHES
from data.celeba import (
    PARTITIONS,
    CelebaSource,
    SourceFiles,
    locate,
    read_celeba,
    source_fingerprint,
)
from data.dataset import CACHE_VERSION, MANIFEST, read_manifest
from data.decode import decode_rows, decode_task
from data.errors import DataError
from data.pool import map_unordered, worker_count

__all__ = ["default_cache_dir", "main", "prepare_cache"]

log = logging.getLogger(__name__)

CROP_POLICY = "centre square of the shorter edge, antialiased bilinear resize (Pillow)"
_MIN_SIZE, _MAX_SIZE = 4, 512


def default_cache_dir(source: Path, size: int) -> Path:
    """`<CACHES>/<folder name>-<hash of its absolute path>-<size>px` (relative path)."""
    source = Path(source).resolve()
    tag = hashlib.sha256(str(source).encode()).hexdigest()[:8]
    return CACHES / f"{source.name or 'celeba'}-{tag}-{size}px"


def prepare_cache(
    source: str | Path,
    size: int = 64,
    out: str | Path | None = None,
    strict: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Validate `source`, decode it into a cache at `out` and return the cache folder.

    Returns at once when `out` already holds a cache of the same source fingerprint and
    size. Raises `DataError` for an unusable source, an unwritable `out`, or (with
    `strict`) any unreadable image; in each case nothing is written.
    """
    if not _MIN_SIZE <= size <= _MAX_SIZE:
        raise DataError(f"image size {size} is outside {_MIN_SIZE}..{_MAX_SIZE}")
    workers = worker_count(workers)
    files = locate(source)
    fingerprint = _fingerprint(files)
    out = Path(out) if out is not None else default_cache_dir(files.root, size)
    if _matches(out, fingerprint, size, strict):
        log.info("cache %s is up to date", out)
        return out
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    if out.exists() and not (out / MANIFEST).exists() and any(out.iterdir()):
        raise DataError(f"{out}: exists and is not a cache; refusing to overwrite it")
    celeba = read_celeba(files.root)
    try:
        tmp = temp_dir_for(out)
    except OSError as err:
        raise DataError(f"{out}: cannot create the cache folder ({err.strerror})") from None
    try:
        _build(celeba, tmp, size, fingerprint, strict, progress, workers)
        install(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(err, OSError):
            raise
        if _matches(out, fingerprint, size, strict):
            return out  # a concurrent run installed the same cache first
        raise DataError(f"{out}: cannot write the cache ({err})") from None
    return out


def _fingerprint(files: SourceFiles) -> str:
    try:
        return source_fingerprint(files)
    except OSError as err:
        raise DataError(f"{err.filename}: cannot read ({err.strerror})") from None


def _matches(out: Path, fingerprint: str, size: int, strict: bool) -> bool:
    manifest = read_manifest(out)
    if manifest is None:
        return False
    if manifest.get("fingerprint") != fingerprint or manifest.get("image_size") != size:
        return False
    if strict and manifest.get("bad_files"):
        first = manifest["bad_files"][0]
        raise DataError(
            f"{Path(manifest['image_dir']) / first['id']}: unreadable image ({first['error']})"
            f"; {len(manifest['bad_files'])} bad file(s) in total"
        )
    return True


def _decode_all(
    images_path: Path, paths: list[str], size: int, workers: int, progress: bool
) -> list[tuple[int, str]]:
    chunk = int(np.clip(len(paths) // (workers * 8), 32, 512))
    tasks = [
        (str(images_path), s, paths[s : s + chunk], size) for s in range(0, len(paths), chunk)
    ]
    bad: list[tuple[int, str]] = []
    with tqdm(total=len(paths), unit="img", desc="decode", disable=not progress) as bar:
        if workers == 1 or len(tasks) == 1:
            results = (decode_rows(*task) for task in tasks)
            for done, failed in results:
                bad.extend(failed)
                bar.update(done)
        else:
            pool = min(workers, len(tasks))
            for done, failed in map_unordered(decode_task, tasks, pool, "data.decode"):
                bad.extend(failed)
                bar.update(done)
    return sorted(bad)


def _build(
    celeba: CelebaSource,
    tmp: Path,
    size: int,
    fingerprint: str,
    strict: bool,
    progress: bool,
    workers: int,
) -> None:
    order = np.argsort(celeba.partitions, kind="stable")  # train, val, test contiguous
    paths = [str(celeba.image_dir / celeba.ids[i]) for i in order]
    images_path = tmp / "images.npy"
    np.lib.format.open_memmap(
        images_path, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)
    )
    log.info("decoding %d images from %s at %dx%d", len(paths), celeba.image_dir, size, size)
    bad = _decode_all(images_path, paths, size, workers, progress)
    bad_files = _bad_files(celeba, order, bad, strict)
    keep = np.ones(len(order), dtype=bool)
    keep[[row for row, _ in bad]] = False
    if bad:
        _compact(images_path, keep)
    kept = order[keep]
    partitions = celeba.partitions[kept]
    counts = np.bincount(partitions, minlength=len(PARTITIONS))
    for index, name in enumerate(PARTITIONS):
        if counts[index] == 0:
            raise DataError(
                f"{celeba.image_dir}: every image of the {name} partition is unreadable"
            )
    np.save(tmp / "labels.npy", celeba.labels[kept])
    np.save(tmp / "ids.npy", celeba.ids[kept])
    np.save(tmp / "partitions.npy", partitions)
    manifest = {
        "version": CACHE_VERSION,
        "source": str(celeba.root.resolve()),
        "layout": celeba.layout,
        "image_dir": str(celeba.image_dir.resolve()),
        "attr_names": list(celeba.attr_names),
        "image_size": size,
        "crop": CROP_POLICY,
        "fingerprint": fingerprint,
        "counts": {name: int(counts[i]) for i, name in enumerate(PARTITIONS)},
        "n_images": int(len(kept)),
        "bad_files": bad_files,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def _bad_files(
    celeba: CelebaSource, order: np.ndarray, bad: list[tuple[int, str]], strict: bool
) -> list[dict[str, str]]:
    """The unreadable images for the manifest, each logged; with `strict`, the first one fails."""
    bad_files = []
    for row, error in bad:
        index = order[row]
        partition = PARTITIONS[celeba.partitions[index]]
        bad_files.append({"id": str(celeba.ids[index]), "partition": partition, "error": error})
    for entry in bad_files:
        log.warning("skipping %s: %s", celeba.image_dir / entry["id"], entry["error"])
    if bad_files and strict:
        first = bad_files[0]
        raise DataError(
            f"{celeba.image_dir / first['id']}: unreadable image ({first['error']}); "
            f"{len(bad_files)} bad file(s) in total"
        )
    return bad_files


def _compact(images_path: Path, keep: np.ndarray) -> None:
    """Rewrite images.npy without the rows of unreadable files, a block at a time."""
    source = np.load(images_path, mmap_mode="r")
    compact_path = images_path.with_name("images.compact.npy")
    target = np.lib.format.open_memmap(
        compact_path, mode="w+", dtype=np.uint8, shape=(int(keep.sum()),) + source.shape[1:]
    )
    written = 0
    block = 4096
    for start in range(0, len(source), block):
        rows = source[start : start + block][keep[start : start + block]]
        target[written : written + len(rows)] = rows
        written += len(rows)
    target.flush()
    del source, target
    os.replace(compact_path, images_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data.prepare",
        description="Check a CelebA folder and decode it once into a memory-mappable cache.",
    )
    parser.add_argument("--celeba", required=True, type=Path, help="CelebA folder (either layout)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--out", type=Path, help="cache folder (default: under data/cache/)")
    parser.add_argument("--strict", action="store_true", help="fail on any unreadable image")
    parser.add_argument("--workers", type=int, help="decoding processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    set_up_logging(fmt="%(message)s")
    return run_command(
        lambda: print(
            prepare_cache(
                args.celeba, args.size, args.out, args.strict, not args.quiet, args.workers
            )
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
