"""Open photos safely, and decode one into the cache's format (a centre square, S x S RGB).

`open_image` is the one photo opener of data.prepare, serve.predict and the web service. It
opens only the formats a face photo comes in (`FORMATS`: JPEG, PNG, WebP), so no other Pillow
plugin ever sees an upload (an ICO decodes its embedded PNG while being opened, before any
size check; EPS goes to Ghostscript; a float TIFF decodes to black). It reads the size from
the header and refuses, before decoding a byte of pixels, an image that would take more than
`max_pixels` once decoded (a 7 KB PNG may declare 20000x20000). Pillow's own guard
(`Image.MAX_IMAGE_PIXELS`, which refuses more than twice its value while opening) stays on
as a second line; its warning below that is silenced because our limit is the one that
decides. For a JPEG it first asks
libjpeg to decode at 1/2, 1/4 or 1/8 scale straight from the DCT (`Image.draft`) when the
caller needs fewer pixels, so a 12000x12000 photo costs a few MB and is not refused. 16-bit
grayscale is scaled to 8 bits (Pillow's own conversion clips it to white), and the EXIF
orientation is applied.

Cache policy: crop the centred square whose side is the shorter edge (for CelebA's aligned
178x218 images the box (0, 20, 178, 198), which keeps the whole face, the hair and the top
of the neck), then resize it to size x size with Pillow's antialiased bilinear filter.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from data.errors import ImageError, TooManyPixelsError

__all__ = [
    "FORMATS",
    "MAX_PIXELS",
    "crop_box",
    "decode_image",
    "decode_rows",
    "decode_task",
    "open_image",
]

MAX_PIXELS = 50_000_000  # decoded pixels (150 MB as RGB): a 50-megapixel camera's full frame

FORMATS = ("JPEG", "PNG", "WEBP")  # Pillow's names; a JPEG includes MPO (phone cameras)

# Pillow warns between its limit and twice it, counting a JPEG's full size even when it is
# decoded at 1/8 scale; our own limit, checked below, decides instead. Its error stays on.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # "I": how Pillow may load 16-bit PNG


def open_image(
    path: str | Path, min_side: int | None = None, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """The image at `path` as upright RGB, decoded at reduced scale where `min_side` allows.

    `min_side`: the smallest width and height the caller needs (None: full size); a JPEG is
    decoded at the smallest 1/1..1/8 scale that still gives that much. Raises
    `TooManyPixelsError` before decoding when the (reduced) image has more than
    `max_pixels` pixels, and `ImageError` for a file that is missing, not an image or in
    none of `FORMATS`.
    """
    try:
        with Image.open(path, formats=FORMATS) as image:
            width, height = image.size
            if min_side is not None:
                image.draft("RGB", (min_side, min_side))  # a no-op except for JPEG
            if image.size[0] * image.size[1] > max_pixels:
                raise TooManyPixelsError(
                    f"{path}: {width}x{height} pixels, more than the limit of {max_pixels:,}"
                )
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except Image.DecompressionBombError:  # Pillow's guard, while opening: no size to show
        limit = 2 * Image.MAX_IMAGE_PIXELS
        raise TooManyPixelsError(
            f"{path}: declares more than {limit:,} pixels, refused before decoding"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a JPEG, PNG or WebP image") from None
    except ImageError:
        raise
    except Exception as err:  # Pillow's decoders raise many kinds on broken or hostile files
        raise ImageError(f"{path}: {type(err).__name__}: {err}") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _SIXTEEN_BIT:
        gray = (np.asarray(image, dtype=np.uint32) + 128) // 257  # 0..65535 -> 0..255
        image = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8), mode="L")
    return image if image.mode == "RGB" else image.convert("RGB")


def crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The centred square (left, top, right, bottom) whose side is the shorter edge."""
    side = min(width, height)
    left = (width - side) / 2
    top = (height - side) / 2
    return (left, top, left + side, top + side)


def decode_image(path: str | Path, size: int) -> np.ndarray:
    """(size, size, 3) uint8 RGB of the image at `path`; raises `ImageError` if unreadable."""
    image = open_image(path, min_side=size)
    resized = image.resize((size, size), Image.Resampling.BILINEAR, box=crop_box(*image.size))
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
        except ImageError as err:
            bad.append((start + offset, str(err).removeprefix(f"{path}: ")))
    del images
    return len(paths), bad


def decode_task(task: tuple[str, int, list[str], int]) -> tuple[int, list[tuple[int, str]]]:
    """`decode_rows` for `map_unordered`, which passes one argument."""
    return decode_rows(*task)
