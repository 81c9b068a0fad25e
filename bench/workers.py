"""Benchmark the worker layout on CPU (not a test): python -m bench.workers
[--budget-epochs 40] [--repeats 2] [--seed 0].

Runs the demo search (`search.run --preset demo`, 32x32 synthetic faces, TPE + Hyperband)
with the same budget of epochs as (1) one worker using every core and (2) one worker per
core, each limited to its share of the threads (`--workers N`,
search/coordination/devices.py), as the
user's own command in a fresh process, start-up included. The layouts alternate (1, 2, 2, 1,
...) so that a machine getting busier or quieter weighs on both. It prints per run the wall
time, epochs and finished trials per hour and the best validation macro AUC (the quality
the compute bought), then the ratio of the mean throughputs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from search.coordination.budget import epochs_reported
from search.coordination.devices import cpu_cores
from search.coordination.storage import open_storage
from search.trial.study_data import prepare_data


@dataclass(frozen=True)
class Run:
    workers: int
    seconds: float
    epochs: int
    trials: int
    best: float

    @property
    def epochs_per_hour(self) -> float:
        return self.epochs * 3600 / self.seconds

    @property
    def trials_per_hour(self) -> float:
        return self.trials * 3600 / self.seconds


def run_layout(storage: str, workers: int, budget: int, seed: int, repeat: int) -> Run:
    study = f"layout-{workers}w-{repeat}"
    command = [
        sys.executable, "-m", "search.run", "--preset", "demo", "--study", study,
        "--storage", storage, "--workers", str(workers), "--budget-epochs", str(budget),
        "--seed", str(seed + repeat),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    loaded = optuna.load_study(study_name=study, storage=open_storage(storage))
    trials = loaded.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    return Run(workers, seconds, epochs_reported(trials), len(finished), loaded.best_value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-epochs", type=int, default=40, dest="budget_epochs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cores = cpu_cores()
    prepare_data("synthetic", 32, 5000, 0)  # the demo's cache, so no run pays for it
    layouts = (1, cores)
    runs: list[Run] = []
    print(f"{cores} cores; demo search, --budget-epochs {args.budget_epochs} per run")
    print("workers  threads each  wall s  epochs  trials  epochs/h  trials/h  best val AUC")
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{tmp}/layouts.db"
        for repeat in range(args.repeats):
            for workers in layouts if repeat % 2 == 0 else layouts[::-1]:
                run = run_layout(storage, workers, args.budget_epochs, args.seed, repeat)
                runs.append(run)
                print(f"{run.workers:<8} {cores // run.workers:<13} {run.seconds:6.0f}  "
                      f"{run.epochs:6}  {run.trials:6}  {run.epochs_per_hour:8.0f}  "
                      f"{run.trials_per_hour:8.0f}  {run.best:.4f}", flush=True)  # fmt: skip
    means = {
        workers: (
            _mean([r.epochs_per_hour for r in runs if r.workers == workers]),
            _mean([r.trials_per_hour for r in runs if r.workers == workers]),
            _mean([r.best for r in runs if r.workers == workers]),
        )
        for workers in layouts
    }
    for workers, (epochs, trials, best) in means.items():
        print(f"mean, {workers} worker(s): {epochs:.0f} epochs/h, {trials:.0f} trials/h, "
              f"best val macro AUC {best:.4f}")  # fmt: skip
    one, many = means[1], means[cores]
    print(f"{cores} workers x 1 thread against 1 worker x {cores} threads: "
          f"{many[0] / one[0]:.2f}x epochs/h, {many[1] / one[1]:.2f}x trials/h")  # fmt: skip
    return 0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


if __name__ == "__main__":
    raise SystemExit(main())
