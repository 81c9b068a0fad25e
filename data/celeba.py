"""Read and validate a CelebA folder in the Kaggle (CSV) or the official (TXT) layout.

Kaggle (`jessicali9530/celeba-dataset`)::

    list_attr_celeba.csv       image_id,5_o_Clock_Shadow,...   then rows of -1/1
    list_eval_partition.csv    image_id,partition
    img_align_celeba/[img_align_celeba/]*.jpg   (the zip unpacks to the nested folder)

Official distribution::

    list_attr_celeba.txt       count line, names line, then `000001.jpg -1  1 ...`
    list_eval_partition.txt    `000001.jpg 0`
    img_align_celeba/*.jpg

Every problem is a `DataError` whose message names the file and, where it helps, the line
or the image id. Nothing here writes anything.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.attributes import CELEBA_ATTRIBUTES
from data.errors import DataError

__all__ = [
    "PARTITIONS",
    "CelebaSource",
    "SourceFiles",
    "locate",
    "read_celeba",
    "source_fingerprint",
]

PARTITIONS: tuple[str, ...] = ("train", "val", "test")
IMAGE_DIR = "img_align_celeba"
_FILES = {
    "kaggle": ("list_attr_celeba.csv", "list_eval_partition.csv"),
    "official": ("list_attr_celeba.txt", "list_eval_partition.txt"),
}
_VALID = frozenset({"-1", "1"})
_SHOWN = 3  # how many offending ids a message lists before "and N more"


@dataclass(frozen=True)
class SourceFiles:
    """Where the parts of a CelebA folder are; found without parsing anything."""

    root: Path
    layout: str  # "kaggle" or "official"
    attr_file: Path
    partition_file: Path
    image_dir: Path


@dataclass(frozen=True)
class CelebaSource:
    """A validated CelebA folder: one row per image, in the order of the labels file."""

    files: SourceFiles
    attr_names: tuple[str, ...]  # in the labels file's column order
    ids: np.ndarray  # (N,) str image file names
    labels: np.ndarray  # (N, 40) uint8 0/1, columns in attr_names order
    partitions: np.ndarray  # (N,) uint8: 0 train, 1 val, 2 test

    @property
    def root(self) -> Path:
        return self.files.root

    @property
    def layout(self) -> str:
        return self.files.layout

    @property
    def image_dir(self) -> Path:
        return self.files.image_dir

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, index: int) -> Path:
        return self.files.image_dir / str(self.ids[index])

    def counts(self) -> dict[str, int]:
        """Number of images per partition name."""
        per = np.bincount(self.partitions, minlength=len(PARTITIONS))
        return {name: int(per[i]) for i, name in enumerate(PARTITIONS)}


def locate(root: str | Path) -> SourceFiles:
    """Detect the layout of `root` and find its label files and image folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: CelebA folder not found")
    found = [layout for layout, (attr, _) in _FILES.items() if (root / attr).is_file()]
    if not found:
        raise DataError(
            f"{root}: no list_attr_celeba.csv (Kaggle layout) or list_attr_celeba.txt "
            "(official layout) found"
        )
    layout = found[0]
    attr_name, part_name = _FILES[layout]
    attr_file = root / attr_name
    partition_file = root / part_name
    if not partition_file.is_file():
        raise DataError(f"{partition_file}: partition file missing ({layout} layout)")
    image_dir = root / IMAGE_DIR
    if (image_dir / IMAGE_DIR).is_dir():
        image_dir = image_dir / IMAGE_DIR  # what the Kaggle zip unpacks to
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: image folder missing")
    return SourceFiles(root, layout, attr_file, partition_file, image_dir)


