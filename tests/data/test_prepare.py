"""The decode-once cache: build, load, reuse, rebuild, bad JPEGs, atomicity, label alignment."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data.prepare
from data import DataError, decode_image, default_cache_dir, load, prepare_cache, read_celeba
from data.prepare import main


def build(source: Path, out: Path, size: int = 16, **options) -> Path:
    options.setdefault("workers", 1)
    return prepare_cache(source, size=size, out=out, progress=False, **options)


def test_build_and_load(kaggle: Path, tmp_path: Path) -> None:
    out = build(kaggle, tmp_path / "cache")
    cache = load(out)
    source = read_celeba(kaggle)
    assert cache.path == out and cache.image_size == 16
    assert cache.attr_names == source.attr_names
    assert (len(cache.train), len(cache.val), len(cache.test)) == (32, 4, 4)
    assert cache.manifest["counts"] == {"train": 32, "val": 4, "test": 4}
    assert cache.manifest["layout"] == "kaggle" and cache.manifest["bad_files"] == []
    assert cache.fingerprint == cache.manifest["fingerprint"]
    row_of = {image_id: i for i, image_id in enumerate(source.ids.tolist())}
    for part, split in enumerate((cache.train, cache.val, cache.test)):
        assert isinstance(split.images, np.memmap) and isinstance(split.labels, np.memmap)
        assert not split.images.flags.writeable
        assert split.images.shape == (len(split), 16, 16, 3) and split.images.dtype == np.uint8
        assert split.labels.shape == (len(split), 40) and split.labels.dtype == np.uint8
        for image_id, image, labels in zip(split.ids, split.images, split.labels, strict=True):
            row = row_of[str(image_id)]
            assert source.partitions[row] == part
            np.testing.assert_array_equal(labels, source.labels[row])
            np.testing.assert_array_equal(image, decode_image(source.image_path(row), 16))


def test_worker_processes_give_the_same_cache(kaggle: Path, tmp_path: Path) -> None:
    one = load(build(kaggle, tmp_path / "one"))
    two = load(build(kaggle, tmp_path / "two", workers=2))
    for a, b in ((one.train, two.train), (one.val, two.val), (one.test, two.test)):
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.ids, b.ids)


def test_unchanged_source_reuses_the_cache(kaggle: Path, tmp_path: Path) -> None:
    out = build(kaggle, tmp_path / "cache")
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}
    assert build(kaggle, out) == out
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_changed_labels_rebuild_the_cache(kaggle: Path, tmp_path: Path) -> None:
    out = build(kaggle, tmp_path / "cache")
    first = load(out)
    path = kaggle / "list_attr_celeba.csv"
    lines = path.read_text().splitlines()
    image_id, *values = lines[1].split(",")
    values[-1] = "1" if values[-1] == "-1" else "-1"  # flip Young of 000001.jpg
    lines[1] = ",".join([image_id, *values])
    path.write_text("\n".join(lines) + "\n")
    second = load(build(kaggle, out))
    assert second.fingerprint != first.fingerprint
    assert second.train.labels[0, -1] == (values[-1] == "1")
    left = sorted(p.name for p in tmp_path.glob(".cache.*"))  # the link's version, the old one
    assert len(left) == 2 and all(name.startswith(".cache.v-") for name in left)
    assert os.readlink(out) in left


def test_touched_image_rebuilds_the_cache(kaggle: Path, tmp_path: Path) -> None:
    out = build(kaggle, tmp_path / "cache")
    created = load(out).manifest["created"]
    fingerprint = load(out).fingerprint
    image = kaggle / "img_align_celeba" / "000003.jpg"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    rebuilt = load(build(kaggle, out))
    assert rebuilt.fingerprint != fingerprint
    assert rebuilt.manifest["created"] >= created


def test_new_size_rebuilds_the_same_folder(kaggle: Path, tmp_path: Path) -> None:
    out = build(kaggle, tmp_path / "cache", size=16)
    assert load(build(kaggle, out, size=24)).train.images.shape[1:] == (24, 24, 3)


def test_default_cache_dir(kaggle: Path, official: Path, tmp_path: Path, monkeypatch) -> None:
    where = default_cache_dir(kaggle, 32)
    assert not where.is_absolute() and where.parts[:2] == ("data", "cache")
    assert where != default_cache_dir(kaggle, 64) and where != default_cache_dir(official, 32)
    monkeypatch.chdir(tmp_path)
    out = prepare_cache(kaggle, size=16, progress=False, workers=1)
    assert out == default_cache_dir(kaggle, 16) and load(tmp_path / out).image_size == 16


def damage_two_images(root: Path) -> None:
    (root / "img_align_celeba" / "000002.jpg").write_bytes(b"not a jpeg at all")
    path = root / "img_align_celeba" / "000038.jpg"  # a test image
    path.write_bytes(path.read_bytes()[:1500])


def test_corrupt_jpegs_are_reported_and_skipped(
    kaggle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damage_two_images(kaggle)
    with caplog.at_level(logging.WARNING, logger="data.prepare"):
        cache = load(build(kaggle, tmp_path / "cache", workers=2))
    bad = {entry["id"]: entry for entry in cache.manifest["bad_files"]}
    assert sorted(bad) == ["000002.jpg", "000038.jpg"]
    assert bad["000002.jpg"]["partition"] == "train" and bad["000038.jpg"]["partition"] == "test"
    assert "truncated" in bad["000038.jpg"]["error"]
    assert (len(cache.train), len(cache.val), len(cache.test)) == (31, 4, 3)
    assert "000002.jpg" not in cache.train.ids and "000038.jpg" not in cache.test.ids
    assert "000002.jpg" in caplog.text and "000038.jpg" in caplog.text
    source = read_celeba(kaggle)
    row = source.ids.tolist().index("000003.jpg")
    np.testing.assert_array_equal(cache.train.images[1], decode_image(source.image_path(row), 16))
    np.testing.assert_array_equal(cache.train.labels[1], source.labels[row])
    with pytest.raises(DataError, match="000002.jpg: unreadable image"):
        build(kaggle, cache.path, strict=True)  # the existing cache has bad files


def test_strict_refuses_corrupt_jpegs_and_writes_nothing(
    kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    damage_two_images(kaggle)
    out = tmp_path / "cache"
    with pytest.raises(DataError, match=r"000002\.jpg: unreadable image .*2 bad file\(s\)"):
        build(kaggle, out, strict=True)
    argv = ["--celeba", str(kaggle), "--out", str(out), "--strict", "--quiet", "--workers", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "000002.jpg" in err
    assert not out.exists() and list(tmp_path.glob(".cache.*")) == []


def test_interrupted_build_leaves_nothing(kaggle: Path, tmp_path: Path, monkeypatch) -> None:
    def interrupted(tmp: Path, out: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(data.prepare, "install", interrupted)
    out = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        build(kaggle, out)
    assert not out.exists() and list(tmp_path.glob(".cache.*")) == []


def test_killed_build_is_never_loaded_and_is_cleaned_up(kaggle: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / f".cache.tmp-{dead.pid}@{socket.gethostname()}-x1y2"  # a SIGKILLed run
    leftover.mkdir()
    np.lib.format.open_memmap(leftover / "images.npy", "w+", np.uint8, (40, 16, 16, 3))
    out = tmp_path / "cache"
    with pytest.raises(DataError, match="cache not found"):
        load(out)
    with pytest.raises(DataError, match="not a complete cache"):
        load(leftover)
    build(kaggle, out)
    assert not leftover.exists() and len(load(out).train) == 32


def test_load_rejects_broken_caches(kaggle: Path, tmp_path: Path) -> None:
    out = build(kaggle, tmp_path / "cache")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["counts"]["train"] = 33
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="disagree"):
        load(out)
    del manifest["fingerprint"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="malformed"):
        load(out)
    manifest["version"] = 0
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="not a complete cache"):
        load(out)
    (out / "manifest.json").unlink()
    with pytest.raises(DataError, match="not a complete cache"):
        load(out)


def test_refuses_to_overwrite_a_folder_that_is_not_a_cache(kaggle: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="is not a cache; refusing"):
        build(kaggle, out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_cli_builds_and_reports_bad_arguments(
    kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cache"
    argv = ["--celeba", str(kaggle), "--out", str(out), "--size", "16", "--quiet"]
    assert main([*argv, "--workers", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert load(out).image_size == 16
    for bad, message in (("--size=2", "image size 2 is outside"), ("--workers=0", "at least 1")):
        assert main([*argv, bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_real_sample_labels_and_pixels_stay_aligned(sample: Path, tmp_path: Path) -> None:
    cache = load(build(sample, tmp_path / "cache", size=32, workers=2))
    lines = (sample / "list_attr_celeba.txt").read_text().splitlines()
    names = lines[1].split()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    parts = dict(
        line.split() for line in (sample / "list_eval_partition.txt").read_text().splitlines()
    )
    assert cache.attr_names == tuple(names) and cache.manifest["layout"] == "official"
    assert (len(cache.train), len(cache.val), len(cache.test)) == (420, 90, 90)
    for part, split in enumerate((cache.train, cache.val, cache.test)):
        for image_id, image, labels in zip(split.ids, split.images, split.labels, strict=True):
            assert parts[image_id] == str(part)
            assert labels.tolist() == [1 if v == "1" else 0 for v in rows[image_id]]
            path = sample / "img_align_celeba" / image_id
            np.testing.assert_array_equal(image, decode_image(path, 32))
