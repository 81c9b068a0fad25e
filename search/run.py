"""`python -m search.run`: run (or join, or resume) the hyperparameter search.

    python -m search.run --trials 20 [--workers W] [--storage URL] [--study NAME]
        [--data PATH|synthetic] [--image-size S] [--epochs E] [--space seed|wide|demo]
        [--sampler tpe|random|grid] [--pruner hyperband|median|none] [--seed K]
        [--metric macro|micro] [--preset demo]

`--trials N` is the study's total budget of finished trials, shared by every worker on
every machine: run the command again with the same N to continue an interrupted search,
or with a larger N to extend a finished one.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from dataclasses import fields, replace

import optuna

from common.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, print_error, run_command
from data import CelebaData
from search.config import RunConfig, apply_preset
from search.coordination.budget import budget_spent, epoch_budget
from search.coordination.devices import default_workers, worker_environment
from search.coordination.storage import (
    STORAGE_ENV,
    STORAGE_HELP,
    check_shared,
    mask_url,
    open_storage,
    resolve_storage_url,
    warn_if_password_in_argv,
)
from search.trial.study import check_study_can_resume
from search.trial.study_data import prepare_data

__all__ = ["main"]

log = logging.getLogger(__name__)

EXIT_RECYCLE = 75  # internal: this worker process is to be replaced by a fresh one


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.run",
        description="Search the CelebA CNN's hyperparameters with Optuna.",
    )
    add = parser.add_argument
    # Every default is None so a preset can tell which values the user set.
    add("--trials", type=int, help="study's total budget of finished trials (default 20, "
        "none when only --budget-epochs is given)")  # fmt: skip
    add("--budget-epochs", type=int, dest="budget_epochs", help="study's total budget of "
        "epochs over all trials and workers (default: none)")  # fmt: skip
    add("--workers", type=int, help="worker processes here (default: --workers-per-gpu per "
        "GPU; on a CPU machine one per core, each using one)")  # fmt: skip
    add("--workers-per-gpu", type=int, dest="workers_per_gpu", help="workers sharing each "
        "GPU when --workers is not given (1)")  # fmt: skip
    add("--storage", help=STORAGE_HELP)
    add("--study", help="study name (default celeba; the demo preset uses demo)")
    add("--data", help="CelebA folder or 'synthetic' (default data/celeba)")
    add("--image-size", type=int, dest="image_size", help="side of the square input (64)")
    add("--epochs", type=int, help="maximum epochs per trial (5)")
    add("--space", help="search space: seed (the notebook's), wide (default) or demo")
    add("--sampler", help="tpe (default), random or grid (walks the seed grid)")
    add("--pruner", help="hyperband (default), median or none")
    add("--metric", help="objective: macro (default, honest) or micro validation AUC")
    add("--seed", type=int, help="random seed (0)")
    add("--grace-period", type=int, dest="grace_period", help="seconds before a silent "
        "worker's trial is failed and retried (120)")  # fmt: skip
    add("--trials-per-process", type=int, dest="trials_per_process", help="trials before a "
        "worker process replaces itself to free TensorFlow's memory (10)")  # fmt: skip
    add("--no-warm-start", action="store_const", const=False, dest="warm_start",
        help="do not enqueue the notebook's two configurations first")  # fmt: skip
    add("--max-params", type=int, dest="max_params", help="train only configurations "
        "with at most this many parameters")  # fmt: skip
    add("--max-latency-ms", type=float, dest="max_latency_ms", help="train only "
        "configurations whose batch-1 prediction takes at most this long here")  # fmt: skip
    add("--preset", help="demo: synthetic faces at 32x32 and a small space")
    add("--synthetic-n", type=int, dest="synthetic_n", help=argparse.SUPPRESS)
    add("--worker-index", type=int, dest="worker_index", help=argparse.SUPPRESS)
    add("--parent-pid", type=int, dest="parent_pid", help=argparse.SUPPRESS)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    names = {f.name for f in fields(RunConfig)}
    explicit = {name for name in names if getattr(args, name, None) is not None}
    config = apply_preset(RunConfig(), args.preset, explicit)
    config = replace(config, **{name: getattr(args, name) for name in explicit})
    if "budget_epochs" in explicit and "trials" not in explicit:
        config = replace(config, trials=None)  # a budget of compute alone
    if args.workers is None:
        config = replace(config, workers=default_workers(config.workers_per_gpu))
    return replace(config, storage=resolve_storage_url(args.storage)).validate()


def main(argv: list[str] | None = None) -> int:
    """Run the search. Called with `argv` (from Python), this process never replaces itself."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # docker stop = Ctrl-C
    if args.worker_index is None:
        warn_if_password_in_argv(args.storage)
    return run_command(lambda: _run(args, in_process=argv is not None))


