"""The chosen thresholds hold on the test split: a real tiny training on the real CelebA sample
(90 validation images) and on synthetic faces, thresholds chosen on validation, never worse
than 0.5 on test by more than 0.1 points of mean accuracy (issue 23's target)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import data
from model import ModelParams, predict_proba, train
from model.thresholds import choose_thresholds
from tests.sample import SAMPLE

# of mean test accuracy, issue 23's target: 0.1 points, 2.4 of synthetic's 2,400 decisions.
# Measured once (seed 0, with stratified folds): the sign-test rule +0.0203 on the real sample
# (4 tuned) and 0 on synthetic (none tuned); the rule before it (cross-validated gain >= 2
# images, no fold lost) +0.0489 (12 tuned) and -0.00125 (1 tuned: this test fails with it)
TOLERANCE = 0.001
PARAMS = ModelParams(conv_widths=(8, 16, 16, 32), dense_widths=(64, 32), dropout=0.2)


def _celeba(which: str, folder: Path) -> data.CelebaData:
    if which == "real sample":
        if SAMPLE is None:
            pytest.skip("../shared/celeba-sample is absent")
        source = SAMPLE
    else:
        source = data.generate_synthetic(folder / "faces", n=600, seed=0, workers=1)
    return data.load(data.prepare_cache(source, size=24, out=folder / "cache", progress=False))


@pytest.mark.parametrize("which", ["real sample", "synthetic"])
def test_chosen_thresholds_are_not_worse_than_one_half_on_test(which: str, tmp_path: Path):
    celeba = _celeba(which, tmp_path)
    with warnings.catch_warnings():  # single-class attributes of tiny splits
        warnings.simplefilter("ignore", UserWarning)
        result = train(PARAMS, celeba, epochs=4, batch_size=32, seed=0, patience=2)
    val = predict_proba(result.model, celeba.val.images)
    test = predict_proba(result.model, celeba.test.images)
    choices = choose_thresholds(celeba.val.labels, val, celeba.attr_names)
    cuts = np.array([choices[name].threshold for name in celeba.attr_names])
    positive = celeba.test.labels.astype(bool)
    chosen = ((test > cuts) == positive).mean()
    at_half = ((test > 0.5) == positive).mean()
    assert chosen >= at_half - TOLERANCE, (chosen, at_half)
    # the rare attributes (fewer than 10 validation positives) all kept 0.5
    rare = [c for c in choices.values() if c.positives < 10]
    assert rare and all(c.threshold == 0.5 and "too few" in c.reason for c in rare)
