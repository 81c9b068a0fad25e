"""From a photo to the model's input: load, find the largest face, crop it like CelebA.

CelebA's aligned images are 178x218 with the face in a fixed place. On the 600 images of
the CelebA sample, OpenCV's frontal-face Haar cascade finds a square box of median side
103 px centred at (89, 123.5). Around a detected box of side w we therefore cut the
rectangle of 178/103 w by 218/103 w whose centre lies 14.5/103 w above the box's centre,
which is what CelebA's aligned crop would have been, and then apply the cache's own
policy (centre square of the shorter edge, antialiased bilinear resize).

OpenCV's `CascadeClassifier` is not thread-safe (one shared between threads gives one photo
another's face box), so every thread loads its own.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from common.errors import UserError
from data.decode import crop_box, open_image
from data.errors import ImageError

__all__ = [
    "DETECT_MAX_SIDE",
    "FaceError",
    "ImageError",
    "celeba_crop_box",
    "detect_largest_face",
    "face_input",
    "load_image",
]

_CASCADE = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
# CelebA aligned crop measured in units of the Haar box's side (see the module docstring)
_CROP_WIDTH = 178 / 103
_CROP_HEIGHT = 218 / 103
_CENTRE_SHIFT_UP = 14.5 / 103
DETECT_MAX_SIDE = 800  # photos are shrunk to this for detection: fast, and faces stay large
_MIN_FACE_FRACTION = 0.08  # of the shorter edge; smaller hits are mostly false positives

_local = threading.local()  # .cascade: this thread's detector


class FaceError(UserError):
    """Raised when no face is found in an image."""


def load_image(path: str | Path) -> Image.Image:
    """The image at `path` as upright RGB; a large JPEG decoded at reduced scale, since
    detection works on at most DETECT_MAX_SIDE pixels. Raises ImageError (and its
    TooManyPixelsError) for a file that cannot or should not be decoded."""
    return open_image(path, min_side=DETECT_MAX_SIDE)


def detect_largest_face(image: Image.Image) -> tuple[float, float, float, float] | None:
    """(x, y, width, height) of the largest frontal face in `image`, None if there is none."""
    scale = min(1.0, DETECT_MAX_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR,
    )  # fmt: skip
    gray = cv2.equalizeHist(np.asarray(small.convert("L")))
    min_side = max(24, round(_MIN_FACE_FRACTION * min(small.size)))
    faces = _get_cascade().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    if len(faces) == 0:
        return None
    x, y, w, h = (float(v) / scale for v in max(faces, key=lambda box: box[2] * box[3]))
    return (x, y, w, h)


def face_input(
    image: Image.Image, size: int, *, detect: bool = True
) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
    """(size, size, 3) uint8 of the largest face cropped like CelebA, and the face's box.

    With `detect=False` the image is taken to be an aligned crop already and goes through
    the cache's policy unchanged (the box is None). Raises FaceError when detection finds
    no face.
    """
    face = None
    if detect:
        face = detect_largest_face(image)
        if face is None:
            raise FaceError("no face found (for an aligned face crop, use --no-detect)")
        image = image.crop(celeba_crop_box(face))  # parts outside the photo are filled with black
    resized = image.resize((size, size), Image.Resampling.BILINEAR, box=crop_box(*image.size))
    return np.asarray(resized, dtype=np.uint8), face


def celeba_crop_box(face: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the CelebA-like aligned crop around a Haar face box."""
    x, y, w, h = face
    side = (w + h) / 2
    centre_x = x + w / 2
    centre_y = y + h / 2 - _CENTRE_SHIFT_UP * side
    half_w, half_h = _CROP_WIDTH * side / 2, _CROP_HEIGHT * side / 2
    return (
        round(centre_x - half_w),
        round(centre_y - half_h),
        round(centre_x + half_w),
        round(centre_y + half_h),
    )


def _get_cascade() -> cv2.CascadeClassifier:
    """This thread's own detector, loaded on its first use."""
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(str(_CASCADE))
        if cascade.empty():
            raise UserError(f"cannot load OpenCV's face detector from {_CASCADE}")
        _local.cascade = cascade
    return cascade