def _run(args: argparse.Namespace, in_process: bool) -> int:
    config = config_from_args(args)
    check_shared(config.storage)  # workers and the summary each open the storage anew
    # A worker may replace itself (exec) only when this process is the real command.
    worker_config = replace(config, trials_per_process=sys.maxsize) if in_process else config
    if args.worker_index is not None:
        return _run_one_worker(worker_config, args.worker_index, parent_pid=args.parent_pid)
    print(
        f"study {config.study!r} on {mask_url(config.storage)}: budget "
        f"{config.budget_text()}, {config.workers} worker(s), space {config.space}, "
        f"{config.epochs} epochs, "
        f"{config.image_size}px, sampler {config.sampler}, pruner {config.pruner}",
        flush=True,
    )
    # Storage and study first: a mistake there must not cost a data preparation.
    storage = open_storage(config.storage, grace_period=config.grace_period)
    check_study_can_resume(storage, config)
    data = _prepare(config)
    if config.workers == 1:
        code = _run_one_worker(worker_config, 0, data)
        if code == EXIT_RECYCLE:
            return code
    else:
        code = _run_worker_processes(config)
    if code == EXIT_OK:
        from search.summary import print_summary

        print_summary(config)
    return code


def _run_one_worker(
    config: RunConfig, index: int, data: CelebaData | None = None, parent_pid: int | None = None
) -> int:
    from search.trial.worker import run_worker  # imports Keras: only where a worker runs

    summary = run_worker(config, data or _prepare(config), index, parent_pid)
    if summary.recycle:
        print(
            f"worker {index}: {config.trials_per_process} trials done; restarting to free memory"
        )
        return EXIT_RECYCLE
    return EXIT_INTERRUPTED if summary.interrupted else EXIT_OK


def _prepare(config: RunConfig) -> CelebaData:
    return prepare_data(config.data, config.image_size, config.synthetic_n, config.seed)


def _run_worker_processes(config: RunConfig) -> int:
    """W child processes running the same command, each one worker; the URL goes by env."""
    env = {**os.environ, STORAGE_ENV: config.storage}
    children = []
    for index in range(config.workers):
        argv = [sys.executable, "-m", "search.run", *_child_arguments(config, index)]
        # Their own session: a Ctrl-C at the terminal reaches this process only, which passes
        # it on once (a second one would make a worker stop at once, mid-batch).
        child_env = {**env, **worker_environment(index, config.workers)}
        children.append(subprocess.Popen(argv, env=child_env, start_new_session=True))
    try:
        codes = [child.wait() for child in children]
    except KeyboardInterrupt:
        for child in children:
            child.send_signal(signal.SIGINT)
        for child in children:
            child.wait()
        raise
    if any(code == EXIT_INTERRUPTED for code in codes):
        return EXIT_INTERRUPTED
    failed = [i for i, code in enumerate(codes) if code != 0]
    killed = [i for i in failed if codes[i] < 0]
    if failed and failed == killed and _budget_met(config):
        # The others failed and retried the killed workers' trials: the search is complete.
        signals = ", ".join(f"{i} by {signal.Signals(-codes[i]).name}" for i in killed)
        print(f"worker(s) killed ({signals}), but the budget was met by the others")
        return EXIT_OK
    if failed:
        print_error(f"worker(s) {failed} exited with an error")
        return EXIT_SOME_FAILED
    return EXIT_OK


def _budget_met(config: RunConfig) -> bool:
    study = optuna.load_study(study_name=config.study, storage=open_storage(config.storage))
    return budget_spent(study, config.trials, epoch_budget(config))


def _child_arguments(config: RunConfig, index: int) -> list[str]:
    pairs = {
        "--trials": config.trials,
        "--budget-epochs": config.budget_epochs,
        "--study": config.study,
        "--data": config.data,
        "--image-size": config.image_size,
        "--epochs": config.epochs,
        "--space": config.space,
        "--sampler": config.sampler,
        "--pruner": config.pruner,
        "--metric": config.metric,
        "--seed": config.seed,
        "--grace-period": config.grace_period,
        "--synthetic-n": config.synthetic_n,
        "--trials-per-process": config.trials_per_process,
        "--max-params": config.max_params,
        "--max-latency-ms": config.max_latency_ms,
        "--workers": config.workers,
        "--workers-per-gpu": config.workers_per_gpu,
        "--worker-index": index,
        "--parent-pid": os.getpid(),  # a worker stops when this process is gone
    }
    flags = [] if config.warm_start else ["--no-warm-start"]
    given = {flag: value for flag, value in pairs.items() if value is not None}
    return [str(part) for pair in given.items() for part in pair] + flags


def _replace_this_process() -> None:
    """exec the same command again: a fresh process (same PID) rejoins the same study."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "search.run", *sys.argv[1:]])


if __name__ == "__main__":
    code = main()
    if code == EXIT_RECYCLE:
        _replace_this_process()
    raise SystemExit(code)
