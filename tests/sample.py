"""Where the real CelebA sample (600 images, official TXT layout) is, if anywhere.

It sits beside the checkout (`../shared/celeba-sample`) here and in CI, inside it
(`shared/celeba-sample`) on the device machine; tests that need it skip when it is absent.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE"]

_REPO = Path(__file__).resolve().parents[1]

SAMPLE: Path | None = next(
    (
        folder / "celeba-sample"
        for folder in (_REPO.parent / "shared", _REPO / "shared")
        if (folder / "celeba-sample").is_dir()
    ),
    None,
)
