"""BatchNorm re-estimation: the moving statistics become those of the current network."""

from __future__ import annotations

import keras
import numpy as np

from model import build_model
from model.batchnorm import calibration_sample, recalibrate_batchnorm
from tests.model.conftest import TINY, draw_pictures


def test_moving_statistics_become_those_of_the_calibration_images():
    images, _ = draw_pictures(64, 16, seed=0)
    model = build_model(TINY, 16, 4)
    bn1 = model.get_layer("bn1")
    before = bn1.moving_mean.numpy()
    recalibrate_batchnorm(model, images)
    conv1 = keras.Model(model.inputs, model.get_layer("conv1").output)
    features = np.asarray(conv1(images)).reshape(-1, bn1.moving_mean.shape[0])
    np.testing.assert_allclose(
        bn1.moving_mean.numpy(), features.mean(axis=0), rtol=1e-3, atol=1e-5
    )
    np.testing.assert_allclose(
        bn1.moving_variance.numpy(), features.var(axis=0), rtol=1e-2, atol=1e-5
    )
    assert not np.allclose(before, bn1.moving_mean.numpy())
    assert bn1.momentum == 0.99  # Keras' default, put back


def test_inference_then_matches_training_mode_on_those_images():
    images, _ = draw_pictures(64, 16, seed=1)
    model = build_model(TINY, 16, 4)  # no dropout, no flip: training mode is deterministic
    recalibrate_batchnorm(model, images)
    training_mode = np.asarray(model(images, training=True))
    inference = np.asarray(model(images, training=False))
    np.testing.assert_allclose(inference, training_mode, atol=2e-3)


def test_the_calibration_sample_is_fixed_by_the_seed_and_never_larger_than_the_data():
    images = np.arange(50).reshape(50, 1, 1, 1).astype(np.uint8)
    first = calibration_sample(images, 20, seed=3)
    assert np.array_equal(first, calibration_sample(images, 20, seed=3))
    assert len(np.unique(first)) == 20
    assert len(calibration_sample(images, 256, seed=3)) == 50
