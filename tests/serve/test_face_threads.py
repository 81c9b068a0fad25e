"""serve.face_crop from many threads at once gives the boxes it gives one photo at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from serve.face_crop import detect_largest_face, load_image
from tests.sample import SAMPLE

pytestmark = pytest.mark.skipif(SAMPLE is None, reason="../shared/celeba-sample is absent")


def test_detection_in_8_threads_matches_one_photo_at_a_time():
    paths = sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[:24]
    images = [load_image(path) for path in paths]
    # a few larger photos beside the aligned crops, so the threads' work differs in size
    images += [image.resize((image.width * 3, image.height * 3)) for image in images[:4]]
    alone = [detect_largest_face(image) for image in images]
    assert sum(box is not None for box in alone) > len(images) // 2
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            assert list(pool.map(detect_largest_face, images)) == alone
