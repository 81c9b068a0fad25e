"""Reading CelebA folders in both layouts, and one test per mistake a user can make."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from data import CELEBA_ATTRIBUTES, DataError, read_celeba
from data.prepare import main as prepare_main
from tests.data.conftest import N_SYNTHETIC

KAGGLE_ATTR = "list_attr_celeba.csv"
KAGGLE_PART = "list_eval_partition.csv"
OFFICIAL_ATTR = "list_attr_celeba.txt"
OFFICIAL_PART = "list_eval_partition.txt"


def csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    header, *rows = path.read_text().splitlines()
    return header.split(","), [row.split(",") for row in rows]


def test_kaggle_layout_is_read(kaggle: Path) -> None:
    source = read_celeba(kaggle)
    header, rows = csv_table(kaggle / KAGGLE_ATTR)
    assert source.layout == "kaggle"
    assert source.attr_names == CELEBA_ATTRIBUTES == tuple(header[1:])
    assert source.ids.tolist() == [row[0] for row in rows]
    expected = np.array([[v == "1" for v in row[1:]] for row in rows], dtype=np.uint8)
    assert source.labels.dtype == np.uint8
    np.testing.assert_array_equal(source.labels, expected)
    assert source.counts() == {"train": 32, "val": 4, "test": 4}
    assert source.image_path(0) == kaggle / "img_align_celeba" / "000001.jpg"


def test_kaggle_nested_image_folder_and_extra_files(kaggle: Path) -> None:
    outer = kaggle / "img_align_celeba"
    outer.rename(kaggle / "unpacked")
    outer.mkdir()
    (kaggle / "unpacked").rename(outer / "img_align_celeba")
    (kaggle / "list_bbox_celeba.csv").write_text("image_id,x_1,y_1,width,height\n")
    (kaggle / "list_landmarks_align_celeba.csv").write_text("image_id,lefteye_x\n")
    source = read_celeba(kaggle)
    assert source.image_dir == outer / "img_align_celeba"
    assert len(source) == N_SYNTHETIC


def test_windows_line_endings_and_byte_order_mark(kaggle: Path) -> None:
    for name in (KAGGLE_ATTR, KAGGLE_PART):
        path = kaggle / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert len(read_celeba(kaggle)) == N_SYNTHETIC


def test_official_layout_matches_kaggle(kaggle: Path, official: Path) -> None:
    first, second = read_celeba(kaggle), read_celeba(official)
    assert second.layout == "official"
    assert second.attr_names == first.attr_names
    np.testing.assert_array_equal(second.ids, first.ids)
    np.testing.assert_array_equal(second.labels, first.labels)
    np.testing.assert_array_equal(second.partitions, first.partitions)


def test_columns_keep_the_file_order(kaggle: Path) -> None:
    header, rows = csv_table(kaggle / KAGGLE_ATTR)
    order = [0, *range(len(header) - 1, 0, -1)]  # image_id, then the 40 columns reversed
    lines = [",".join(line[i] for i in order) for line in [header, *rows]]
    (kaggle / KAGGLE_ATTR).write_text("\n".join(lines) + "\n")
    source = read_celeba(kaggle)
    assert source.attr_names == tuple(reversed(CELEBA_ATTRIBUTES))
    young = source.attr_names.index("Young")
    assert source.labels[:, young].tolist() == [int(row[-1] == "1") for row in rows]


def test_real_sample_official_layout(sample: Path) -> None:
    source = read_celeba(sample)
    assert source.layout == "official"
    assert source.counts() == {"train": 420, "val": 90, "test": 90}
    lines = (sample / OFFICIAL_ATTR).read_text().splitlines()
    assert int(lines[0]) == len(source) == 600
    for row, line in zip(source.labels, lines[2:], strict=True):
        assert row.tolist() == [1 if v == "1" else 0 for v in line.split()[1:]]


# --- every mistake is one DataError line naming the file; the CLI writes nothing ---------


def _lines(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")


def _set(index: int, line_change: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        lines[index] = line_change(lines[index])
        return lines

    return change


def _drop(index: int) -> Callable[[list[str]], list[str]]:
    return lambda lines: lines[:index] + lines[index + 1 :]


def _rename_id(root: Path, old: str, new: str) -> None:
    for name in (KAGGLE_ATTR, KAGGLE_PART):
        path = root / name
        path.write_text(path.read_text().replace(old, new))


BAD_INPUTS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "no labels file": (
        "kaggle",
        lambda r: (r / KAGGLE_ATTR).unlink(),
        "no list_attr_celeba.csv (Kaggle layout) or list_attr_celeba.txt",
    ),
    "no partition file": (
        "kaggle",
        lambda r: (r / KAGGLE_PART).unlink(),
        "list_eval_partition.csv: partition file missing",
    ),
    "no image folder": (
        "kaggle",
        lambda r: shutil.rmtree(r / "img_align_celeba"),
        "img_align_celeba: image folder missing",
    ),
    "missing column": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, lambda ls: [line.rsplit(",", 1)[0] for line in ls]),
        "list_attr_celeba.csv: missing attribute columns Young",
    ),
    "extra column": (
        "kaggle",
        lambda r: _lines(
            r / KAGGLE_ATTR, lambda ls: [ls[0] + ",Smirking"] + [line + ",1" for line in ls[1:]]
        ),
        "list_attr_celeba.csv: unknown attribute columns Smirking",
    ),
    "duplicate column": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, _set(0, lambda line: line.replace("Young", "Male"))),
        "list_attr_celeba.csv: attribute column 'Male' appears twice",
    ),
    "wrong header": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, _set(0, lambda line: line.replace("image_id", "id"))),
        "list_attr_celeba.csv, line 1: expected a header starting with 'image_id'",
    ),
    "value 0": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, _set(2, lambda line: line.rsplit(",", 1)[0] + ",0")),
        "list_attr_celeba.csv, line 3: value '0' for 000002.jpg, expected -1 or 1",
    ),
    "short row": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, _set(4, lambda line: line.rsplit(",", 1)[0])),
        "list_attr_celeba.csv, line 5: 39 values, expected 40",
    ),
    "no rows": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, lambda ls: ls[:1]),
        "list_attr_celeba.csv: no image rows",
    ),
    "not text": (
        "kaggle",
        lambda r: (r / KAGGLE_ATTR).write_bytes(b"\xff\xd8\xff\xe0 binary"),
        "list_attr_celeba.csv: not a text file",
    ),
    "duplicate id in labels": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, _set(4, lambda line: "000003.jpg" + line[10:])),
        "list_attr_celeba.csv, line 5: duplicate image id 000003.jpg (first on line 4)",
    ),
    "duplicate id in partitions": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_PART, _set(4, lambda line: "000003.jpg,0")),
        "list_eval_partition.csv, line 5: duplicate image id 000003.jpg (first on line 4)",
    ),
    "labelled image without partition": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_PART, _drop(10)),
        "list_eval_partition.csv: no partition for 1 image(s) of list_attr_celeba.csv: 000010.jpg",
    ),
    "partition row without labels": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_ATTR, _drop(10)),
        "list_eval_partition.csv: 1 image(s) have no labels in list_attr_celeba.csv: 000010.jpg",
    ),
    "partition 3": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_PART, _set(1, lambda line: "000001.jpg,3")),
        "list_eval_partition.csv, line 2: partition '3' for 000001.jpg, expected 0, 1 or 2",
    ),
    "empty val partition": (
        "kaggle",
        lambda r: _lines(r / KAGGLE_PART, lambda ls: [line.replace(",1", ",0") for line in ls]),
        "list_eval_partition.csv: the val partition (1) is empty",
    ),
    "id with a parent folder": (
        "kaggle",
        lambda r: _rename_id(r, "000007.jpg", "../000007.jpg"),
        "list_attr_celeba.csv, line 8: image id '../000007.jpg' is not a plain file name",
    ),
    "absolute id": (
        "kaggle",
        lambda r: _rename_id(r, "000007.jpg", "/etc/passwd"),
        "list_attr_celeba.csv, line 8: image id '/etc/passwd' is not a plain file name",
    ),
    "missing images": (
        "kaggle",
        lambda r: [(r / "img_align_celeba" / f"0000{i:02d}.jpg").unlink() for i in range(3, 8)],
        "image file(s) listed in list_attr_celeba.csv are missing: 000003.jpg, 000004.jpg, "
        "000005.jpg and 2 more",
    ),
    "official: no partition file": (
        "official",
        lambda r: (r / OFFICIAL_PART).unlink(),
        "list_eval_partition.txt: partition file missing (official layout)",
    ),
    "official: count line disagrees": (
        "official",
        lambda r: _lines(r / OFFICIAL_ATTR, _set(0, lambda line: "41")),
        "list_attr_celeba.txt, line 1: count line says 41 images, the file lists 40",
    ),
    "official: no count line": (
        "official",
        lambda r: _lines(r / OFFICIAL_ATTR, _drop(0)),
        "list_attr_celeba.txt, line 1: expected the image count, got '5_o_Clock_Shadow",
    ),
    "official: missing column": (
        "official",
        lambda r: _lines(r / OFFICIAL_ATTR, _set(1, lambda line: line.replace("Bald", ""))),
        "list_attr_celeba.txt: missing attribute columns Bald",
    ),
    "official: value 2": (
        "official",
        lambda r: _lines(r / OFFICIAL_ATTR, _set(5, lambda line: line[:-2] + " 2")),
        "list_attr_celeba.txt, line 6: value '2' for 000004.jpg, expected -1 or 1",
    ),
    "link out of the image folder": (
        "kaggle",
        lambda r: _relink(r / "img_align_celeba" / "000003.jpg", Path("/etc/passwd")),
        "img_align_celeba/000003.jpg: a symbolic link to /etc/passwd, outside the image folder",
    ),
    "official: bad partition line": (
        "official",
        lambda r: _lines(r / OFFICIAL_PART, _set(3, lambda line: line + " extra")),
        "list_eval_partition.txt, line 4: expected '<image_id> <partition>'",
    ),
}


def _relink(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


def test_a_link_to_another_image_inside_the_folder_is_read(kaggle: Path) -> None:
    images = kaggle / "img_align_celeba"
    _relink(images / "000003.jpg", Path("000004.jpg"))  # relative, stays inside
    (images / "sub").mkdir()
    (images / "sub" / "copy.jpg").write_bytes((images / "000005.jpg").read_bytes())
    _relink(images / "000005.jpg", images / "sub" / "copy.jpg")
    assert len(read_celeba(kaggle)) == 40


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_error(
    case: str, kaggle: Path, official: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    layout, damage, message = BAD_INPUTS[case]
    root = kaggle if layout == "kaggle" else official
    damage(root)
    with pytest.raises(DataError) as caught:
        read_celeba(root)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)

    out = tmp_path / "cache"
    assert prepare_main(["--celeba", str(root), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not any(p.name.startswith(".cache") for p in tmp_path.iterdir())


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="CelebA folder not found"):
        read_celeba(tmp_path / "nowhere")
