"""Benchmark the search (not a test): python -m bench.search [--trials 20] [--epochs 8]
[--seeds 0,1,2] [--latency-seed 0] [--latency-shares 0.5].

On the demo's synthetic faces (32x32, the demo space), for each seed and the same budget of
epochs (trials x epochs), it runs
(a) the notebook's way: random configurations, every one trained for all epochs, no pruning;
(b) our default: TPE (the notebook's two configurations enqueued) and Hyperband, bounded by
    --budget-epochs alone.
It prints, per seed and on average, the best val macro AUC after 25%, 50% and 100% of the
budget (epochs counted in completion order) and the share of the budget (b) needed to come
within 0.005 of (a)'s final best (targets, on average: <= 40%, and (b)'s final best >= (a)'s).
For `--latency-seed` it also runs (c): (b) with --max-latency-ms at half (or each of
--latency-shares) of the latency of (a)'s best model, and prints its best val AUC and
latency, or the fastest configuration it measured if none met the limit. And the share of
trial time spent outside train() and test scoring (target under 2%).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import optuna
from optuna.trial import TrialState

from common.cli import fig
from search.coordination.storage import open_storage
from search.run import main as run_search
from search.trial.records import TrialRecord

TOLERANCE = 0.005


def run(storage: str, study: str, args: list[str]) -> optuna.Study:
    started = time.perf_counter()
    if run_search(["--preset", "demo", "--study", study, "--storage", storage, *args]) != 0:
        raise SystemExit(f"search {study} failed")
    print(f"  {study}: {time.perf_counter() - started:.0f} s wall", flush=True)
    return optuna.load_study(study_name=study, storage=open_storage(storage))


def finished_in_order(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    trials = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    return sorted(trials, key=lambda t: t.datetime_complete)


def epochs_to_reach(study: optuna.Study, target: float) -> int | None:
    """Epochs spent (in completion order) until a COMPLETE trial reached `target`."""
    spent = 0
    for trial in finished_in_order(study):
        spent += len(trial.intermediate_values)
        if trial.state == TrialState.COMPLETE and trial.value >= target:
            return spent
    return None


def best_within(study: optuna.Study, epochs: int) -> float | None:
    """The best value of COMPLETE trials finished while at most `epochs` had been spent."""
    spent, best = 0, None
    for trial in finished_in_order(study):
        spent += len(trial.intermediate_values)
        if spent > epochs:
            break
        if trial.state == TrialState.COMPLETE and (best is None or trial.value > best):
            best = trial.value
    return best


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
    from search.trial.space import SPACES

    demo = SPACES["demo"]
    params = demo.params(demo.warm_starts[0]).model
    build_model(params, 32, 40)  # the first build pays for imports and graph set-up
    keras.backend.clear_session()
    started = time.perf_counter()
    build_model(params, 32, 40)
    return time.perf_counter() - started


SHARES = (0.25, 0.5, 1.0)


def compare(
    storage: str, seed: int, trials: int, epochs: int, latency_shares: list[float]
) -> dict:
    """Run (a) and (b) (and (c) per latency share) for one seed; print and return figures."""
    budget = trials * epochs
    common = ["--seed", str(seed), "--epochs", str(epochs)]
    print(f"seed {seed}: (a) random, no pruning, {trials} trials x {epochs} epochs")
    baseline = ["--sampler", "random", "--pruner", "none", "--no-warm-start"]
    notebook = run(storage, f"a-random-{seed}", [*common, "--trials", str(trials), *baseline])
    print(f"seed {seed}: (b) TPE + Hyperband, --budget-epochs {budget}")
    ours = run(storage, f"b-default-{seed}", [*common, "--budget-epochs", str(budget)])
    target = notebook.best_value - TOLERANCE
    reached = epochs_to_reach(ours, target)
    figures = {
        "a": [best_within(notebook, round(share * budget)) for share in SHARES],
        "b": [best_within(ours, round(share * budget)) for share in SHARES],
        "share": None if reached is None else reached / budget,
    }
    print(f"\nseed {seed}: best val macro AUC at 25% / 50% / 100% of {budget} epochs")
    for name in ("a", "b"):
        print(f"  ({name}) " + " / ".join(f"{fig(v):6}" for v in figures[name]))
    shown = "never" if reached is None else f"{reached} epochs, {figures['share']:.0%}"
    print(f"  (b) came within {TOLERANCE} of (a)'s final best (>= {target:.4f}) after {shown}")
    for name, study in (("(a)", notebook), ("(b)", ours)):
        outside, share = outside_training_share(study)
        print(f"  {name} time outside train() and test scoring: {outside:.1f} s, "
              f"{share:.2%} of trial time (target < 2%)")  # fmt: skip
    for share in latency_shares:
        args = [*common, "--budget-epochs", str(budget)]
        run_constrained(storage, seed, args, notebook, share)
    return figures


def run_constrained(
    storage: str, seed: int, args: list[str], notebook: optuna.Study, share: float
) -> None:
    """(c): (b) with --max-latency-ms at `share` of (a)'s best model's latency."""
    best_latency = TrialRecord.of(notebook.best_trial).latency_ms
    limit = best_latency * share
    print(f"seed {seed}: (c) (b) with --max-latency-ms {limit:.3f} ({share:g} x (a)'s best)")
    study = f"c-latency-{seed}-{share:g}"
    limited = run(storage, study, [*args, "--max-latency-ms", f"{limit:.4f}"])
    of_a = f"(a)'s best {notebook.best_value:.4f} at {best_latency:.3f} ms"
    trained = limited.get_trials(states=(TrialState.COMPLETE,))
    if not trained:
        measured = [TrialRecord.of(t).latency_ms for t in limited.trials]
        fastest = min((ms for ms in measured if ms is not None), default=None)
        shown = "none measured" if fastest is None else f"fastest {fastest:.3f} ms"
        print(f"  (c) no configuration met {limit:.3f} ms ({len(measured)} tried, {shown}; "
              f"{of_a})")  # fmt: skip
        return
    best = max(trained, key=lambda t: t.value)
    print(f"  (c) best val macro AUC {best.value:.4f} at "
          f"{TrialRecord.of(best).latency_ms:.3f} ms (limit {limit:.3f} ms; {of_a})")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--latency-seed", type=int, default=0, dest="latency_seed",
                        help="the seed that also runs (c); -1: none")  # fmt: skip
    parser.add_argument("--latency-shares", default="0.5", dest="latency_shares",
                        help="(c)'s limits as shares of (a)'s best latency: 0.5,0.8")  # fmt: skip
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{tmp}/bench.db"
        shares = {args.latency_seed: [float(s) for s in args.latency_shares.split(",")]}
        results = [
            compare(storage, seed, args.trials, args.epochs, shares.get(seed, []))
            for seed in seeds
        ]
    print(f"\nmodel build (inside train()): {model_build_seconds():.2f} s per trial")
    print(f"\nover seeds {args.seeds}: mean best val macro AUC at 25% / 50% / 100%")
    for name in ("a", "b"):
        means = [_mean([r[name][i] for r in results]) for i in range(len(SHARES))]
        print(f"  ({name}) " + " / ".join(f"{fig(v):6}" for v in means))
    shares = [r["share"] for r in results]
    if None in shares:
        print(f"  (b) did not reach (a)'s best on {shares.count(None)} seed(s)")
    else:
        print(f"  (b) share of the budget to reach (a)'s best: {sum(shares) / len(shares):.0%} "
              "(target <= 40%)")  # fmt: skip
    return 0


def _mean(values: list[float | None]) -> float | None:
    return None if None in values else sum(values) / len(values)


if __name__ == "__main__":
    raise SystemExit(main())
