"""model.numpy_model against Keras itself, on real .keras files that build_model wrote.

Random weights everywhere (BatchNorm's moving statistics included, which a new model keeps
at 0 and 1) so that every layer changes the answer; random pixels; Keras' predictions on the
same file are the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from model import ModelParams, build_model, predict_proba
from model.export import export_model, load_export
from model.numpy_model import NumpyModel, numpy_model
from tests.cards import tiny_card

ROOT = Path(__file__).resolve().parents[2]


def _randomised(model: keras.Model, seed: int) -> keras.Model:
    """Kernels as initialised; biases and BatchNorm's four vectors drawn at random."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = (w.shape for w in weights)
            weights = [rng.uniform(0.5, 2.0, gamma), rng.normal(0, 0.3, beta),
                       rng.normal(0, 0.3, mean), rng.uniform(0.05, 0.5, variance)]  # fmt: skip
        elif len(weights) == 2:
            weights[1] = rng.normal(0.0, 0.1, weights[1].shape)
        layer.set_weights([np.asarray(w, dtype="float32") for w in weights])
    return model


def _images(n: int, size: int, seed: int) -> np.ndarray:
    """Noise under a random brightness per image, so that the answers differ image by image."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n, size, size, 3)) * rng.uniform(0.1, 1.0, (n, 1, 1, 1))
    return noise.astype(np.uint8)


def _saved(model: keras.Model, folder: Path) -> Path:
    path = folder / "model.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    ("params", "size"),
    [
        (ModelParams(conv_widths=(8, 16, 32, 16), dense_widths=(64, 32)), 32),
        (ModelParams(conv_widths=(4, 8, 8, 4), dense_widths=(16, 8), flip=True), 16),
        (ModelParams(conv_widths=(4, 4, 8, 8), dense_widths=(8, 8)), 21),  # odd: pools floor
    ],
)
def test_the_same_probabilities_as_keras(tmp_path, params, size):
    keras.utils.set_random_seed(1)
    model = _randomised(build_model(params, size), seed=size)
    path = _saved(model, tmp_path)
    images = _images(70, size, seed=2)

    ours = numpy_model(path)
    assert isinstance(ours, NumpyModel)
    assert ours.input_shape == (None, size, size, 3) and ours.output_shape == (None, 40)
    expected = predict_proba(keras.saving.load_model(path), images)
    got = predict_proba(ours, images, pad=False)
    assert got.dtype == np.float32 and got.shape == (70, 40)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert expected.std(axis=0).max() > 0.01  # images differ 1,000 times the tolerance


def test_a_layer_build_model_never_writes_is_left_to_keras(tmp_path):
    inputs = keras.Input((16, 16, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(40, activation="sigmoid")(x)
    path = _saved(keras.Model(inputs, outputs), tmp_path)
    assert numpy_model(path) is None


def test_a_layer_called_twice_is_left_to_keras(tmp_path):
    inputs = keras.Input((16, 16, 3), dtype="uint8", name="image")
    flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    shared = keras.layers.Dense(768, activation="relu")
    outputs = keras.layers.Dense(40, activation="sigmoid")(shared(shared(flat)))
    path = _saved(keras.Model(inputs, outputs), tmp_path)
    assert numpy_model(path) is None


def test_a_mixed_precision_model_is_left_to_keras(tmp_path):
    params = ModelParams(conv_widths=(4, 4, 4, 4), dense_widths=(8, 8))
    path = _saved(build_model(params, 16, dtype_policy="mixed_bfloat16"), tmp_path)
    assert numpy_model(path) is None


def test_a_file_that_is_not_a_model_is_left_to_keras(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert numpy_model(path) is None


def test_load_export_falls_back_to_keras_when_it_must(tmp_path):
    inputs = keras.Input((32, 32, 3), dtype="uint8", name="image")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Dense(40, activation="sigmoid")(x)
    params = ModelParams(conv_widths=(4, 4, 4, 4), dense_widths=(8, 8))
    export_model(keras.Model(inputs, outputs), tiny_card(32, params), tmp_path / "best",
                 savedmodel=False)  # fmt: skip
    model, _ = load_export(tmp_path / "best", numpy=True)
    assert isinstance(model, keras.Model)


def test_the_predict_command_imports_neither_keras_nor_a_backend(tmp_path):
    params = ModelParams(conv_widths=(4, 4, 8, 8), dense_widths=(8, 8))
    keras.utils.set_random_seed(3)
    model = _randomised(build_model(params, 32), seed=3)
    export_model(model, tiny_card(32, params), tmp_path / "best", savedmodel=False)
    face = _images(1, 32, seed=4)[0]
    keras.utils.save_img(tmp_path / "face.png", face, scale=False)
    script = (
        "import sys; from serve.predict import main; "
        f"code = main([{str(tmp_path / 'face.png')!r}, '--model', {str(tmp_path / 'best')!r}, "
        "'--no-detect', '--json']); "
        "loaded = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]; "
        "print('loaded:', loaded); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer, loaded = done.stdout.splitlines()
    assert loaded == "loaded: []"
    probabilities = json.loads(answer)["probabilities"]
    expected = predict_proba(model, face[None])[0]
    np.testing.assert_allclose(list(probabilities.values()), expected, atol=1e-4)  # rounded
