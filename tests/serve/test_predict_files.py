"""serve.predict on hostile files: each bad one is one `error:` line, the others still print."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from data.face_drawing import draw_face, sample_face
from model import ModelParams, build_model
from model.card import CARD_NAME, MODEL_NAME
from model.export import export_model
from serve import predict
from tests.cards import error_lines, tiny_card
from tests.images import huge_jpeg, lying_png, png16_gray

SIZE = 16
PARAMS = ModelParams(conv_widths=(4, 4, 4, 4), dense_widths=(8, 8))


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    out = tmp_path_factory.mktemp("export") / "best"
    export_model(build_model(PARAMS, SIZE), tiny_card(SIZE, PARAMS), out, savedmodel=False)
    return out


def test_a_lying_png_is_one_error_line_and_the_other_files_still_print(
    export_dir: Path, tmp_path: Path, capsys
):
    face = tmp_path / "face.png"
    rng = np.random.default_rng(0)
    draw_face(rng, sample_face(rng)).save(face)
    bomb = lying_png(tmp_path / "bomb.png")
    big = huge_jpeg(tmp_path / "big.jpg", side=9000)  # decoded at 1/8, not refused
    gray16 = png16_gray(tmp_path / "gray16.png")
    paths = [str(bomb), str(face), str(big), str(gray16)]
    code = predict.main([*paths, "--model", str(export_dir), "--json", "--no-detect"])
    captured = capsys.readouterr()
    assert code == 1
    assert error_lines(captured.err) == [
        f"error: {bomb}: declares more than 178,956,970 pixels, refused before decoding"
    ]
    assert [json.loads(line)["file"] for line in captured.out.splitlines()] == paths[1:]


def _copy_export(export_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "best"
    shutil.copytree(export_dir, copy)
    return copy


def test_a_tampered_card_is_one_clear_line(export_dir: Path, tmp_path: Path, capsys):
    tampered = _copy_export(export_dir, tmp_path)
    card = json.loads((tampered / CARD_NAME).read_text())
    card["best_epoch"] = 99
    (tampered / CARD_NAME).write_text(json.dumps(card))
    face = png16_gray(tmp_path / "gray16.png")
    assert predict.main([str(face), "--model", str(tampered), "--no-detect"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tampered / CARD_NAME}: invalid")
    assert "best_epoch <= epochs_trained" in err


def test_a_model_file_linked_outside_the_export_is_refused(
    export_dir: Path, tmp_path: Path, capsys
):
    linked = _copy_export(export_dir, tmp_path)
    outside = tmp_path / "elsewhere.keras"
    (linked / MODEL_NAME).rename(outside)
    (linked / MODEL_NAME).symlink_to(outside)
    face = png16_gray(tmp_path / "gray16.png")
    assert predict.main([str(face), "--model", str(linked), "--no-detect"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {linked / MODEL_NAME}: leads to {outside}, outside the export folder\n"
