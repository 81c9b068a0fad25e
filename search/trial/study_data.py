"""The data a search or refit trains on: a CelebA folder or synthetic faces, cached once."""

from __future__ import annotations

from pathlib import Path

from common.paths import SYNTHETIC
from data import CelebaData, DataError, ensure_synthetic, load, prepare_cache
from search.trial.records import StudySettings

__all__ = ["HOW_TO_GET_CELEBA", "data_for_study", "prepare_data"]

HOW_TO_GET_CELEBA = (
    "download CelebA (Kaggle data set jessicali9530/celeba-dataset, or the official "
    "distribution) into data/celeba, or use --data synthetic (see docs/data.md)"
)


def prepare_data(data: str, image_size: int, synthetic_n: int = 5000, seed: int = 0) -> CelebaData:
    """The cache for `data` ("synthetic" or a CelebA folder), built on first use."""
    if data == "synthetic":
        faces = ensure_synthetic(
            SYNTHETIC / f"n{synthetic_n}-seed{seed}", n=synthetic_n, seed=seed
        )
        return load(prepare_cache(faces, size=image_size))
    source = Path(data)
    if not source.is_dir():
        raise DataError(f"no CelebA folder at {source}: {HOW_TO_GET_CELEBA}")
    return load(prepare_cache(source, size=image_size))


def data_for_study(settings: StudySettings) -> CelebaData:
    """The data a study's trials were trained on, from the settings stored on the study."""
    return prepare_data(settings.data, settings.image_size, settings.synthetic_n, settings.seed)
