"""Benchmark the search (not a test): python bench/search_bench.py [--trials 20] [--epochs 6].

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
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

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
        inside = trial.user_attrs["train_seconds"] + trial.user_attrs["test_eval_seconds"]
        outside += max(wall - inside, 0.0)
        total += wall
    return outside, outside / total


def model_build_seconds() -> float:
    import keras

    from model import build_model
    from search.space import params_from_dict, warm_start_params

    params = params_from_dict(warm_start_params("demo")[0], "demo").model
    build_model(params, 32, 40)  # the first build pays for imports and graph set-up
    keras.backend.clear_session()
    started = time.perf_counter()
    build_model(params, 32, 40)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{tmp}/bench.db"
        print(f"(a) random, no pruning, {args.trials} trials x {args.epochs} epochs")
        notebook = run(storage, "a-random", args.trials, args.epochs,
                       ["--sampler", "random", "--pruner", "none", "--no-warm-start"])  # fmt: skip
        print(f"(b) TPE + Hyperband, {args.trials} trials, up to {args.epochs} epochs")
        ours = run(storage, "b-default", args.trials, args.epochs, [])
        best_a = notebook.best_value
        target = best_a - TOLERANCE
        reached_a, total_a = epochs_to_reach(notebook, target)
        reached_b, total_b = epochs_to_reach(ours, target)
        print(f"\nbest validation macro AUC: (a) {best_a:.4f}   (b) {ours.best_value:.4f}")
        print(f"epochs to come within {TOLERANCE} of (a)'s best ({target:.4f}):")
        print(f"  (a) {reached_a} of {total_a} epochs spent")
        if reached_b is None:
            print(f"  (b) not reached in {total_b} epochs")
        else:
            print(f"  (b) {reached_b} of {total_b} epochs spent")
            print(f"  ratio b/a: {reached_b / reached_a:.0%} (target <= 35%)")
        print(f"all epochs: (b)/(a) = {total_b}/{total_a} = {total_b / total_a:.0%}")
        for name, study in (("(a)", notebook), ("(b)", ours)):
            outside, share = outside_training_share(study)
            print(f"{name} time outside train() and test scoring: {outside:.1f} s, "
                  f"{share:.2%} of trial time (target < 2%)")  # fmt: skip
        print(f"model build (inside train()): {model_build_seconds():.2f} s per trial")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
