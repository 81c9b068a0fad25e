"""serve.predict and serve.face_crop on real JPEG/PNG files and a real (tiny, untrained) export."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from data import CELEBA_ATTRIBUTES
from data.face_drawing import draw_face, sample_face
from model import ModelParams, build_model
from model.errors import ExportError
from model.export import export_model, load_export, read_card
from serve import predict
from serve.face_crop import FaceError, celeba_crop_box, detect_largest_face, face_input, load_image
from tests.cards import error_lines, tiny_card
from tests.sample import SAMPLE

needs_sample = pytest.mark.skipif(SAMPLE is None, reason="../shared/celeba-sample is absent")
SIZE = 32
PARAMS = ModelParams(conv_widths=(4, 4, 8, 8), dense_widths=(8, 8))


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    out = tmp_path_factory.mktemp("export") / "best"
    export_model(build_model(PARAMS, SIZE), tiny_card(SIZE, PARAMS), out, savedmodel=False)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    synthetic = folder / "synthetic.png"
    rng = np.random.default_rng(0)  # a drawing the Haar cascade finds (about a third are)
    draw_face(rng, sample_face(rng)).save(synthetic)
    sky = folder / "sky.png"
    gradient = np.linspace(90, 220, 300 * 200 * 3).reshape(200, 300, 3).astype(np.uint8)
    Image.fromarray(gradient).save(sky)
    text = folder / "notes.jpg"
    text.write_text("this is not a picture\n")
    return {"synthetic": synthetic, "sky": sky, "text": text}


def sample_images(n: int) -> list[str]:
    return [str(p) for p in sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[:n]]


@needs_sample
def test_aligned_celeba_images_with_no_detection_give_json_for_each(export_dir, capsys):
    images = sample_images(10)
    code = predict.main([*images, "--model", str(export_dir), "--json", "--no-detect"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 10
    for line, image in zip(lines, images, strict=True):
        record = json.loads(line)
        assert record["file"] == image and record["face"] is None
        assert list(record["probabilities"]) == list(CELEBA_ATTRIBUTES)
        assert all(0.0 <= p <= 1.0 for p in record["probabilities"].values())
        assert set(record["present"]) == set(CELEBA_ATTRIBUTES)
        assert record["present"]["Male"] is True  # its card threshold is 0


@needs_sample
def test_detection_finds_most_real_faces_and_reports_each_image(export_dir, capsys):
    images = sample_images(10)
    code = predict.main([*images, "--model", str(export_dir)])
    captured = capsys.readouterr()
    headers = [line for line in captured.out.splitlines() if not line.startswith(" ")]
    errors = error_lines(captured.err)
    assert len(headers) + len(errors) == 10  # one line per image, found or not
    assert len(headers) >= 8  # the Haar cascade finds ~95% of the sample's faces
    assert all("face at" in h and "attributes present" in h for h in headers)
    assert all("no face found" in e for e in errors)
    assert code == (1 if errors else 0)


@needs_sample
def test_the_crop_around_a_detected_face_matches_celebas_alignment():
    overlaps = []
    for path in sample_images(10):
        image = load_image(path)
        face = detect_largest_face(image)
        if face is None:
            continue
        left, top, right, bottom = celeba_crop_box(face)
        inter = max(0, min(right, 178) - max(left, 0)) * max(0, min(bottom, 218) - max(top, 0))
        overlaps.append(inter / ((right - left) * (bottom - top) + 178 * 218 - inter))
    assert len(overlaps) >= 8 and np.median(overlaps) > 0.85


@needs_sample
def test_a_face_in_a_larger_photo_is_found_and_cropped_like_the_aligned_image():
    aligned = load_image(sample_images(1)[0])
    photo = Image.new("RGB", (640, 480), (70, 90, 60))
    photo.paste(aligned.resize((267, 327)), (300, 100))  # 1.5x, off centre
    pixels, face = face_input(photo, 64)
    reference, _ = face_input(aligned, 64, detect=False)
    assert face is not None and 300 < face[0] < 567 and 100 < face[1] < 427
    assert np.abs(pixels.astype(float) - reference).mean() < 30  # same face, same framing


def test_synthetic_face_gives_a_table(export_dir, files, capsys):
    code = predict.main([str(files["synthetic"]), "--model", str(export_dir), "--no-detect"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].startswith(f"{files['synthetic']}: ") and "attributes present" in lines[0]
    assert any(line.split()[0] == "Male" for line in lines[1:])


def test_a_non_image_and_a_faceless_image_fail_alone(export_dir, files, capsys):
    paths = [str(files["text"]), str(files["sky"]), str(files["synthetic"])]
    code = predict.main([*paths, "--model", str(export_dir), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert error_lines(captured.err) == [
        f"error: {files['text']}: not a JPEG, PNG or WebP image",
        f"error: {files['sky']}: no face found (for an aligned face crop, use --no-detect)",
    ]
    assert [json.loads(line)["file"] for line in captured.out.splitlines()] == [
        str(files["synthetic"])
    ]  # the drawn face is found by the Haar cascade too


def test_threshold_one_half_overrides_the_card(export_dir, files, capsys):
    argv = [str(files["synthetic"]), "--model", str(export_dir), "--no-detect", "--json"]
    assert predict.main([*argv, "--threshold", "0.5"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["present"]["Male"] == (record["probabilities"]["Male"] > 0.5)
    assert predict.main([*argv, "--threshold", "2"]) == 2
    assert capsys.readouterr().err.startswith("error: --threshold must be")


@needs_sample
def test_numpy_and_keras_give_the_same_answers_on_real_faces(export_dir, capsys):
    argv = [*sample_images(8), "--model", str(export_dir), "--no-detect", "--json"]
    answers = []
    for engine in ([], ["--keras"]):
        assert predict.main([*argv, *engine]) == 0
        answers.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    numpy_run, keras_run = answers
    assert len(numpy_run) == len(keras_run) == 8
    for ours, theirs in zip(numpy_run, keras_run, strict=True):
        assert ours["file"] == theirs["file"]
        np.testing.assert_allclose(  # each rounded to 4 decimals
            list(ours["probabilities"].values()), list(theirs["probabilities"].values()), atol=2e-4
        )


def test_exif_orientation_is_honoured(tmp_path: Path):
    upright = Image.new("RGB", (40, 60), (200, 30, 30))
    upright.paste((30, 30, 200), (0, 0, 40, 10))  # blue band on top
    stored = upright.rotate(90, expand=True)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    stored.save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "sideways.jpg")
    assert image.size == (40, 60)
    top = np.asarray(image)[:8].reshape(-1, 3).mean(axis=0)
    assert top[2] > 150 and top[0] < 100  # the blue band is on top again


def test_face_input_without_a_face_raises():
    with pytest.raises(FaceError):
        face_input(Image.new("RGB", (120, 150), (128, 128, 128)), SIZE)


def test_a_model_with_a_lambda_layer_is_refused(tmp_path: Path, capsys):
    inputs = keras.Input((SIZE, SIZE, 3))
    doubled = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    outputs = keras.layers.Dense(40, activation="sigmoid")(keras.layers.Flatten()(doubled))
    folder = tmp_path / "unsafe"
    export_model(keras.Model(inputs, outputs), tiny_card(SIZE, PARAMS), folder, savedmodel=False)
    with pytest.raises(ExportError, match="unsafe deserialization"):
        load_export(folder)
    assert predict.main(["any.jpg", "--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused" in err and "Lambda" in err


def test_newest_export_is_the_default(tmp_path: Path, monkeypatch, export_dir, files, capsys):
    monkeypatch.chdir(tmp_path)
    assert predict.main([str(files["synthetic"])]) == 2
    assert "no exported model under studies/*/best" in capsys.readouterr().err
    (tmp_path / "studies" / "demo").mkdir(parents=True)
    (tmp_path / "studies" / "demo" / "best").symlink_to(export_dir)
    assert predict.main([str(files["synthetic"]), "--no-detect"]) == 0


def test_predict_with_a_tampered_card_prints_one_line(tmp_path: Path, capsys):
    out = tmp_path / "best"
    export_model(build_model(PARAMS, SIZE), tiny_card(SIZE, PARAMS), out, savedmodel=False)
    assert load_export(out)[1] == read_card(out)
    card = out / "model_card.json"
    card.write_text(card.read_text().replace('"image_size": 32', '"image_size": "32"'))
    assert predict.main(["face.jpg", "--model", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid model card: card.image_size" in err


def test_a_one_pixel_wide_png_and_an_ico_fail_alone_in_the_cli(
    export_dir, files, tmp_path, capsys
):
    from tests.data.test_decode import ico_bomb

    line = tmp_path / "line.png"
    Image.new("RGB", (1, 2000), (200, 180, 160)).save(line)
    ico = tmp_path / "face.ico"
    ico.write_bytes(ico_bomb())
    paths = [str(line), str(ico), str(files["synthetic"])]
    assert predict.main([*paths, "--model", str(export_dir), "--json"]) == 1
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        f"error: {line}: no face found (for an aligned face crop, use --no-detect)",
        f"error: {ico}: not a JPEG, PNG or WebP image",
    ]
    assert [json.loads(row)["file"] for row in captured.out.splitlines()] == paths[2:]