def source_fingerprint(files: SourceFiles) -> str:
    """Hash of the label and partition files and every image's name, size and mtime.

    Cheap on purpose (no image is read), so an unchanged source is recognised in about a
    second even for the full 202,599 images.
    """
    digest = hashlib.sha256()
    for path in (files.attr_file, files.partition_file):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    with os.scandir(files.image_dir) as entries:
        stats = sorted(
            (e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.is_file()
        )
    for name, size, mtime in stats:
        digest.update(f"{name}\t{size}\t{mtime}\n".encode())
    return digest.hexdigest()


def read_celeba(root: str | Path) -> CelebaSource:
    """Read and validate a CelebA folder in either layout (`DataError` on any problem)."""
    files = locate(root)
    sep = "," if files.layout == "kaggle" else None
    attr_names, ids, labels = _read_attributes(files.attr_file, files.layout, sep)
    part_ids, parts = _read_partitions(files.partition_file, sep)
    partitions = _align_partitions(files, ids, part_ids, parts)
    _check_images(files, ids)
    return CelebaSource(files, attr_names, ids, labels, partitions)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a text file ({err.reason})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line:
            yield number, line


def _split(line: str, sep: str | None) -> list[str]:
    return [field.strip() for field in line.split(sep)] if sep else line.split()


def _check_names(path: Path, names: list[str]) -> tuple[str, ...]:
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(f"{path}: attribute column {name!r} appears twice")
        seen.add(name)
    missing = [n for n in CELEBA_ATTRIBUTES if n not in seen]
    extra = [n for n in names if n not in CELEBA_ATTRIBUTES]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing attribute columns " + ", ".join(missing))
        if extra:
            parts.append("unknown attribute columns " + ", ".join(extra))
        raise DataError(f"{path}: " + "; ".join(parts))
    return tuple(names)


def _check_id(path: Path, number: int, image_id: str) -> None:
    plain = (
        image_id not in (".", "..")
        and "/" not in image_id
        and "\\" not in image_id
        and "\0" not in image_id
        and not os.path.isabs(image_id)
    )
    if not plain:
        raise DataError(f"{path}, line {number}: image id {image_id!r} is not a plain file name")


def _read_attributes(
    path: Path, layout: str, sep: str | None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    lines = _lines(path)
    count, names = _read_attribute_header(path, layout, sep, lines)
    ids, rows = _read_attribute_rows(path, names, sep, lines)
    if count is not None and count != len(ids):
        raise DataError(
            f"{path}, line 1: count line says {count} images, the file lists {len(ids)}"
        )
    labels = (np.array(rows) == "1").astype(np.uint8)
    return names, np.array(ids), labels


def _read_attribute_header(
    path: Path, layout: str, sep: str | None, lines: Iterator[tuple[int, str]]
) -> tuple[int | None, tuple[str, ...]]:
    """The official layout's image count (None for Kaggle's) and the attribute names."""
    count = None
    if layout == "official":
        number, first = next(lines, (0, ""))
        try:
            count = int(first)
        except ValueError:
            raise DataError(
                f"{path}, line {number or 1}: expected the image count, got {first[:40]!r}"
            ) from None
        names = _split(next(lines, (0, ""))[1], None)
    else:
        header = _split(next(lines, (0, ""))[1], sep)
        if not header or header[0] != "image_id":
            raise DataError(f"{path}, line 1: expected a header starting with 'image_id'")
        names = header[1:]
    if not names:
        raise DataError(f"{path}: attribute names line missing")
    return count, _check_names(path, names)


def _read_attribute_rows(
    path: Path, names: tuple[str, ...], sep: str | None, lines: Iterator[tuple[int, str]]
) -> tuple[list[str], list[list[str]]]:
    ids: list[str] = []
    rows: list[list[str]] = []
    first_line: dict[str, int] = {}
    for number, line in lines:
        fields = _split(line, sep)
        if len(fields) != len(names) + 1:
            raise DataError(
                f"{path}, line {number}: {len(fields) - 1} values, expected {len(names)}"
            )
        image_id, values = fields[0], fields[1:]
        _check_id(path, number, image_id)
        if image_id in first_line:
            raise DataError(
                f"{path}, line {number}: duplicate image id {image_id} "
                f"(first on line {first_line[image_id]})"
            )
        first_line[image_id] = number
        if not _VALID.issuperset(values):
            bad = next(v for v in values if v not in _VALID)
            raise DataError(
                f"{path}, line {number}: value {bad!r} for {image_id}, expected -1 or 1"
            )
        ids.append(image_id)
        rows.append(values)
    if not ids:
        raise DataError(f"{path}: no image rows")
    return ids, rows


def _read_partitions(path: Path, sep: str | None) -> tuple[list[str], list[int]]:
    lines = _lines(path)
    if sep:
        number, line = next(lines, (1, ""))
        if _split(line, sep) != ["image_id", "partition"]:
            raise DataError(f"{path}, line {number}: expected the header 'image_id,partition'")
    ids: list[str] = []
    parts: list[int] = []
    first_line: dict[str, int] = {}
    for number, line in lines:
        fields = _split(line, sep)
        if len(fields) != 2:
            raise DataError(f"{path}, line {number}: expected '<image_id> <partition>'")
        image_id, value = fields
        _check_id(path, number, image_id)
        if value not in ("0", "1", "2"):
            raise DataError(
                f"{path}, line {number}: partition {value!r} for {image_id}, expected 0, 1 or 2"
            )
        if image_id in first_line:
            raise DataError(
                f"{path}, line {number}: duplicate image id {image_id} "
                f"(first on line {first_line[image_id]})"
            )
        first_line[image_id] = number
        ids.append(image_id)
        parts.append(int(value))
    return ids, parts


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _align_partitions(
    files: SourceFiles, ids: np.ndarray, part_ids: list[str], parts: list[int]
) -> np.ndarray:
    by_id = dict(zip(part_ids, parts, strict=True))
    unlisted = [i for i in ids.tolist() if i not in by_id]
    if unlisted:
        raise DataError(
            f"{files.partition_file}: no partition for {len(unlisted)} image(s) of "
            f"{files.attr_file.name}: {_listing(unlisted)}"
        )
    if len(by_id) != len(ids):
        labelled = set(ids.tolist())
        extra = [i for i in part_ids if i not in labelled]
        raise DataError(
            f"{files.partition_file}: {len(extra)} image(s) have no labels in "
            f"{files.attr_file.name}: {_listing(extra)}"
        )
    partitions = np.array([by_id[i] for i in ids.tolist()], dtype=np.uint8)
    per = np.bincount(partitions, minlength=len(PARTITIONS))
    for index, name in enumerate(PARTITIONS):
        if per[index] == 0:
            raise DataError(f"{files.partition_file}: the {name} partition ({index}) is empty")
    return partitions


def _check_images(files: SourceFiles, ids: np.ndarray) -> None:
    with os.scandir(files.image_dir) as entries:
        present = {e.name: e.is_symlink() for e in entries if e.is_file()}
    missing = [i for i in ids.tolist() if i not in present]
    if missing:
        raise DataError(
            f"{files.image_dir}: {len(missing)} image file(s) listed in "
            f"{files.attr_file.name} are missing: {_listing(missing)}"
        )
    # A link may point inside the folder; one that leads out of it (to /etc/passwd, say)
    # would make the cache read files the folder's owner never meant to hand over.
    inside = files.image_dir.resolve()
    for image_id in ids.tolist():
        if present[image_id]:
            target = (files.image_dir / image_id).resolve()
            if not target.is_relative_to(inside):
                raise DataError(
                    f"{files.image_dir / image_id}: a symbolic link to {target}, outside the "
                    "image folder; refusing to read it"
                )
