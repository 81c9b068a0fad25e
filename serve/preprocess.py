"""The one way a photo becomes the model's input, shared by serve.predict and the web service.

photo (a file or uploaded bytes) -> data.decode.open_image (pixel count checked from the
header before decoding, EXIF orientation, JPEGs decoded at reduced scale when that still
leaves enough pixels to find a face) -> the largest face (serve.face_crop) -> the CelebA-like
crop resized to the model's input. Both ways of asking therefore give the same numbers.

For a photo said to be an aligned crop already (no detection) the detector still looks at
it, enlarged to `_CHECK_SIDE` if small, only to say whether it holds a face at all: a cat or
a landscape then comes back marked, though it is scored like any other crop.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from data.decode import MAX_PIXELS, open_image
from serve.face_crop import DETECT_MAX_SIDE, detect_largest_face, face_input

__all__ = ["FaceInput", "Upload", "prepare_face"]

_CHECK_SIDE = 160  # an aligned crop's shorter side for the is-there-a-face check


@dataclass(frozen=True)
class FaceInput:
    pixels: np.ndarray  # (S, S, 3) uint8: what the network sees
    face: tuple[float, float, float, float] | None  # (x, y, w, h) in the decoded photo
    photo_size: tuple[int, int]  # (width, height) of the photo as decoded
    face_seen: bool  # a face was detected (for an aligned crop: anywhere in it)
    decode_s: float
    detect_s: float  # finding the face, cropping and resizing


class Upload(io.BytesIO):
    """Uploaded bytes that errors name by their file name, like a path."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name

    def __str__(self) -> str:
        return self.name


def prepare_face(
    source: str | Path | Upload, size: int, *, detect: bool = True, max_pixels: int = MAX_PIXELS
) -> FaceInput:
    """The model's input for the largest face in `source` (or the whole image if not `detect`).

    Raises data.errors.ImageError (not an image), TooManyPixelsError (more than `max_pixels`,
    refused before decoding) or serve.face_crop.FaceError (no face found).
    """
    started = time.perf_counter()
    # detection works on at most DETECT_MAX_SIDE pixels; an aligned crop needs only `size`
    photo = open_image(source, min_side=DETECT_MAX_SIDE if detect else size, max_pixels=max_pixels)
    decoded = time.perf_counter()
    pixels, face = face_input(photo, size, detect=detect)
    return FaceInput(
        pixels=pixels,
        face=face,
        photo_size=photo.size,
        face_seen=face is not None or _holds_a_face(photo),
        decode_s=decoded - started,
        detect_s=time.perf_counter() - decoded,
    )


def _holds_a_face(photo: Image.Image) -> bool:
    scale = max(1.0, _CHECK_SIDE / min(photo.size))
    if scale > 1.0:
        size = (round(photo.width * scale), round(photo.height * scale))
        photo = photo.resize(size, Image.Resampling.BILINEAR)
    return detect_largest_face(photo) is not None
