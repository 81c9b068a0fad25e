"""The export's SavedModel, what TensorFlow Serving loads: its signature gives the .keras
model's probabilities on the same pixels."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from model import build_model, predict_proba
from model.card import SAVEDMODEL_NAME
from model.export import export_model, load_export
from serve.preprocess import prepare_face
from tests.cards import tiny_card
from tests.sample import SAMPLE
from tests.serve.conftest import PARAMS, SIZE

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="a SavedModel is written on TensorFlow only"
)


def test_the_serving_signature_gives_the_keras_models_probabilities(tmp_path):
    keras.utils.set_random_seed(1)
    out = tmp_path / "best"
    export_model(build_model(PARAMS, SIZE), tiny_card(SIZE, PARAMS), out, savedmodel=True)
    model, card = load_export(out)
    if SAMPLE is not None:
        faces = sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[:6]
        pixels = np.stack([prepare_face(p, SIZE, detect=False).pixels for p in faces])
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8)

    saved = tf.saved_model.load(str(out / SAVEDMODEL_NAME))
    signature = saved.signatures["serving_default"]
    ((name, spec),) = signature.structured_input_signature[1].items()
    assert name == "image" and spec.dtype == tf.uint8
    assert tuple(spec.shape) == (None, SIZE, SIZE, 3)
    (output,) = signature(image=tf.constant(pixels)).values()
    assert output.shape == (6, len(card.attr_names))
    np.testing.assert_allclose(output.numpy(), predict_proba(model, pixels), rtol=0, atol=1e-6)
