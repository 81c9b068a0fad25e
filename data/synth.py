"""Write a synthetic CelebA folder in the Kaggle layout: `python -m data.synth --out DIR --n N`.

Image i (`{i+1:06d}.jpg`, 178x218 JPEG) and its labels come from a generator seeded with
(seed, i) alone, so the files are identical for the same seed whatever the number of
worker processes. As in CelebA, the first 80% of the ids are train, the next 10% val and
the rest test. The folder is written under a temporary name and renamed when complete; a
`synthetic.json` marker lets `ensure_synthetic` reuse it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from common.atomic import install, temp_dir_for
from common.cli import run_command, set_up_logging
from data.attributes import CELEBA_ATTRIBUTES
from data.errors import DataError
from data.face_drawing import draw_face, sample_face
from data.pool import map_unordered, worker_count

__all__ = ["ensure_synthetic", "generate_synthetic", "image_id", "main", "partition_sizes"]

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2
MARKER = "synthetic.json"
IMAGE_DIR = "img_align_celeba"
JPEG_QUALITY = 90
_CHUNK = 250


def image_id(index: int) -> str:
    """CelebA-style file name of image `index` (0-based)."""
    return f"{index + 1:06d}.jpg"


def partition_sizes(n: int) -> tuple[int, int, int]:
    """(train, val, test) sizes, about 80/10/10 with at least one image in each."""
    val = test = max(1, round(n * 0.1))
    return n - val - test, val, test


def render_range(image_dir: str, seed: int, start: int, stop: int) -> np.ndarray:
    """Draw and save images start..stop-1; returns their (stop-start, 40) uint8 labels."""
    labels = np.empty((stop - start, len(CELEBA_ATTRIBUTES)), dtype=np.uint8)
    for index in range(start, stop):
        rng = np.random.default_rng((seed, index))
        face = sample_face(rng)
        labels[index - start] = face.labels()
        picture = draw_face(rng, face)
        picture.save(os.path.join(image_dir, image_id(index)), "JPEG", quality=JPEG_QUALITY)
    return labels


def _render_task(task: tuple[str, int, int, int]) -> tuple[int, np.ndarray]:
    return task[2], render_range(*task)


def _marker(n: int, seed: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "n": n, "seed": seed}


def _is_complete(out: Path, n: int, seed: int) -> bool:
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker != _marker(n, seed):
        return False
    with os.scandir(out / IMAGE_DIR) as entries:
        return sum(1 for _ in entries) == n


def generate_synthetic(out: str | Path, n: int, seed: int = 0, workers: int | None = None) -> Path:
    """Write `n` synthetic faces with their label and partition CSVs to `out`; return it.

    `out` must not exist, be empty, or hold an earlier synthetic set (which is replaced);
    any other folder is refused with `DataError` rather than overwritten.
    """
    out = Path(out)
    if n < 3:
        raise DataError(f"--n must be at least 3 (one image per partition), got {n}")
    if out.exists() and not (out.is_dir() and ((out / MARKER).exists() or not any(out.iterdir()))):
        raise DataError(
            f"{out}: exists and is not a synthetic CelebA folder; refusing to overwrite"
        )
    workers = worker_count(workers)
    try:
        tmp = temp_dir_for(out)
    except OSError as err:
        raise DataError(f"{out}: cannot create the folder ({err.strerror})") from None
    try:
        _write(tmp, n, seed, workers)
        install(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise DataError(f"{out}: cannot write the synthetic set ({err})") from None
        raise
    log.info("wrote %d synthetic faces to %s", n, out)
    return out


def ensure_synthetic(out: str | Path, n: int, seed: int = 0, workers: int | None = None) -> Path:
    """`out` if it already holds the complete set for (n, seed), else generate it there."""
    out = Path(out)
    if _is_complete(out, n, seed):
        return out
    return generate_synthetic(out, n, seed, workers)


def _write(folder: Path, n: int, seed: int, workers: int) -> None:
    image_dir = folder / IMAGE_DIR
    image_dir.mkdir()
    tasks = [(str(image_dir), seed, s, min(n, s + _CHUNK)) for s in range(0, n, _CHUNK)]
    labels = np.empty((n, len(CELEBA_ATTRIBUTES)), dtype=np.uint8)
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            labels[task[2] : task[3]] = render_range(*task)
    else:
        pool = min(workers, len(tasks))
        for start, rows in map_unordered(_render_task, tasks, pool, "data.synth"):
            labels[start : start + len(rows)] = rows
    ids = [image_id(i) for i in range(n)]
    values = np.where(labels == 1, "1", "-1")
    rows = [",".join([i, *row]) for i, row in zip(ids, values.tolist(), strict=True)]
    header = ",".join(["image_id", *CELEBA_ATTRIBUTES])
    (folder / "list_attr_celeba.csv").write_text("\n".join([header, *rows]) + "\n")
    train, val, _ = partition_sizes(n)
    parts = np.repeat([0, 1, 2], [train, val, n - train - val])
    lines = [f"{i},{p}" for i, p in zip(ids, parts.tolist(), strict=True)]
    (folder / "list_eval_partition.csv").write_text(
        "\n".join(["image_id,partition", *lines]) + "\n"
    )
    (folder / MARKER).write_text(json.dumps(_marker(n, seed)) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data.synth",
        description="Write procedurally drawn CelebA-like faces in the Kaggle layout.",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write")
    parser.add_argument("--n", required=True, type=int, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    set_up_logging(fmt="%(message)s")
    return run_command(
        lambda: print(generate_synthetic(args.out, args.n, args.seed, args.workers))
    )


if __name__ == "__main__":
    raise SystemExit(main())
