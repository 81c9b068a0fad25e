"""A whole trial as the search runs it, against the same network trained the plain way.

Both train the demo space's first warm start (conv 8, 16, 32, 64; dense 128, 64; batch 32;
lr 1e-3) for --epochs epochs on synthetic 32x32 images (4,000 train, 500 val, 500 test by
default) and are timed from model build to the trial's end (training returned, the test
split predicted and scored; for ours also the trial's record written), each in a fresh
process, the variants alternating round by round so that the machine's load touches all:

  ours     `search.trial.objective.Objective` on a one-trial in-memory study, in the environment
           `search.run` gives its first worker (its thread budget, the default backend);
  search   ours on every worker `search.run` starts on this machine (one per core), all
           at once: how a search spends the machine. Its time per trial is the span from
           the first worker's start to the last one's end, divided by the workers;
  plain    `keras.Model.fit` on uint8 arrays, TensorFlow backend, default threads, the val
           split predicted (`model.predict`) and scored after every epoch, one trial at a
           time on the whole machine, as a notebook runs them.

Every run starts with an empty JAX compilation cache, as a new configuration in a search
does. --backends adds `ours` on named backends (e.g. `jax,tensorflow`) to compare them. Each
row also gives the trial's CPU time (user, system) and its busy threads (thread name and
its share of the process's CPU time), read from /proc. It ends with the CPU model and each round's
ratio plain / ours, of wall time and of CPU time (user + system; steadier under load).

    python -m bench.trial                       # 2 rounds of search, ours and plain
    python -m bench.trial --rounds 3 --backends jax,tensorflow
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from search.coordination.devices import default_workers, worker_environment

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
N_ATTRS = 40
IMAGE_SIZE = 32
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    """`lscpu`'s model name, family and whether the CPU has AVX-512."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields: dict[str, str] = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name", platform.processor() or "unknown CPU")
    avx512 = "avx512f" in fields.get("flags", "").split()
    return (
        f"{name}, family {fields.get('cpu family', '?')}, {os.cpu_count()} CPUs, "
        f"AVX-512 {'yes' if avx512 else 'no'}"
    )


def thread_seconds() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of each thread of this process, by thread id."""
    threads = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        threads[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return threads


class Meter:
    """Wall time, this process's user and system CPU time, and per-thread CPU from start."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.clock = time.time()  # comparable across processes (the search's workers)
        self.usage = resource.getrusage(resource.RUSAGE_SELF)
        self.threads = thread_seconds()

    def figures(self, wall_end: float) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        user = usage.ru_utime - self.usage.ru_utime
        system = usage.ru_stime - self.usage.ru_stime
        busy = []
        for tid, (name, seconds) in thread_seconds().items():
            used = seconds - self.threads.get(tid, (name, 0.0))[1]
            # shares of the process's CPU time: on a loaded machine wall time says little
            if used > 0.05 * (user + system):
                busy.append((name, round(used / (user + system), 2)))
        return {
            "seconds": wall_end - self.wall,
            "ended": self.clock + wall_end - self.wall,
            "started": self.clock,
            "user": user,
            "system": system,
            "busy_threads": sorted(busy, key=lambda b: -b[1]),
        }


def synthetic_data(n_train: int, n_val: int, seed: int = 0):
    """Random uint8 images and 0/1 labels in memory, shaped like the cache's splits."""
    from bench.startup import Network
    from bench.startup import synthetic_data as make

    network = Network("demo", demo_params(), IMAGE_SIZE, 32, n_train, n_val)
    return make(network, seed)


def demo_params():
    from search.trial.space import get_space

    space = get_space("demo")
    return space.params(space.warm_starts[0])


def child_ours(args: argparse.Namespace) -> dict[str, Any]:
    """One trial through the search's own objective; timed to its last validation score."""
    import keras
    import optuna

    from search.trial.objective import Objective

    data = synthetic_data(args.train, args.val)
    objective = Objective(data, space="demo", epochs=args.epochs)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.enqueue_trial(demo_params_values())
    meter = Meter()
    study.optimize(objective, n_trials=1)
    ended = time.perf_counter()
    trial = study.trials[0]
    if trial.state != optuna.trial.TrialState.COMPLETE:
        raise RuntimeError(f"the trial ended {trial.state.name}")
    return {
        **meter.figures(ended),
        "backend": keras.backend.backend(),
        "val_macro_auc": trial.value,
        "epochs": len(trial.intermediate_values),
    }


def demo_params_values() -> dict[str, Any]:
    """The demo's first warm start as the study stores it (powers of two as exponents)."""
    from search.trial.space import encoded, get_space

    return encoded(get_space("demo").warm_starts[0])


def child_plain(args: argparse.Namespace) -> dict[str, Any]:
    """The network as a Keras user writes it: fit on uint8 arrays, predict val each epoch,
    predict test at the end."""
    import keras

    from model.metrics import evaluate

    data = synthetic_data(args.train, args.val)
    p = demo_params().model
    names = data.attr_names
    x_val, y_val = data.val.images, data.val.labels
    scores: list[float] = []

    class ValScore(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            probs = self.model.predict(x_val, verbose=0)
            scores.append(evaluate(y_val, probs, names).macro_auc)

    meter = Meter()
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    for width in p.conv_widths:
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    for units in p.dense_widths:
        x = keras.layers.Dense(units, activation="relu")(x)
        x = keras.layers.Dropout(p.dropout)(x)
    model = keras.Model(inputs, keras.layers.Dense(N_ATTRS, activation="sigmoid")(x))
    model.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss="binary_crossentropy")
    keras.utils.set_random_seed(0)
    model.fit(
        data.train.images,
        data.train.labels,
        batch_size=demo_params().batch_size,
        epochs=args.epochs,
        callbacks=[ValScore()],
        verbose=0,
    )
    evaluate(data.test.labels, model.predict(data.test.images, verbose=0), names)
    return {
        **meter.figures(time.perf_counter()),
        "backend": keras.backend.backend(),
        "val_macro_auc": scores[-1],
        "epochs": len(scores),
    }


