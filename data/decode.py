"""Decode one image file into the cache's format: a centre square crop resized to S x S RGB.

Policy: crop the centred square whose side is the shorter edge (for CelebA's aligned
178x218 images the box (0, 20, 178, 198), which keeps the whole face, the hair and the top
of the neck), then resize it to size x size with Pillow's antialiased bilinear filter.
`Image.draft` lets libjpeg decode at 1/2, 1/4 or 1/8 scale straight from the DCT when the
target is small, which makes decoding several times cheaper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["crop_box", "decode_image", "decode_rows", "decode_task"]


def crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The centred square (left, top, right, bottom) whose side is the shorter edge."""
    side = min(width, height)
    left = (width - side) / 2
    top = (height - side) / 2
    return (left, top, left + side, top + side)


def decode_image(path: str | Path, size: int) -> np.ndarray:
    """(size, size, 3) uint8 RGB of the image at `path`; Pillow's errors pass through."""
    with Image.open(path) as image:
        width, height = image.size
        image.draft("RGB", (size, size))
        scale = image.size[0] / width  # draft may have shrunk the image by 2, 4 or 8
        if image.mode != "RGB":
            image = image.convert("RGB")
        box = tuple(v * scale for v in crop_box(width, height))
        resized = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
        return np.asarray(resized, dtype=np.uint8)


def decode_rows(
    images_path: str, start: int, paths: list[str], size: int
) -> tuple[int, list[tuple[int, str]]]:
    """Decode `paths` into rows `start`.. of a memory-mapped images.npy.

    Returns how many files were handled and (row, error) for those that failed; a bad
    file only costs its own row, so one corrupt JPEG never stops a cache build.
    """
    images = np.load(images_path, mmap_mode="r+")
    bad = []
    for offset, path in enumerate(paths):
        try:
            images[start + offset] = decode_image(path, size)
        except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, ...
            bad.append((start + offset, f"{type(err).__name__}: {err}"))
    del images
    return len(paths), bad


def decode_task(task: tuple[str, int, list[str], int]) -> tuple[int, list[tuple[int, str]]]:
    """`decode_rows` for `Pool.imap_unordered`, which passes one argument."""
    return decode_rows(*task)
