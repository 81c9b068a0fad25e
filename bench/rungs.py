"""Benchmark early rungs (not a test): python -m bench.rungs [--trials 20] [--epochs 8]
[--seed 0] [--train-images N].

Does a trial's validation macro AUC after epoch k rank configurations as its final one does?
On the demo's data (5,000 synthetic faces at 32x32) it trains `--trials` random configurations
of the demo space for `--epochs` epochs each and scores the val split twice after every epoch:
with Keras' moving BatchNorm averages as they are (before), and with BatchNorm's statistics
re-estimated on 256 training images (after, what train() now does). The re-estimation is
undone after scoring, so both columns come from the very same training run. It prints the
Spearman rank correlation of each epoch's AUC with the final one (target at epoch 1: >= 0.7),
and how often the final top third would survive a rung at epoch k that keeps the top third
(Hyperband's reduction factor 3). `--train-images N` trains on the first N training faces
only (a quicker, rougher measurement on a loaded machine).
"""

from __future__ import annotations

import argparse
import dataclasses

import keras
import numpy as np
import optuna
from scipy.stats import spearmanr

from model import evaluate, predict_proba, train
from model.batchnorm import CALIBRATION_IMAGES, calibration_sample, recalibrate_batchnorm
from search.trial.space import get_space
from search.trial.study_data import prepare_data


class _RecalibratedScore(keras.callbacks.Callback):
    """After each epoch: re-estimate BatchNorm, score val, then put the moving averages back."""

    def __init__(self, data, calibration: np.ndarray) -> None:
        super().__init__()
        self.data = data
        self.calibration = calibration
        self.scores: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        layers = [
            lay for lay in self.model.layers if isinstance(lay, keras.layers.BatchNormalization)
        ]
        saved = [(lay.moving_mean.numpy(), lay.moving_variance.numpy()) for lay in layers]
        recalibrate_batchnorm(self.model, self.calibration)
        probs = predict_proba(self.model, self.data.val.images)
        self.scores.append(evaluate(self.data.val.labels, probs, self.data.attr_names).macro_auc)
        for layer, (mean, variance) in zip(layers, saved, strict=True):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)


def measure(
    trials: int, epochs: int, seed: int, train_images: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Val macro AUC per (trial, epoch): with moving averages, and re-estimated."""
    data = prepare_data("synthetic", 32, 5000, seed)
    if train_images is not None:
        full = data.train
        fewer = dataclasses.replace(
            full, ids=full.ids[:train_images], images=full.images[:train_images],
            labels=full.labels[:train_images],
        )  # fmt: skip
        data = dataclasses.replace(data, train=fewer)
    space = get_space("demo")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    calibration = calibration_sample(data.train.images, CALIBRATION_IMAGES, seed)
    before, after = [], []
    for number in range(trials):
        trial = study.ask()
        params = space.sample(trial)
        scorer = _RecalibratedScore(data, calibration)
        result = train(params.model, data, epochs=epochs, batch_size=params.batch_size,
                       seed=seed, bn_calibration=0, callbacks=[scorer])  # fmt: skip
        before.append([e.val.macro_auc for e in result.history])
        after.append(scorer.scores)
        study.tell(trial, after[-1][-1])
        print(f"trial {number}: {trial.params}\n  before {_row(before[-1])}\n"
              f"  after  {_row(after[-1])}", flush=True)  # fmt: skip
    return np.array(before), np.array(after)


def _row(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def top_third_kept(scores: np.ndarray, epoch: int) -> float:
    """Share of the final top third that a rung at `epoch` keeping its top third would keep."""
    k = max(1, len(scores) // 3)
    final_top = set(np.argsort(-scores[:, -1])[:k])
    rung_top = set(np.argsort(-scores[:, epoch - 1])[:k])
    return len(final_top & rung_top) / k


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-images", type=int, dest="train_images")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    before, after = measure(args.trials, args.epochs, args.seed, args.train_images)
    used = args.train_images or "all"
    print(f"\n{args.trials} random demo configurations, {args.epochs} epochs, seed {args.seed}, "
          f"{used} training faces")  # fmt: skip
    print("epoch   Spearman with final        final top third kept")
    print("        before   after             before   after")
    for epoch in range(1, args.epochs):
        rho_before = spearmanr(before[:, epoch - 1], before[:, -1]).statistic
        rho_after = spearmanr(after[:, epoch - 1], after[:, -1]).statistic
        kept = (top_third_kept(before, epoch), top_third_kept(after, epoch))
        print(f"{epoch:<7} {rho_before:6.3f}   {rho_after:6.3f}            "
              f"{kept[0]:5.0%}    {kept[1]:5.0%}")  # fmt: skip
    print(f"final val macro AUC: best before {before[:, -1].max():.4f}, "
          f"after {after[:, -1].max():.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
