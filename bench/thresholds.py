"""Do the chosen thresholds hold on new faces? `python -m bench.thresholds [--seeds 0,1,2,3,4]`.

For the real CelebA sample (../shared/celeba-sample: 90 validation images) and for synthetic
faces, a narrow network is trained per seed; each rule picks thresholds on the validation
split, and the test split's mean accuracy at those thresholds is compared with 0.5's:
  best cut        the cut of highest validation accuracy (what refit did before)
  cv, no guards   5-fold cross-validated choice, no minimum class count, no margin
  cv (refit)      model.thresholds' default: 5 folds, +2 images, >= 10 of each class
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

import data
from model import ModelParams, predict_proba, train
from model.thresholds import ThresholdRule, best_cuts, choose_thresholds
from search.trial.study_data import prepare_data
from tests.sample import SAMPLE

NARROW = ModelParams(conv_widths=(16, 32, 64, 128), dense_widths=(256, 128), dropout=0.3)


def _chosen(rule: ThresholdRule):
    def pick(labels: np.ndarray, probs: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        choices = choose_thresholds(labels, probs, names, rule)
        return np.array([choices[n].threshold for n in names])

    return pick


RULES = {
    "best cut": lambda labels, probs, names: best_cuts(labels, probs),
    "cv, no guards": _chosen(ThresholdRule(margin=0, min_class=0)),
    "cv (refit)": _chosen(ThresholdRule()),
}


def gains(celeba: data.CelebaData, seed: int, epochs: int) -> dict[str, tuple[float, int]]:
    """Per rule: test mean accuracy minus 0.5's, and how many thresholds moved off 0.5."""
    result = train(NARROW, celeba, epochs=epochs, batch_size=32, seed=seed, patience=3)
    val = predict_proba(result.model, celeba.val.images).astype(np.float64)
    test = predict_proba(result.model, celeba.test.images).astype(np.float64)
    positive = celeba.test.labels.astype(bool)
    at_half = ((test > 0.5) == positive).mean()
    out = {}
    for name, rule in RULES.items():
        cuts = rule(celeba.val.labels, val, celeba.attr_names)
        out[name] = (((test > cuts) == positive).mean() - at_half, int((cuts != 0.5).sum()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--synthetic-n", type=int, default=2000)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.simplefilter("ignore", UserWarning)  # single-class attributes of tiny splits
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the synthetic faces and caches go to a temporary folder
        sets = {}
        if SAMPLE is not None:
            cache = data.prepare_cache(SAMPLE, size=32, out=Path(tmp) / "sample", progress=False)
            sets["real sample"] = data.load(cache)
        sets[f"synthetic {args.synthetic_n}"] = prepare_data("synthetic", 32, args.synthetic_n)
        print(f"narrow network at 32x32, batch 32, up to {args.epochs} epochs, patience 3; "
              f"seeds {args.seeds}")  # fmt: skip
        print("test mean accuracy at each rule's thresholds minus at 0.5 (x 1e-4), per seed;")
        print("worst and mean over seeds, runs lost to 0.5, thresholds moved off 0.5 (mean)")
        print(f"{'data (val/test images)':<28}{'rule':<15}{'worst':>7}{'mean':>7}{'lost':>6}"
              f"{'moved':>7}   per seed")  # fmt: skip
        for label, celeba in sets.items():
            runs = [gains(celeba, seed, args.epochs) for seed in seeds]
            where = f"{label} ({len(celeba.val)}/{len(celeba.test)})"
            for rule in RULES:
                diff = np.array([run[rule][0] for run in runs]) * 1e4
                moved = np.mean([run[rule][1] for run in runs])
                lost = int((diff < 0).sum())
                shown = " ".join(f"{d:+.0f}" for d in diff)
                print(f"{where:<28}{rule:<15}{diff.min():>+7.0f}{diff.mean():>+7.1f}{lost:>6}"
                      f"{moved:>7.1f}   {shown}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
