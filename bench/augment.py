"""Do horizontal flips and label smoothing help? `python -m bench.augment [--seeds 0,1,2]`.

The `wide` search space samples both; this measures them outside a search, on the real
CelebA sample (../shared/celeba-sample, 600 images) and on synthetic faces, for a narrow
network at 32x32: the best validation macro AUC of a short training (patience 3) and the
test macro AUC of that epoch's weights, for each combination, over seeds.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np

import data
from model import ModelParams, evaluate, predict_proba, train
from search.trial.study_data import prepare_data
from tests.sample import SAMPLE

NARROW = ModelParams(conv_widths=(16, 32, 64, 128), dense_widths=(256, 128), dropout=0.3)
COMBINATIONS = [(False, 0.0), (True, 0.0), (False, 0.1), (True, 0.1)]


def scores(celeba: data.CelebaData, flip: bool, smoothing: float, seed: int, epochs: int):
    params = ModelParams(**{**NARROW.__dict__, "flip": flip, "label_smoothing": smoothing})
    result = train(params, celeba, epochs=epochs, batch_size=32, seed=seed, patience=3)
    probs = predict_proba(result.model, celeba.test.images)
    test = evaluate(celeba.test.labels, probs, celeba.attr_names)
    return result.history[result.best_epoch - 1].val.macro_auc, test.macro_auc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--synthetic-n", type=int, default=2000)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.simplefilter("ignore", UserWarning)  # single-class attributes of tiny splits
    sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        if SAMPLE is not None:
            cache = data.prepare_cache(SAMPLE, size=32, out=Path(tmp) / "sample", progress=False)
            sets["real sample (600)"] = data.load(cache)
        sets[f"synthetic ({args.synthetic_n})"] = prepare_data("synthetic", 32, args.synthetic_n)
        print(f"narrow network at 32x32, batch 32, up to {args.epochs} epochs, patience 3, "
              f"seeds {args.seeds}: best val macro AUC, its test macro AUC")  # fmt: skip
        print(f"{'data':<22}{'flip':>6}{'smooth':>8}{'val':>8}{'test':>8}   per seed (val/test)")
        for name, celeba in sets.items():
            for flip, smoothing in COMBINATIONS:
                runs = [scores(celeba, flip, smoothing, s, args.epochs) for s in seeds]
                val, test = np.mean(runs, axis=0)
                shown = " ".join(f"{v:.3f}/{t:.3f}" for v, t in runs)
                print(f"{name:<22}{flip!s:>6}{smoothing:>8.2f}{val:>8.4f}{test:>8.4f}   {shown}",
                      flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
