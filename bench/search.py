"""Benchmark the search (not a test): python -m bench.search [--trials 20] [--epochs 8]
[--seeds 0,1,2].

On the demo's synthetic faces (32x32, the demo space) and the same seed, it runs
(a) the notebook's way: random configurations, every one trained for all epochs, no pruning;
(b) our default: TPE sampler (with the notebook's two configurations enqueued) and Hyperband.
It prints the epochs each spent until a trial came within 0.005 of the best value (a) found,
and the ratio b/a (target: at most 35%). It also prints the share of trial time spent outside
train() and test scoring (storage, sampling, bookkeeping; target under 2%), and the model
build time, which happens inside train().
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from search.records import TrialRecord  # noqa: E402
from search.run import main as run_search  # noqa: E402
from search.storage import open_storage  # noqa: E402

TOLERANCE = 0.005


def run(storage: str, study: str, trials: int, epochs: int, extra: list[str]) -> optuna.Study:
    args = ["--preset", "demo", "--study", study, "--storage", storage]
    args += ["--trials", str(trials), "--epochs", str(epochs), *extra]
    started = time.perf_counter()
    if run_search(args) != 0:
        raise SystemExit(f"search {study} failed")
    print(f"  {study}: {time.perf_counter() - started:.0f} s wall", flush=True)
    return optuna.load_study(study_name=study, storage=open_storage(storage))


def finished_in_order(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    trials = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    return sorted(trials, key=lambda t: t.datetime_complete)


def epochs_to_reach(study: optuna.Study, target: float) -> tuple[int | None, int]:
    """Epochs spent (in completion order) until a COMPLETE trial reached `target`; and total."""
    spent, reached = 0, None
    for trial in finished_in_order(study):
        spent += len(trial.intermediate_values)
        if reached is None and trial.state == TrialState.COMPLETE and trial.value >= target:
            reached = spent
    return reached, spent


def outside_training_share(study: optuna.Study) -> tuple[float, float]:
    """Seconds outside train() and test scoring, summed over COMPLETE trials, and its share."""
    outside = total = 0.0
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        record = TrialRecord.of(trial)
        inside = record.train_seconds + record.test_eval_seconds
        outside += max(wall - inside, 0.0)
        total += wall
    return outside, outside / total


def model_build_seconds() -> float:
    import keras

    from model import build_model
    from search.space import SPACES

    demo = SPACES["demo"]
    params = demo.params(demo.warm_starts[0]).model
    build_model(params, 32, 40)  # the first build pays for imports and graph set-up
    keras.backend.clear_session()
    started = time.perf_counter()
    build_model(params, 32, 40)
    return time.perf_counter() - started


def compare(storage: str, seed: int, trials: int, epochs: int) -> tuple[int, int]:
    """Run (a) and (b) with one seed and print the figures. Returns the epochs each spent to
    reach (a)'s best; where (b) never did, all its epochs (never flattering to (b))."""
    common = ["--seed", str(seed)]
    print(f"seed {seed}: (a) random, no pruning, {trials} trials x {epochs} epochs")
    baseline = ["--sampler", "random", "--pruner", "none", "--no-warm-start"]
    notebook = run(storage, f"a-random-{seed}", trials, epochs, [*common, *baseline])
    print(f"seed {seed}: (b) TPE + Hyperband, {trials} trials, up to {epochs} epochs")
    ours = run(storage, f"b-default-{seed}", trials, epochs, common)
    target = notebook.best_value - TOLERANCE
    reached_a, total_a = epochs_to_reach(notebook, target)
    reached_b, total_b = epochs_to_reach(ours, target)
    print(f"\nseed {seed}: best validation macro AUC (a) {notebook.best_value:.4f}, "
          f"(b) {ours.best_value:.4f}")  # fmt: skip
    print(f"  epochs to come within {TOLERANCE} of (a)'s best ({target:.4f}):")
    print(f"  (a) {reached_a} of {total_a} epochs spent")
    if reached_b is None:
        print(f"  (b) not reached in {total_b} epochs")
    else:
        print(f"  (b) {reached_b} of {total_b} epochs spent: {reached_b / reached_a:.0%} of (a)'s")
    print(f"  all epochs: (b)/(a) = {total_b}/{total_a} = {total_b / total_a:.0%}")
    for name, study in (("(a)", notebook), ("(b)", ours)):
        outside, share = outside_training_share(study)
        print(f"  {name} time outside train() and test scoring: {outside:.1f} s, "
              f"{share:.2%} of trial time (target < 2%)")  # fmt: skip
    return reached_a, total_b if reached_b is None else reached_b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{tmp}/bench.db"
        results = [compare(storage, seed, args.trials, args.epochs) for seed in seeds]
    print(f"\nmodel build (inside train()): {model_build_seconds():.2f} s per trial")
    if len(seeds) > 1:
        spent_a = sum(a for a, _ in results)
        spent_b = sum(b for _, b in results)
        print(f"over seeds {args.seeds}: (b) spent {spent_b} epochs to (a)'s {spent_a} "
              f"to reach (a)'s best: {spent_b / spent_a:.0%} (target <= 35%)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
