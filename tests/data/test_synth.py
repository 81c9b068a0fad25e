"""Synthetic faces: determinism, layout, CelebA-like rates and correlations, reuse, CLI."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data import CELEBA_ATTRIBUTES, DataError, ensure_synthetic, generate_synthetic, read_celeba
from data.face_drawing import sample_face
from data.synth import main, partition_sizes, render_range

CELEBA_RATES = {
    "Male": 0.417, "Young": 0.774, "Smiling": 0.482, "Mouth_Slightly_Open": 0.483,
    "Eyeglasses": 0.065, "Wearing_Hat": 0.048, "No_Beard": 0.835, "Goatee": 0.063,
    "Mustache": 0.042, "Heavy_Makeup": 0.387, "Wearing_Lipstick": 0.472, "Black_Hair": 0.239,
    "Blond_Hair": 0.148, "Brown_Hair": 0.205, "Gray_Hair": 0.042, "Bald": 0.022,
    "Bangs": 0.152, "Wavy_Hair": 0.320, "Wearing_Earrings": 0.189, "Wearing_Necktie": 0.073,
    "Pale_Skin": 0.043, "Blurry": 0.051, "Attractive": 0.513, "High_Cheekbones": 0.455,
}  # fmt: skip


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = generate_synthetic(tmp_path / "a", 12, seed=3)
    second = generate_synthetic(tmp_path / "b", 12, seed=3, workers=2)
    other = generate_synthetic(tmp_path / "c", 12, seed=4)
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert len(names) == 12 + 3
    _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert mismatch == [] and errors == []
    _, mismatch, _ = filecmp.cmpfiles(first, other, names, shallow=False)
    assert len(mismatch) >= 12


def test_images_do_not_depend_on_how_the_work_is_split(tmp_path: Path) -> None:
    whole, part = tmp_path / "whole", tmp_path / "part"
    whole.mkdir()
    part.mkdir()
    labels = render_range(str(whole), 9, 0, 6)
    np.testing.assert_array_equal(render_range(str(part), 9, 3, 6), labels[3:])
    for name in ("000004.jpg", "000005.jpg", "000006.jpg"):
        assert (whole / name).read_bytes() == (part / name).read_bytes()


def test_kaggle_layout_and_partitions(synthetic_master: Path) -> None:
    source = read_celeba(synthetic_master)
    assert source.layout == "kaggle" and source.attr_names == CELEBA_ATTRIBUTES
    assert source.counts() == {"train": 32, "val": 4, "test": 4}
    assert source.partitions.tolist() == sorted(source.partitions.tolist())
    with Image.open(source.image_path(0)) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (178, 218), "RGB")
    assert partition_sizes(3) == (1, 1, 1) and partition_sizes(1000) == (800, 100, 100)


def test_rates_and_correlations_are_celeba_like() -> None:
    faces = [sample_face(np.random.default_rng((0, i))) for i in range(6000)]
    labels = np.stack([face.labels() for face in faces]).astype(bool)
    column = {name: labels[:, i] for i, name in enumerate(CELEBA_ATTRIBUTES)}
    for name, rate in CELEBA_RATES.items():
        assert abs(column[name].mean() - rate) < 0.03, name
    male, young = column["Male"], column["Young"]
    assert column["Heavy_Makeup"][male].mean() < 0.02 < 0.5 < column["Heavy_Makeup"][~male].mean()
    assert (
        column["Wearing_Lipstick"][male].mean()
        < 0.05
        < 0.6
        < column["Wearing_Lipstick"][~male].mean()
    )
    for beard in ("Goatee", "Mustache", "5_o_Clock_Shadow", "Sideburns"):
        assert not column[beard][~male].any()
    assert column["No_Beard"][~male].all()
    assert column["Gray_Hair"][~young].mean() > 5 * column["Gray_Hair"][young].mean()
    assert column["Bald"][~young].mean() > 2 * column["Bald"][young].mean()
    smiling = column["Smiling"]
    assert (
        column["Mouth_Slightly_Open"][smiling].mean()
        > 2 * column["Mouth_Slightly_Open"][~smiling].mean()
    )
    hair = labels[
        :,
        [
            CELEBA_ATTRIBUTES.index(n)
            for n in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
        ],
    ]
    assert hair.sum(axis=1).max() == 1  # one hair colour at most, as drawn


def test_ensure_synthetic_reuses_a_complete_set(tmp_path: Path) -> None:
    out = ensure_synthetic(tmp_path / "faces", 6, seed=1)
    image = out / "img_align_celeba" / "000002.jpg"
    stamp = image.stat().st_mtime_ns
    assert ensure_synthetic(out, 6, seed=1) == out
    assert image.stat().st_mtime_ns == stamp
    image.unlink()  # incomplete: generated again
    ensure_synthetic(out, 6, seed=1)
    assert image.exists()
    ensure_synthetic(out, 8, seed=1)  # another size replaces it
    assert len(read_celeba(out)) == 8
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".faces.v-")] == [
        "faces"
    ]  # and replaced versions, kept for common.atomic's grace period


def test_never_overwrites_a_folder_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "photo.jpg").write_bytes(b"precious")
    with pytest.raises(DataError, match="not a synthetic CelebA folder"):
        ensure_synthetic(out, 6)
    assert (out / "photo.jpg").read_bytes() == b"precious"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "faces"
    assert main(["--out", str(out), "--n", "5", "--seed", "2", "--workers", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(read_celeba(out)) == 5
    assert main(["--out", str(tmp_path / "few"), "--n", "2"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --n must be at least 3 (one image per partition), got 2\n"
    assert not (tmp_path / "few").exists()
