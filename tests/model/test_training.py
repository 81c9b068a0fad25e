from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np
import pytest

from data import CelebaData
from model import (
    NonFiniteLossError,
    TrainingError,
    build_model,
    evaluate,
    predict_proba,
    train,
)
from model.traces import TraceCounter
from tests.model.conftest import SYNTHETIC_ATTRS, TINY, draw_pictures, make_data


def test_a_tiny_network_learns_the_drawn_attributes(pictures):
    seen = []

    result = train(TINY, pictures, epochs=12, batch_size=32, seed=0, on_epoch_end=seen.append)

    assert [e.epoch for e in result.history] == list(range(1, 13))
    assert seen == result.history
    final = result.history[-1].val
    for name in ("Square", "Red", "Bar"):
        assert final.per_attribute_auc[name] > 0.85, (name, final.per_attribute_auc)
    assert final.macro_auc > 0.7
    assert result.history[-1].loss < result.history[0].loss
    assert result.best_epoch == 1 + int(np.argmax([e.val.macro_auc for e in result.history]))
    assert result.n_params == result.model.count_params() < 5000
    assert all(e.seconds > 0 and e.images_per_second > 0 for e in result.history)
    assert result.images_per_second > 0 and result.seconds_per_epoch > 0
    assert result.stopped_by == "epochs"


def test_a_nan_loss_raises_and_says_where(pictures):
    labels = pictures.train.labels.astype(np.float32)
    labels[0, 0] = np.nan  # every batch order puts this row somewhere in epoch 1
    poisoned = dataclasses.replace(
        pictures, train=dataclasses.replace(pictures.train, labels=labels)
    )

    # the batch that holds row 0 in epoch 1's order (model/batches.py)
    order = np.random.default_rng((0, 0)).permutation(len(labels))
    batch = 1 + int(np.flatnonzero(order == 0)[0]) // 32

    with pytest.raises(NonFiniteLossError, match=f"nan at epoch 1, batch {batch} of 13") as info:
        train(TINY, poisoned, epochs=3, batch_size=32)

    assert isinstance(info.value, TrainingError)


def test_an_infinite_learning_rate_raises_instead_of_completing(pictures):
    # 1e30 may only saturate the clipped cross-entropy; an infinite step surely diverges
    explosive = dataclasses.replace(TINY, learning_rate=math.inf)

    with pytest.raises(NonFiniteLossError, match="learning rate inf"):
        train(explosive, pictures, epochs=5, batch_size=32)


def test_an_exception_from_the_epoch_callback_propagates_unchanged(pictures):
    class Pruned(Exception):
        pass

    def prune(result):
        raise Pruned(result.epoch)

    with pytest.raises(Pruned) as info:
        train(TINY, pictures, epochs=5, batch_size=64, on_epoch_end=prune)

    assert info.value.args == (1,)


def test_patience_stops_early_and_restores_the_best_weights():
    # random labels: val AUC wanders around 0.5 and soon stops improving
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (300, 16, 16, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, (300, 4), dtype=np.uint8)
    data = make_data((images[:200], labels[:200]), (images[200:], labels[200:]))

    result = train(TINY, data, epochs=20, batch_size=32, patience=1, seed=0)

    aucs = [e.val.macro_auc for e in result.history]
    assert len(aucs) < 20 and result.stopped_by == "patience"
    assert result.best_epoch < len(aucs)
    assert aucs[result.best_epoch - 1] == max(aucs)
    probs = predict_proba(result.model, data.val.images)
    restored = evaluate(data.val.labels, probs, SYNTHETIC_ATTRS).macro_auc
    assert restored == pytest.approx(max(aucs), abs=1e-6)


def test_a_passed_deadline_stops_after_the_epoch_and_keeps_the_best_weights(pictures):
    result = train(TINY, pictures, epochs=4, batch_size=32, patience=3, deadline=time.time())

    assert [e.epoch for e in result.history] == [1] and result.stopped_by == "time"
    probs = predict_proba(result.model, pictures.val.images)
    scored = evaluate(pictures.val.labels, probs, SYNTHETIC_ATTRS).macro_auc
    assert scored == pytest.approx(result.history[0].val.macro_auc, abs=1e-6)


