"""Hostile and unusual image files, written for real: a PNG whose header lies, a huge JPEG,
16-bit PNGs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

__all__ = ["huge_jpeg", "lying_png", "png16_gray", "png16_rgb"]


def lying_png(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A 16x16 PNG whose header (IHDR, CRC fixed) declares `width` x `height`."""
    Image.new("RGB", (16, 16), (90, 90, 90)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")  # 4-byte length before, 13 bytes of fields after
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def huge_jpeg(path: Path, side: int = 12000) -> Path:
    """A side x side grayscale JPEG (a few hundred KB: mostly flat, a few shapes)."""
    image = Image.new("L", (side, side), 120)
    draw = ImageDraw.Draw(image)
    draw.ellipse((side // 4, side // 4, 3 * side // 4, 3 * side // 4), fill=200)
    draw.rectangle((0, 0, side // 8, side // 8), fill=20)
    image.save(path, quality=80)
    return path


def png16_gray(path: Path, value: int = 30000) -> Path:
    """A 16-bit grayscale PNG of one value (0..65535)."""
    cv2.imwrite(str(path), np.full((24, 24), value, np.uint16))
    return path


def png16_rgb(path: Path, rgb: tuple[int, int, int] = (30000, 30000, 10000)) -> Path:
    """A 16-bit RGB PNG of one colour (each channel 0..65535)."""
    cv2.imwrite(str(path), np.full((24, 24, 3), rgb[::-1], np.uint16))  # OpenCV writes BGR
    return path
