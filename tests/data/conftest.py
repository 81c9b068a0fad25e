"""Shared fixtures: a small synthetic set (Kaggle layout), its official-layout twin, the sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from data import CELEBA_ATTRIBUTES, generate_synthetic
from tests.sample import SAMPLE

N_SYNTHETIC = 40


@pytest.fixture(scope="session")
def synthetic_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 synthetic faces, generated once per session; copy before changing anything."""
    return generate_synthetic(tmp_path_factory.mktemp("synth") / "faces", N_SYNTHETIC, seed=7)


@pytest.fixture
def kaggle(synthetic_master: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic set in the Kaggle layout."""
    return Path(shutil.copytree(synthetic_master, tmp_path / "kaggle"))


@pytest.fixture
def official(synthetic_master: Path, tmp_path: Path) -> Path:
    """The synthetic set rewritten in the official TXT layout, irregular spacing included."""
    root = tmp_path / "official"
    shutil.copytree(synthetic_master / "img_align_celeba", root / "img_align_celeba")
    rows = (synthetic_master / "list_attr_celeba.csv").read_text().splitlines()[1:]
    lines = [str(len(rows)), " ".join(CELEBA_ATTRIBUTES) + " "]
    for row in rows:
        image_id, *values = row.split(",")
        lines.append(image_id + " " + " ".join(f"{v:>2}" for v in values))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    parts = (synthetic_master / "list_eval_partition.csv").read_text().splitlines()[1:]
    (root / "list_eval_partition.txt").write_text(
        "\n".join(p.replace(",", " ") for p in parts) + "\n"
    )
    return root


@pytest.fixture
def sample() -> Path:
    if SAMPLE is None:
        pytest.skip("the real CelebA sample (../shared/celeba-sample) is absent")
    return SAMPLE
