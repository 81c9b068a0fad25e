from __future__ import annotations

import numpy as np
import pytest

from model import MIXED_POLICY, ModelParams, build_model
from tests.model.conftest import TINY


def test_default_network_has_the_notebooks_parameter_count():
    model = build_model(ModelParams(), image_size=64, n_attrs=40)

    assert model.count_params() == 10_489_768


def test_output_is_one_probability_per_attribute_for_raw_pixels():
    model = build_model(TINY, image_size=16, n_attrs=5)
    images = np.random.default_rng(0).integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)

    probs = np.asarray(model.predict_on_batch(images))

    assert model.input.dtype == "uint8"
    assert probs.shape == (7, 5)
    assert probs.dtype == np.float32
    assert np.all((probs >= 0) & (probs <= 1))


def test_mixed_precision_keeps_a_float32_output():
    model = build_model(TINY, image_size=16, n_attrs=3, dtype_policy=MIXED_POLICY)
    images = np.zeros((2, 16, 16, 3), dtype=np.uint8)

    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert np.asarray(model.predict_on_batch(images)).dtype == np.float32


def test_flip_adds_a_random_flip_layer_only_when_asked():
    names = [layer.name for layer in build_model(TINY, 16, 2).layers]
    flipped = [layer.name for layer in build_model(ModelParams(flip=True), 16, 2).layers]

    assert "flip" not in names
    assert "flip" in flipped


@pytest.mark.parametrize(
    "bad",
    [
        {"conv_widths": (8, 8, 8)},
        {"dense_widths": (0, 8)},
        {"dropout": 1.0},
        {"learning_rate": 0.0},
        {"label_smoothing": -0.1},
    ],
)
def test_params_reject_impossible_values(bad):
    with pytest.raises(ValueError):
        ModelParams(**bad)
