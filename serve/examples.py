"""Example faces for the page: synthetic faces drawn on the fly by data.face_drawing.

No real photo ships with the code; these are the kind of face the demo model learnt from,
178x218 like CelebA's aligned images. The first `EXAMPLES` drawings (seeds 0, 1, ...) in
which the page's face detector finds a face are offered, the same ones every time.
"""

from __future__ import annotations

import functools
import io
import itertools

import numpy as np

from data.face_drawing import draw_face, sample_face
from serve.face_crop import detect_largest_face

__all__ = ["EXAMPLES", "example_png"]

EXAMPLES = 4  # how many the page offers


def example_png(number: int) -> bytes:
    """Example `number` (0..EXAMPLES-1) as PNG bytes."""
    return _examples()[number]


@functools.cache
def _examples() -> tuple[bytes, ...]:
    found: list[bytes] = []
    seeds = itertools.count()
    while len(found) < EXAMPLES:
        rng = np.random.default_rng(next(seeds))
        picture = draw_face(rng, sample_face(rng))
        if detect_largest_face(picture) is not None:
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            found.append(buffer.getvalue())
    return tuple(found)
