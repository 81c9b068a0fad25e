"""`python -m search.run`: run (or join, or resume) the hyperparameter search.

    python -m search.run --trials 20 [--workers W] [--storage URL] [--study NAME] [--preset demo]

Every other flag comes from a setting of `RunConfig` (search/config.py): see --help. `--trials
N` is the study's total budget of trained trials, shared by every worker on every machine: run
the command again with the same N to continue an interrupted search, or with a larger N to
extend a finished one. A resumed study must be asked for the settings it was created with.

With --workers W > 1 this process starts W worker processes of the same command, each given
`--worker INDEX` and the whole config as JSON in an environment variable (never rebuilt argv).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import optuna

from common.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    print_error,
    run_command,
    set_up_logging,
)
from common.native_logs import start_backend_quietly
from data import CelebaData
from search.config import (
    RunConfig,
    add_setting_flags,
    apply_preset,
    config_from_json,
    config_to_json,
    setting_fields,
)
from search.coordination.budget import budget_spent, epoch_budget
from search.coordination.devices import default_workers, worker_environment
from search.coordination.storage import (
    check_shared,
    mask_url,
    open_storage,
    resolve_storage_url,
    warn_if_password_in_argv,
)
from search.errors import ConfigError
from search.trial.study import check_study_can_resume
from search.trial.study_data import prepare_data

__all__ = ["main"]

log = logging.getLogger(__name__)

EXIT_RECYCLE = 75  # internal: this worker process is to be replaced by a fresh one
WORKER_CONFIG_ENV = "CELEBA_SEARCH_WORKER"  # internal: a worker process's config, as JSON
# internal: the deadline a one-worker command hands to the fresh process that replaces it
DEADLINE_ENV = "CELEBA_SEARCH_DEADLINE"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.run",
        description="Search the CelebA CNN's hyperparameters with Optuna.",
    )
    add_setting_flags(parser)
    parser.add_argument("--preset", help="demo: synthetic faces at 32x32 and a small space")
    # a worker process started by this command; its config arrives in WORKER_CONFIG_ENV
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    names = {spec.name for spec in setting_fields()}
    explicit = {name for name in names if getattr(args, name, None) is not None}
    config = apply_preset(RunConfig(), args.preset, explicit)
    config = replace(config, **{name: getattr(args, name) for name in explicit})
    if "budget_epochs" in explicit and "trials" not in explicit:
        config = replace(config, trials=None)  # a budget of compute alone
    if args.workers is None:
        config = replace(config, workers=default_workers(config.workers_per_gpu))
    return replace(config, storage=resolve_storage_url(args.storage)).validate()


def worker_environment_of(config: RunConfig) -> dict[str, str]:
    """What a worker process needs beside `--worker INDEX`: the config, and whom to outlive.

    By environment, not argv: the storage URL may hold a password, and the process list shows
    every command line."""
    return {WORKER_CONFIG_ENV: json.dumps({"config": config_to_json(config),
                                           "parent_pid": os.getpid()})}  # fmt: skip


def worker_config_from_environment() -> tuple[RunConfig, int]:
    """The config and the parent's PID that `worker_environment_of` handed to this process."""
    given = os.environ.get(WORKER_CONFIG_ENV)
    if given is None:
        raise ConfigError("--worker is internal: worker processes are started by search.run")
    handed = json.loads(given)
    return config_from_json(handed["config"]), handed["parent_pid"]


def main(argv: list[str] | None = None) -> int:
    """Run the search. Called with `argv` (from Python), this process never replaces itself."""
    args = build_parser().parse_args(argv)
    set_up_logging()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # docker stop = Ctrl-C
    if args.worker is None:
        warn_if_password_in_argv(args.storage)
    return run_command(lambda: _run(args, in_process=argv is not None))


def _run(args: argparse.Namespace, in_process: bool) -> int:
    if args.worker is not None:
        config, parent_pid = worker_config_from_environment()
        return _run_one_worker(config, args.worker, parent_pid=parent_pid)
    config = config_from_args(args)
    handed = _handed_deadline(config)
    check_shared(config.storage)  # workers and the summary each open the storage anew
    print(
        f"study {config.study!r} on {mask_url(config.storage)}: budget "
        f"{config.budget_text()}{_time_left_text(handed)}, {config.workers} worker(s), "
        f"space {config.space}, "
        f"{config.epochs} epochs, "
        f"{config.image_size}px, sampler {config.sampler}, pruner {config.pruner}",
        flush=True,
    )
    # --budget-minutes counts from here: preparing the data is part of this command's time
    config = _with_deadline(config, handed)
    # Storage and study first: a mistake there must not cost a data preparation.
    storage = open_storage(config.storage, grace_period=config.grace_period)
    check_study_can_resume(storage, config)
    data = _prepare(config)
    # A worker may replace itself (exec) only when this process is the real command.
    worker_config = replace(config, trials_per_process=sys.maxsize) if in_process else config
    if config.workers == 1:
        code = _run_one_worker(worker_config, 0, data)
        if code == EXIT_RECYCLE:
            if config.deadline is not None:  # the fresh process keeps this run's minutes
                os.environ[DEADLINE_ENV] = repr(config.deadline)
            return code
    else:
        code = _run_worker_processes(config)
    if code == EXIT_OK:
        from search.summary import print_summary

        print_summary(config)
    return code


def _handed_deadline(config: RunConfig) -> float | None:
    """The deadline that the process this one replaced handed on, if it applies here.

    Taken out of the environment, so that a later run in this process starts anew."""
    handed = os.environ.pop(DEADLINE_ENV, None)
    return float(handed) if handed and config.budget_minutes is not None else None


def _time_left_text(handed: float | None) -> str:
    """For the header of a process that replaced one: its minutes began before it started."""
    if handed is None:
        return ""
    return f" ({max(0.0, handed - time.time()) / 60:.1f} of them left)"


def _with_deadline(config: RunConfig, handed: float | None) -> RunConfig:
    """`config` with the time its --budget-minutes run out: the `handed` deadline, or from now."""
    if config.budget_minutes is None:
        return config
    deadline = handed if handed is not None else time.time() + 60 * config.budget_minutes
    return replace(config, deadline=deadline)


def _run_one_worker(
    config: RunConfig, index: int, data: CelebaData | None = None, parent_pid: int | None = None
) -> int:
    start_backend_quietly()  # TensorFlow's CUDA lines on a machine without a GPU
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
    """W child processes running the same command, each one worker; the config goes by env."""
    env = {**os.environ, **worker_environment_of(config)}
    children = []
    for index in range(config.workers):
        argv = [sys.executable, "-m", "search.run", "--worker", str(index)]
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
    return budget_spent(
        study, config.trials, epoch_budget(config), max_untrained=config.untrained_limit
    )


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