def test_no_epoch_starts_that_the_last_one_says_would_end_after_the_deadline(pictures):
    # epoch 1 takes over `pause` s (on_epoch_end sleeps) and ends before the deadline, which
    # leaves no room for another as long; stopping only once the time is up ran epoch 2
    pause = 3.0
    deadline = time.time() + pause + 2.5

    def slow_reporting(_result):
        time.sleep(pause)

    result = train(
        TINY, pictures, epochs=3, batch_size=32, on_epoch_end=slow_reporting, deadline=deadline
    )

    assert [e.epoch for e in result.history] == [1] and result.stopped_by == "time"


def test_forced_mixed_precision_trains_on_cpu(pictures):
    result = train(TINY, pictures, epochs=1, batch_size=64, mixed_precision=True)

    assert result.model.get_layer("conv1").compute_dtype == "bfloat16"
    assert math.isfinite(result.history[0].loss)
    assert math.isfinite(result.history[0].val.macro_auc)


def test_a_saved_model_reloads_with_identical_predictions(pictures, tmp_path):
    params = dataclasses.replace(TINY, flip=True, label_smoothing=0.1, dropout=0.2)
    model = train(params, pictures, epochs=2, batch_size=64).model
    path = tmp_path / "model.keras"

    model.save(path)
    reloaded = keras.saving.load_model(path)

    images = pictures.val.images
    np.testing.assert_array_equal(predict_proba(reloaded, images), predict_proba(model, images))


def test_training_is_reproducible_with_a_seed():
    data = make_data(draw_pictures(128, 16, seed=5), draw_pictures(64, 16, seed=6))

    first = train(TINY, data, epochs=2, batch_size=32, seed=7).history
    second = train(TINY, data, epochs=2, batch_size=32, seed=7).history

    assert [e.loss for e in first] == pytest.approx([e.loss for e in second], rel=1e-5)
    assert first[-1].val.macro_auc == pytest.approx(second[-1].val.macro_auc, abs=1e-4)


def _uneven_data() -> CelebaData:
    # 410 training images at batch 32 and 300 val images at 256 per prediction batch: both
    # leave a remainder, which used to cost a second trace of each step
    return make_data(draw_pictures(410, 16, seed=8), draw_pictures(300, 16, seed=9))


def test_each_step_function_is_traced_once_per_trial():
    data = _uneven_data()
    model = build_model(TINY, 16, len(SYNTHETIC_ATTRS))
    traces = TraceCounter.install(model)

    result = train(TINY, data, epochs=3, batch_size=32, model=model)
    predict_proba(result.model, data.test.images[:77])  # a trial then scores its test split

    assert (traces.train, traces.predict) == (1, 1)


def test_the_earlier_feeding_traces_each_step_again():
    data = _uneven_data()
    model = build_model(TINY, 16, len(SYNTHETIC_ATTRS))
    traces = TraceCounter.install(model)

    train(TINY, data, epochs=2, batch_size=32, model=model, trace_once=False)

    # the val split's 44-row last batch traces predict again, and the smaller last training
    # batch traces train again
    assert (traces.train, traces.predict) == (2, 2)


def test_padded_prediction_scores_the_whole_split_exactly():
    data = _uneven_data()
    seen = []

    result = train(TINY, data, epochs=1, batch_size=32, on_epoch_end=seen.append)

    padded = predict_proba(result.model, data.val.images)
    unpadded = predict_proba(result.model, data.val.images, pad=False)
    one_by_one = predict_proba(result.model, data.val.images[250:], batch_size=1, pad=False)
    assert padded.shape == (300, len(SYNTHETIC_ATTRS))
    np.testing.assert_allclose(padded, unpadded, atol=1e-6)
    np.testing.assert_allclose(padded[250:], one_by_one, atol=1e-6)
    exact = evaluate(data.val.labels, unpadded, SYNTHETIC_ATTRS)
    assert seen[0].val.macro_auc == pytest.approx(exact.macro_auc, abs=1e-6)
    assert seen[0].val.per_attribute_auc == pytest.approx(exact.per_attribute_auc, abs=1e-6)


def test_images_per_second_counts_the_images_trained_on():
    data = _uneven_data()

    result = train(TINY, data, epochs=2, batch_size=32)

    for epoch in result.history:
        # 13 full batches of 32: the last one filled up with images trained once already
        assert epoch.images_per_second * epoch.seconds == pytest.approx(13 * 32)
        assert epoch.val_seconds > 0
