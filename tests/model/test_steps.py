"""train()'s own loop: batch by batch as fit would call callbacks, and on JAX a train step
that keeps its state between batches yet trains exactly as `train_on_batch` does."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from model import build_model, evaluate, predict_proba, train
from model.batches import TrainBatches
from model.steps import EpochSteps, epoch_steps
from model.training import set_random_seed
from tests.model.conftest import SYNTHETIC_ATTRS, TINY, draw_pictures, make_data

ROOT = Path(__file__).resolve().parents[2]


def _two_epochs(steps_of: type[EpochSteps] | None, images, labels) -> tuple[list[float], list]:
    """Each batch's reported mean loss over two epochs, and the weights after them."""
    set_random_seed(4)
    model = build_model(dataclasses.replace(TINY, dropout=0.3, flip=True), 16, 4)
    model.optimizer.build(model.trainable_variables)
    batches = TrainBatches(images, labels, 32, seed=0)
    losses = []
    for epoch in range(2):
        steps = epoch_steps(model) if steps_of is None else steps_of(model)
        steps.begin()
        for step in range(batches.steps_per_epoch):
            losses.append(steps(*batches[epoch * batches.steps_per_epoch + step]))
        steps.end()
    return losses, model.get_weights()


def _last_line_under_jax(script: str) -> str:
    """The last line `script` prints in a fresh process under KERAS_BACKEND=jax."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def steps_against_train_on_batch() -> str:
    """Both ways on this process's backend: the largest loss and weight differences, as JSON."""
    images, labels = draw_pictures(160, 16, seed=3)
    fast_losses, fast_weights = _two_epochs(None, images, labels)
    plain_losses, plain_weights = _two_epochs(EpochSteps, images, labels)
    return json.dumps(
        {
            "backend": keras.backend.backend(),
            "steps": type(epoch_steps(build_model(TINY, 16, 4))).__name__,
            "loss": float(np.max(np.abs(np.subtract(fast_losses, plain_losses)))),
            "weights": max(
                float(np.max(np.abs(f - p)))
                for f, p in zip(fast_weights, plain_weights, strict=True)
            ),
            "losses": len(fast_losses),
        }
    )


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_the_jax_steps_train_exactly_as_train_on_batch():
    # under JAX whatever backend the suite runs on (this machine's default may be TensorFlow)
    script = "from tests.model.test_steps import steps_against_train_on_batch as f; print(f())"
    report = json.loads(_last_line_under_jax(script))
    assert report["backend"] == "jax" and report["steps"] == "_JaxEpochSteps", report
    # dropout and flips included: the same random draws, the same updates; and each epoch's
    # mean starts afresh, as train_on_batch's does
    assert report["losses"] == 10
    assert report["loss"] < 1e-5 and report["weights"] < 1e-5, report


def test_callbacks_see_every_batch_and_can_stop_training():
    data = make_data(draw_pictures(128, 16, seed=5), draw_pictures(64, 16, seed=6))
    seen: list[tuple[str, int]] = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("train", 0))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(("epoch", epoch))

        def on_train_batch_end(self, batch, logs=None):
            assert np.isfinite(logs["loss"])
            seen.append(("batch", batch))
            if len([s for s in seen if s[0] == "batch"]) == 6:
                self.model.stop_training = True  # as the search's Ctrl-C check would

        def on_epoch_end(self, epoch, logs=None):
            assert {"loss", "val_macro_auc"} <= set(logs)
            seen.append(("end", epoch))

    result = train(TINY, data, epochs=3, batch_size=32, callbacks=[Recorder()])

    # 4 batches per epoch; stopped at the second batch of epoch 2, which is still scored
    batches = [("batch", b) for b in range(4)]
    assert seen == [
        ("train", 0), ("epoch", 0), *batches, ("end", 0), ("epoch", 1), *batches[:2], ("end", 1),
    ]  # fmt: skip
    assert [e.epoch for e in result.history] == [1, 2]


def test_verbose_shows_keras_progress_bar(capsys):
    data = make_data(draw_pictures(64, 16, seed=7), draw_pictures(32, 16, seed=8))

    train(TINY, data, epochs=2, batch_size=32, verbose=1)

    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "loss:" in out and "val_macro_auc:" in out


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_training_on_jax_never_imports_tensorflow():
    script = (
        "import sys\n"
        "from model import train\n"
        "from tests.model.conftest import TINY, draw_pictures, make_data\n"
        "data = make_data(draw_pictures(64, 16, seed=1), draw_pictures(32, 16, seed=2))\n"
        "train(TINY, data, epochs=1, batch_size=32)\n"
        "print('tensorflow' in sys.modules)\n"
    )
    assert _last_line_under_jax(script) == "False"


def test_train_scores_the_model_it_trained():
    # the model's variables hold the epoch's weights when it is scored (the JAX steps keep
    # them as arrays during the epoch and write them back at its end)
    data = make_data(draw_pictures(160, 16, seed=9), draw_pictures(96, 16, seed=10))
    seen = []

    result = train(TINY, data, epochs=2, batch_size=32, on_epoch_end=seen.append, bn_calibration=0)

    probs = predict_proba(result.model, data.val.images)
    assert evaluate(data.val.labels, probs, SYNTHETIC_ATTRS).macro_auc == pytest.approx(
        seen[-1].val.macro_auc, abs=1e-6
    )