def run_children(variant: str, args: argparse.Namespace, workers: int) -> list[dict[str, Any]]:
    """`variant` in fresh processes, their figures: one process for "plain", "ours" and
    "ours:<backend>"; for "search", ours on every one of `workers` workers at once, each in
    the environment `search.run` gives it, as a search runs its trials."""
    command = [
        sys.executable,
        "-m",
        "bench.trial",
        "--child",
        "plain" if variant == "plain" else "ours",
    ]
    command += ["--epochs", str(args.epochs), "--train", str(args.train), "--val", str(args.val)]
    environments = []
    if variant == "plain":
        environments.append(os.environ | {"KERAS_BACKEND": "tensorflow"})
    elif variant == "search":
        environments += [os.environ | worker_environment(i, workers) for i in range(workers)]
    else:
        environment = os.environ | worker_environment(0, workers)
        if ":" in variant:
            environment["KERAS_BACKEND"] = variant.split(":", 1)[1]
        environments.append(environment)
    # an empty JAX compilation cache for each run: in a search nearly every trial is a new
    # configuration, whose programs no earlier process compiled
    caches = [tempfile.TemporaryDirectory(prefix="bench-trial-jax-") for _ in environments]
    for environment, cache in zip(environments, caches, strict=True):
        environment["JAX_COMPILATION_CACHE_DIR"] = cache.name
    children = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for env in environments
    ]
    figures = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"{variant} failed:\n{err[-3000:]}")
        figures.append(json.loads(out.strip().splitlines()[-1]))
    for cache in caches:
        cache.cleanup()
    return figures


def row(variant: str, figures: dict[str, Any]) -> str:
    cpu = figures["user"] + figures["system"]
    threads = ", ".join(f"{name} {share:.2f}" for name, share in figures["busy_threads"][:4])
    return (
        f"{variant:16} {figures['backend']:10} {figures['seconds']:8.1f} "
        f"{figures['user']:7.1f} {figures['system']:6.1f} {100 * figures['system'] / cpu:5.1f}% "
        f"{figures['val_macro_auc']:7.4f}  {threads}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train", type=int, default=4000, help="training images")
    parser.add_argument("--val", type=int, default=500, help="val (and test) images")
    parser.add_argument(
        "--backends", default="",
        help="also run ours on these backends, e.g. jax,tensorflow (default: ours as is)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=None,
        help="the worker layout whose first worker's threads ours gets (default: search.run's)",
    )  # fmt: skip
    parser.add_argument("--child", choices=("ours", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        figures = (child_ours if args.child == "ours" else child_plain)(args)
        print(json.dumps(figures))
        return 0

    workers = args.workers or default_workers()
    variants = ["ours", *(f"ours:{b}" for b in args.backends.split(",") if b), "plain"]
    if workers > 1:
        variants.insert(0, "search")
    print(f"CPU: {cpu_model()}")
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"trial: demo warm start {demo_params_values()}, {args.epochs} epochs, "
        f"{args.train}/{args.val}/{args.val} images of {IMAGE_SIZE}x{IMAGE_SIZE}; ours gets "
        f"worker 0 of {workers}'s environment {worker_environment(0, workers)}"
    )
    print(f"{'variant':16} {'backend':10} {'seconds':>8} {'user':>7} {'system':>6} "
          f"{'sys %':>6} {'val AUC':>7}  busy threads (share of CPU time)")  # fmt: skip
    # per trial: for "search", its workers' span (first start to last end) and CPU time
    # divided by the trials they ran at once
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        order = variants if round_ % 2 == 0 else variants[::-1]
        for variant in order:
            runs = run_children(variant, args, workers)
            span = max(f["ended"] for f in runs) - min(f["started"] for f in runs)
            seconds[variant].append(span / len(runs))
            cpu[variant].append(sum(f["user"] + f["system"] for f in runs) / len(runs))
            for number, figures in enumerate(runs):
                name = f"{variant} w{number}" if variant == "search" else variant
                print(row(name, figures), flush=True)
    print(f"load average at end: {os.getloadavg()}")
    for variant, times in seconds.items():
        print(f"{variant:16} median {statistics.median(times):6.1f} s per trial, "
              f"range {min(times):.1f}-{max(times):.1f} s")  # fmt: skip
    for variant in variants[:-1]:
        ratios = [p / o for p, o in zip(seconds["plain"], seconds[variant], strict=True)]
        cpu_ratios = [p / o for p, o in zip(cpu["plain"], cpu[variant], strict=True)]
        print(
            f"plain / {variant}: wall "
            + ", ".join(f"{r:.2f}x" for r in ratios)
            + "; CPU "
            + ", ".join(f"{r:.2f}x" for r in cpu_ratios)
            + " (per trial, per round)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
