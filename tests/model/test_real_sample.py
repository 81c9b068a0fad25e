"""One epoch on the real CelebA sample, through the data layer's cache."""

from __future__ import annotations

import math
from contextlib import nullcontext

import pytest

import data
from model import ModelParams, train
from tests.sample import SAMPLE

pytestmark = pytest.mark.skipif(SAMPLE is None, reason="../shared/celeba-sample is absent")


def test_one_epoch_on_the_real_sample_gives_finite_metrics(tmp_path):
    cache = data.prepare_cache(SAMPLE, size=32, out=tmp_path / "cache", progress=False)
    celeba = data.load(cache)
    params = ModelParams(conv_widths=(8, 8, 16, 16), dense_widths=(32, 32), dropout=0.2)

    one_class = [
        name
        for name, column in zip(celeba.attr_names, celeba.val.labels.T, strict=True)
        if column.min() == column.max()
    ]

    with pytest.warns(UserWarning, match="single class") if one_class else nullcontext():
        result = train(params, celeba, epochs=1, batch_size=64, seed=0)

    (epoch,) = result.history
    assert math.isfinite(epoch.loss)
    assert math.isfinite(epoch.val.macro_auc) and math.isfinite(epoch.val.micro_auc)
    assert 0.0 <= epoch.val.mean_accuracy <= 1.0
    assert set(epoch.val.per_attribute_auc) == set(celeba.attr_names)
    assert [n for n, auc in epoch.val.per_attribute_auc.items() if auc is None] == one_class
    assert len(celeba.attr_names) == 40
