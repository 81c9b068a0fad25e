"""Benchmark the data layer (not a test): python -m bench.data [--n 5000] [--size 64].

On a synthetic CelebA-like set (178x218 JPEGs, generated once under --workdir) it prints:

1. the cache build rate against the decode limit measured in the same run: the fastest
   single-image decode + resize found on one core, times the number of cores used
   (target: at least 80%);
2. the images/s one training epoch can draw from the cache (shuffled indices per epoch,
   batches of 32 gathered from the memory map, as a trainer does) against the notebook's
   input pipeline (tf.data from JPEG paths: read_file, decode_jpeg, resize, /255, batch 32,
   prefetch) measured in the same run (target: at least 50x).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from common.atomic import remove
from common.cli import set_up_logging
from data import decode_image, ensure_synthetic, load, prepare_cache, read_celeba

CELEBA_SIZE = 202_599
BATCH = 32


def decode_limit(paths: list[Path], size: int, repeats: int) -> tuple[float, float]:
    """Images/s of the fastest pass of single-image decode + resize on one core, by wall
    clock and by CPU time (the second does not depend on what else the machine runs)."""
    for path in paths:  # the first pass only brings the files into the page cache
        decode_image(path, size)
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for path in paths:
            decode_image(path, size)
        wall = min(wall, (time.perf_counter() - start) / len(paths))
        cpu = min(cpu, (time.process_time() - start_cpu) / len(paths))
    return 1.0 / wall, 1.0 / cpu


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the decode workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def cache_epoch_rate(
    images: np.ndarray, labels: np.ndarray, epochs: int, normalise: bool
) -> float:
    """Images/s of shuffled batches gathered from the memory-mapped cache."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for first in range(0, len(order), BATCH):
            index = np.sort(order[first : first + BATCH])  # sorted reads touch pages in order
            batch, _ = images[index], labels[index]
            if normalise:
                batch = np.multiply(batch, np.float32(1 / 255), dtype=np.float32)
    return epochs * len(images) / (time.perf_counter() - start)


def notebook_epoch_rate(paths: list[str], labels: np.ndarray, size: int) -> float:
    """Images/s of one epoch of the notebook's tf.data pipeline (after a short warm-up)."""
    import tensorflow as tf

    def load_image(path, label):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return tf.image.resize(image, [size, size]) / 255.0, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((paths, labels.astype(np.float32)))
        .map(load_image, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(BATCH)
        .prefetch(tf.data.AUTOTUNE)
    )
    for _ in dataset.take(3):
        pass
    start = time.perf_counter()
    count = 0
    for images, _ in dataset:
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="synthetic images (default 5000)")
    parser.add_argument("--size", type=int, default=64, help="cache image side (default 64)")
    parser.add_argument("--workers", type=int, help="cache build processes (default: all cores)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "celeba-search-bench",
        help="where the synthetic set is kept between runs",
    )
    args = parser.parse_args(argv)
    set_up_logging(logging.WARNING)
    workers = args.workers or len(os.sched_getaffinity(0))
    print(f"cores used: {workers}; load average now: {os.getloadavg()[0]:.1f}")

    source = ensure_synthetic(args.workdir / f"faces-n{args.n}", args.n, seed=0)
    celeba = read_celeba(source)
    paths = [celeba.image_path(i) for i in range(len(celeba))]

    per_core, per_core_cpu = decode_limit(paths[:1000], args.size, repeats=3)
    limit = per_core * workers
    out = args.workdir / f"cache-{args.size}px"
    if out.parent.exists():
        remove(out)  # measure a full build
    start, start_cpu = time.perf_counter(), cpu_seconds()
    prepare_cache(source, size=args.size, out=out, progress=False, workers=workers)
    build = len(paths) / (time.perf_counter() - start)
    build_cpu = len(paths) / (cpu_seconds() - start_cpu)
    print(f"\n1. cache build, {len(paths)} JPEGs 178x218 -> {args.size}x{args.size}")
    print(f"   decode limit: {per_core:,.0f} img/s per core x {workers} = {limit:,.0f} img/s")
    print(f"   cache build:  {build:,.0f} img/s = {build / limit:.0%} of the limit (target 80%)")
    print(
        f"   by CPU time:  build {build_cpu:,.0f} img/CPU-s vs fastest decode "
        f"{per_core_cpu:,.0f} img/CPU-s = {build_cpu / per_core_cpu:.0%}"
    )
    print(f"   full CelebA ({CELEBA_SIZE:,} images) at this rate: {CELEBA_SIZE / build:,.0f} s")

    train = load(out).train
    cached = cache_epoch_rate(train.images, train.labels, epochs=3, normalise=False)
    cached_float = cache_epoch_rate(train.images, train.labels, epochs=3, normalise=True)
    train_paths = [str(celeba.image_dir / image_id) for image_id in train.ids]
    notebook = notebook_epoch_rate(train_paths, np.asarray(train.labels), args.size)
    print(f"\n2. one training epoch, {len(train)} train images, batches of {BATCH}")
    print(f"   cache (uint8 batches, model normalises): {cached:,.0f} img/s")
    print(f"   cache (float32 /255 batches):            {cached_float:,.0f} img/s")
    print(f"   notebook tf.data from JPEG paths:        {notebook:,.0f} img/s")
    print(f"   speed-up: {cached / notebook:,.0f}x uint8, {cached_float / notebook:,.0f}x float32")
    print("   (target 50x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
