"""Do the card's thresholds hold on new faces? `python -m bench.thresholds [--seeds 0,1,2,3,4]`.

Per seed a narrow network is trained, thresholds are chosen on the validation split, and the
test split (faces that played no part in choosing the rule or the thresholds) is scored at
those thresholds and at 0.5. Data sets:
  real sample      ../shared/celeba-sample (90 validation, 90 test images; skipped if absent)
  synthetic N      N synthetic faces, 80/10/10, drawn anew for each seed
  synthetic large  --large-train training faces and --large-val faces for validation and as
                   many for test, drawn anew for each seed: a split where a gain can be shown
Rules, all from the same validation predictions:
  card             model.thresholds (what refit writes on the card): sign test, Bonferroni
  old cv rule      the rule before issue 23: 5 folds, held-out gain >= 2 images, no fold lost
                   (here on the card's random folds; it dealt stratified ones)
  best cut         the cut of highest validation accuracy for every attribute
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import data
from model import ModelParams, predict_proba, train
from model.thresholds import best_cuts, choose_thresholds
from tests.sample import SAMPLE

NARROW = ModelParams(conv_widths=(16, 32, 64, 128), dense_widths=(256, 128), dropout=0.3)
SIZE = 32
FACE_SEED = 1000  # synthetic faces of seed s are drawn with FACE_SEED + s, unlike any test's


@dataclasses.dataclass(frozen=True)
class Run:
    at_half: float  # test mean accuracy at 0.5
    at_rule: dict[str, float]  # test mean accuracy at each rule's thresholds
    moved: dict[str, int]  # thresholds each rule moved off 0.5


def thresholds_by_rule(labels: np.ndarray, probs: np.ndarray, names, seed: int) -> dict:
    """Each rule's 40 cuts for one validation split."""
    choices = choose_thresholds(labels, probs, names, seed=seed)
    full = best_cuts(labels, probs)
    card = np.array([choices[n].threshold for n in names])
    # the old rule's test on the card's folds (random; the old rule stratified its own)
    old = np.array(
        [
            full[j] if c.cv_gain is not None and c.cv_gain >= 2 and c.folds_lost == 0 else 0.5
            for j, c in enumerate(choices[n] for n in names)
        ]
    )
    return {"card": card, "old cv rule": old, "best cut": full}


def run(celeba: data.CelebaData, seed: int, epochs: int) -> Run:
    result = train(NARROW, celeba, epochs=epochs, batch_size=32, seed=seed, patience=3)
    val = predict_proba(result.model, celeba.val.images).astype(np.float64)
    test = predict_proba(result.model, celeba.test.images).astype(np.float64)
    positive = celeba.test.labels.astype(bool)
    rules = thresholds_by_rule(celeba.val.labels, val, celeba.attr_names, seed)
    return Run(
        at_half=float(((test > 0.5) == positive).mean()),
        at_rule={k: float(((test > cuts) == positive).mean()) for k, cuts in rules.items()},
        moved={k: int((cuts != 0.5).sum()) for k, cuts in rules.items()},
    )


def _synthetic(folder: Path, n: int, seed: int) -> data.CelebaData:
    faces = data.generate_synthetic(folder / f"faces-{n}-{seed}", n=n, seed=seed)
    return data.load(
        data.prepare_cache(faces, SIZE, out=folder / f"cache-{n}-{seed}", progress=False)
    )


def _resplit(celeba: data.CelebaData, n_train: int, n_val: int) -> data.CelebaData:
    """The same faces cut into n_train / n_val / the rest, in image order."""
    parts = (celeba.train, celeba.val, celeba.test)
    ids, images, labels = (
        np.concatenate([getattr(p, f) for p in parts]) for f in ("ids", "images", "labels")
    )
    cut = (slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, None))
    train_, val, test = (data.Split(ids[s], images[s], labels[s]) for s in cut)
    return dataclasses.replace(celeba, train=train_, val=val, test=test)


def data_sets(
    args: argparse.Namespace, folder: Path
) -> dict[str, Callable[[int], data.CelebaData]]:
    """Per data set: the data of seed s."""
    sets: dict[str, Callable[[int], data.CelebaData]] = {}
    if SAMPLE is not None:
        cache = data.prepare_cache(SAMPLE, size=SIZE, out=folder / "sample", progress=False)
        real = data.load(cache)
        sets["real sample"] = lambda seed: real
    if args.synthetic_n:
        n = args.synthetic_n
        sets[f"synthetic {n}"] = lambda seed: _synthetic(folder, n, FACE_SEED + seed)
    if args.large_val:
        n_train, n_val = args.large_train, args.large_val

        def large(seed: int) -> data.CelebaData:
            faces = _synthetic(folder, n_train + 2 * n_val, FACE_SEED + seed)
            return _resplit(faces, n_train, n_val)

        sets["synthetic large"] = large
    return sets


def _conditions(args: argparse.Namespace) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"narrow network at {SIZE}x{SIZE}, batch 32, up to {args.epochs} epochs, patience 3; "
        f"seeds {args.seeds}; {cpu}, {os.cpu_count()} cores, load {load} at start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--synthetic-n", type=int, default=2000, help="0: leave out")
    parser.add_argument("--large-val", type=int, default=3000, help="0: leave out")
    parser.add_argument("--large-train", type=int, default=1600)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.simplefilter("ignore", UserWarning)  # single-class attributes of tiny splits
    print(_conditions(args))
    print("test mean accuracy at 0.5 and at the card's thresholds; differences to 0.5 in points")
    print("(x 100: -0.10 is one wrong decision more per 1,000); tuned = thresholds moved off 0.5")
    head = f"{'data (val/test images)':<30}{'seed':>5}{'acc@0.5':>9}{'acc@card':>9}"
    print(f"{head}{'card':>8}{'tuned':>6}{'old cv':>8}{'tuned':>6}{'best cut':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in data_sets(args, Path(tmp)).items():
            diffs: list[float] = []
            for seed in seeds:
                celeba, start = make(seed), time.monotonic()
                r = run(celeba, seed, args.epochs)
                gain = {k: 100 * (v - r.at_half) for k, v in r.at_rule.items()}
                diffs.append(gain["card"])
                where = f"{label} ({len(celeba.val)}/{len(celeba.test)})"
                print(f"{where:<30}{seed:>5}{r.at_half:>9.4f}{r.at_rule['card']:>9.4f}"
                      f"{gain['card']:>+8.2f}{r.moved['card']:>6}{gain['old cv rule']:>+8.2f}"
                      f"{r.moved['old cv rule']:>6}{gain['best cut']:>+9.2f}"
                      f"   ({time.monotonic() - start:.0f} s)", flush=True)  # fmt: skip
            worst, mean = min(diffs), float(np.mean(diffs))
            met = "met" if mean >= 0 and worst >= -0.1 else "NOT met"
            print(f"{label}: card minus 0.5 mean {mean:+.3f}, worst {worst:+.3f} points "
                  f"(target: mean >= 0, worst >= -0.10): {met}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
