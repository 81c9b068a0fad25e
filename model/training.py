"""The one training function that search trials and the final refit both use."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras.src.backend.common import global_state
from keras.src.random import seed_generator
from keras.src.utils import rng_utils

from model.batches import TrainBatches
from model.batchnorm import CALIBRATION_IMAGES, calibration_sample, recalibrate_batchnorm
from model.errors import NonFiniteLossError
from model.metrics import Metrics, evaluate
from model.network import ModelParams, build_model
from model.prediction import predict_proba
from model.steps import epoch_steps

if TYPE_CHECKING:
    from data import CelebaData

__all__ = [
    "MIXED_POLICY",
    "EpochResult",
    "TrainResult",
    "default_dtype_policy",
    "gpu_available",
    "train",
]

logger = logging.getLogger(__name__)

# bfloat16 keeps float32's exponent range, so no loss scaling is needed (H100/H200 run it natively)
MIXED_POLICY = "mixed_bfloat16"


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based
    loss: float  # mean training loss of the epoch
    val: Metrics  # on the whole val split
    seconds: float  # wall time of the training part of the epoch (validation excluded)
    images_per_second: float  # images trained on (full last batch included) / seconds
    val_seconds: float  # wall time of predicting and scoring the val split


@dataclass
class TrainResult:
    model: keras.Model  # with the best epoch's weights when train() was given a patience
    history: list[EpochResult]
    best_epoch: int  # 1-based, by val macro AUC
    n_params: int
    stopped_by: str = "epochs"  # one of model.card.TRAINING_STOPS

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([e.seconds for e in self.history]))

    @property
    def images_per_second(self) -> float:
        return float(np.mean([e.images_per_second for e in self.history]))


def default_dtype_policy() -> str | None:
    """The dtype policy train() builds models with unless told: mixed bfloat16 on a GPU."""
    return MIXED_POLICY if gpu_available() else None


def gpu_available() -> bool:
    """Whether the Keras backend sees a GPU."""
    return any(d.lower().startswith("gpu") for d in keras.distribution.list_devices())


def train(
    params: ModelParams,
    data: CelebaData,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    on_epoch_end: Callable[[EpochResult], None] | None = None,
    patience: int | None = None,
    verbose: int = 0,
    mixed_precision: bool | None = None,
    model: keras.Model | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    trace_once: bool = True,
    bn_calibration: int = CALIBRATION_IMAGES,
    deadline: float | None = None,
) -> TrainResult:
    """Fit on `data.train`, scoring the whole `data.val` split exactly after every epoch.

    `on_epoch_end` receives each epoch's result; whatever it raises (e.g. a pruning signal)
    propagates unchanged. `patience`: stop once val macro AUC has not improved for that many
    epochs and restore the best epoch's weights. `mixed_precision` None means on only when a
    GPU is visible. A NaN or infinite training loss raises NonFiniteLossError at once.
    `callbacks` are Keras callbacks called as `fit` would call them, batch by batch (the
    search's Ctrl-C check); `verbose` 1 shows Keras' progress bar.
    `trace_once` (the default) traces the train and predict steps once per model: every
    training batch full (TrainBatches), the last val batch padded. False restores the
    earlier feeding (a smaller last batch, an unpadded val batch) for bench.train.
    `bn_calibration`: training images on which BatchNorm's statistics are re-estimated before
    each validation (model/batchnorm.py); 0 scores with Keras' moving averages as they are.
    `deadline` (a `time.time()`): no epoch starts that would end after it, judged by how long
    the epoch before took; with a patience the best epoch's weights are restored as when the
    patience runs out.

    The loop is ours rather than `model.fit` (model/steps.py): fit's feeding (data-pipeline
    threads and their slow teardown under TensorFlow, an iterator under JAX) made a
    one-thread TensorFlow trial of the demo's network take 1.6-1.9x as long
    (docs/benchmarks-speed.md).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be positive or None, got {patience}")
    model = _ready_model(params, data, seed, mixed_precision, model)
    batches = TrainBatches(
        data.train.images, data.train.labels, batch_size, seed, full_batches=trace_once
    )
    steps = batches.steps_per_epoch
    calibration = calibration_sample(data.train.images, bn_calibration, seed)
    hooks = keras.callbacks.CallbackList(
        list(callbacks),
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    progress = _Progress(patience)
    stopped_by = "epochs"
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(epochs):
        hooks.on_epoch_begin(epoch)
        started = time.perf_counter()
        train_batch, trained = epoch_steps(model), 0
        train_batch.begin()
        try:
            for step in range(steps):
                hooks.on_train_batch_begin(step)
                images, labels = batches[epoch * steps + step]
                loss = train_batch(images, labels)
                if not math.isfinite(loss):
                    raise NonFiniteLossError(
                        f"training loss became {loss} at epoch {epoch + 1}, batch {step + 1} "
                        f"of {steps} (learning rate {params.learning_rate:g}); "
                        "try a smaller learning rate"
                    )
                trained += len(images)
                hooks.on_train_batch_end(step, {"loss": loss})
                if model.stop_training:
                    break
        finally:
            train_batch.end()  # the model's variables hold the trained weights again
        seconds = time.perf_counter() - started
        recalibrate_batchnorm(model, calibration)
        scoring_started = time.perf_counter()
        metrics = evaluate(
            data.val.labels, predict_proba(model, data.val.images, pad=trace_once), data.attr_names
        )
        result = EpochResult(
            epoch=epoch + 1,
            loss=loss,
            val=metrics,
            seconds=seconds,
            images_per_second=trained / seconds,
            val_seconds=time.perf_counter() - scoring_started,
        )
        _log_epoch(result, epochs)
        progress.add(result, model)
        if on_epoch_end is not None:
            on_epoch_end(result)
        hooks.on_epoch_end(
            epoch,
            {
                "loss": result.loss,
                "val_macro_auc": metrics.macro_auc,
                "val_micro_auc": metrics.micro_auc,
            },
        )
        if epoch + 1 == epochs:
            break
        if progress.stale or model.stop_training:
            stopped_by = "patience" if progress.stale else "callback"
            break
        # the epoch just run (training, scoring, on_epoch_end) is the guess of the next one's
        # length; the first also traced the steps, so it guesses long rather than short
        if deadline is not None and time.time() + (time.perf_counter() - started) > deadline:
            logger.info("time budget ran out after epoch %d of %d", epoch + 1, epochs)
            stopped_by = "time"
            break
    hooks.on_train_end()
    if progress.best_weights is not None:
        model.set_weights(progress.best_weights)
    return TrainResult(
        model=model,
        history=progress.history,
        best_epoch=progress.best_epoch,
        n_params=model.count_params(),
        stopped_by=stopped_by,
    )


def _ready_model(
    params: ModelParams,
    data: CelebaData,
    seed: int,
    mixed_precision: bool | None,
    model: keras.Model | None,
) -> keras.Model:
    """The given model, or a new one in a cleared session; its optimizer built, seeds set."""
    if model is None:
        # frees the graphs and layer names of earlier calls in this process (search trials)
        keras.backend.clear_session(free_memory=True)
    set_random_seed(seed)
    if model is None:
        if mixed_precision is None:
            policy = default_dtype_policy()
        else:
            policy = MIXED_POLICY if mixed_precision else None
        model = build_model(params, data.image_size, len(data.attr_names), dtype_policy=policy)
    if not model.optimizer.built:
        # else TensorFlow builds it inside the first traced step, and its new variables make
        # TensorFlow trace that step a second time
        model.optimizer.build(model.trainable_variables)
    return model


def set_random_seed(seed: int) -> None:
    """`keras.utils.set_random_seed`, without importing TensorFlow under another backend.

    Keras' function seeds TensorFlow whenever it is installed, and importing it cost a JAX
    worker 4 s and a few hundred MB; only Python's, NumPy's and Keras' own seeds matter here.
    """
    if keras.backend.backend() in ("tensorflow", "torch"):
        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    # Keras' global SeedGenerator is rebuilt from that seed on its next use
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


class _Progress:
    """The epochs so far, the best one by val macro AUC and, with a patience, its weights."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.history: list[EpochResult] = []
        self.best_epoch = 1
        self.best_weights: list[np.ndarray] | None = None
        self.stale = False  # no gain for `patience` epochs: time to stop
        self._best_auc = -math.inf

    def add(self, result: EpochResult, model: keras.Model) -> None:
        self.history.append(result)
        if result.val.macro_auc > self._best_auc:
            self._best_auc = result.val.macro_auc
            self.best_epoch = result.epoch
            if self.patience is not None:
                self.best_weights = model.get_weights()
        elif self.patience is not None and result.epoch - self.best_epoch >= self.patience:
            logger.info("early stop: no val macro AUC gain in %d epochs", self.patience)
            self.stale = True


def _log_epoch(result: EpochResult, epochs: int) -> None:
    metrics = result.val
    logger.info(
        "epoch %d/%d: loss %.4f, val macro AUC %.4f, micro AUC %.4f, mean accuracy %.4f, "
        "%.1f s (%.0f images/s)",
        result.epoch,
        epochs,
        result.loss,
        metrics.macro_auc,
        metrics.micro_auc,
        metrics.mean_accuracy,
        result.seconds,
        result.images_per_second,
    )
