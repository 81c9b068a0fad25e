"""The one photo opener (data.decode): pixel limit before decoding, reduced-scale JPEG
decoding, 16-bit PNG, EXIF orientation; memory measured in a fresh subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data.decode import MAX_PIXELS, decode_image, open_image
from data.errors import DataError, ImageError, TooManyPixelsError
from tests.images import huge_jpeg, lying_png, png16_gray, png16_rgb

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return huge_jpeg(tmp_path_factory.mktemp("huge") / "huge.jpg")


def test_a_png_declaring_too_many_pixels_is_refused_before_decoding(tmp_path: Path):
    path = lying_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 1000
    with pytest.raises(TooManyPixelsError, match="20000x20000 pixels, more than the limit"):
        open_image(path)
    assert issubclass(TooManyPixelsError, ImageError) and issubclass(ImageError, DataError)
    with pytest.raises(TooManyPixelsError):
        decode_image(path, 32)  # a PNG cannot be decoded reduced: still refused


def test_a_huge_jpeg_is_decoded_reduced_not_refused(big_jpeg: Path):
    assert 12000 * 12000 > MAX_PIXELS
    with pytest.raises(TooManyPixelsError):
        open_image(big_jpeg)  # at full size it would be too many
    image = open_image(big_jpeg, min_side=800)
    assert image.mode == "RGB" and image.size == (1500, 1500)  # 1/8 scale
    pixels = decode_image(big_jpeg, 32)
    assert pixels.shape == (32, 32, 3) and pixels[16, 16, 0] > 180  # the bright disc


_PEAK_HEADER = """
import sys
from data.decode import decode_image, open_image
from serve.face_crop import load_image

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

before = hwm()
path = sys.argv[1]
"""


def _run_peak(code: str, path: Path) -> float:
    """Peak memory growth (MB) of `code` run on `path` in a fresh process, after imports."""
    script = _PEAK_HEADER + textwrap.dedent(code) + "\nprint(hwm() - before)\n"
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.split()[-1])


def test_decoding_a_12000px_jpeg_stays_small_in_memory(big_jpeg: Path):
    # Full size it is 144 MB as grayscale and 432 MB more as RGB; at 1/8 about 7 MB.
    assert _run_peak("load_image(path)", big_jpeg) < 60
    assert _run_peak("decode_image(path, 64)", big_jpeg) < 60


def test_a_lying_png_costs_no_memory(tmp_path: Path):
    code = """
    try:
        load_image(path)
    except Exception as err:
        print(type(err).__name__)
    """
    assert _run_peak(code, lying_png(tmp_path / "bomb.png")) < 20


def test_16_bit_grayscale_png_is_scaled_not_white(tmp_path: Path):
    pixels = decode_image(png16_gray(tmp_path / "gray16.png", 30000), 16)
    assert np.all(pixels == round(30000 / 257))
    dark = decode_image(png16_gray(tmp_path / "dark16.png", 0), 16)
    assert np.all(dark == 0)


def test_16_bit_rgb_png_keeps_its_colour(tmp_path: Path):
    pixels = decode_image(png16_rgb(tmp_path / "rgb16.png", (30000, 30000, 10000)), 16)
    assert np.abs(pixels.astype(int) - [117, 117, 39]).max() <= 1


def test_exif_orientation_is_applied_in_the_cache_too(tmp_path: Path):
    upright = Image.new("RGB", (40, 60), (200, 30, 30))
    upright.paste((30, 30, 200), (0, 0, 40, 20))  # blue band on top
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; rotate 90 degrees clockwise to display
    upright.rotate(90, expand=True).save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    pixels = decode_image(tmp_path / "sideways.jpg", 16)
    top = pixels[:3].reshape(-1, 3).mean(axis=0)
    assert top[2] > 150 and top[0] < 100


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [("missing.jpg", None, "no such file"), ("notes.jpg", b"not a picture", "not an image")],
)
def test_unreadable_files_are_image_errors(tmp_path: Path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        open_image(path)
