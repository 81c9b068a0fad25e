"""What one search run does, as a frozen config; presets are config as code."""

from __future__ import annotations

from dataclasses import dataclass, replace

from common.paths import CELEBA, DEFAULT_STORAGE
from search.coordination.storage import GRACE_PERIOD_S, parse_url, sqlite_path
from search.errors import ConfigError
from search.trial.space import SPACES

__all__ = [
    "DEFAULT_STUDY",
    "METRICS",
    "PRUNERS",
    "SAMPLERS",
    "RunConfig",
    "apply_preset",
    "check_study_name",
]

DEFAULT_STUDY = "celeba"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("hyperband", "median", "none")
METRICS = ("macro", "micro")
# Infeasible trials cost a latency measurement (about a second), not epochs: allow five per
# fully trained trial the epoch budget pays for, and at least 20.
UNTRAINED_PER_TRIAL = 5
UNTRAINED_MIN = 20


@dataclass(frozen=True)
class RunConfig:
    # the study's budget of finished (COMPLETE + PRUNED) trials; None: only epochs limit it
    trials: int | None = 20
    budget_epochs: int | None = None  # the study's budget of epochs over all trials
    workers: int = 1  # worker processes on this machine
    workers_per_gpu: int = 1  # the default --workers on a GPU machine: this many per GPU
    storage: str = DEFAULT_STORAGE
    study: str = DEFAULT_STUDY
    data: str = str(CELEBA)  # a CelebA folder, or "synthetic"
    image_size: int = 64
    epochs: int = 5  # the notebook trained each configuration for 5 epochs
    space: str = "wide"
    sampler: str = "tpe"
    pruner: str = "hyperband"
    metric: str = "macro"  # the honest objective; "micro" is the notebook's number
    seed: int = 0
    synthetic_n: int = 5000  # faces generated when data is "synthetic"
    grace_period: int = GRACE_PERIOD_S  # seconds without a heartbeat before a trial is failed
    warm_start: bool = True  # enqueue the notebook's baseline and best configurations
    max_failures: int = 5  # consecutive failed trials after which a worker gives up
    # TensorFlow keeps ~20 MB per model built in a process (keras#17458): a worker process
    # replaces itself after this many trials so its memory stays bounded.
    trials_per_process: int = 10
    # deployable search: configurations over these are recorded and never trained
    max_params: int | None = None
    max_latency_ms: float | None = None  # batch-1 prediction on the worker's device

    def validate(self) -> RunConfig:
        if self.trials is None and self.budget_epochs is None:
            raise ConfigError("give --trials, --budget-epochs or both")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"--trials must be at least 1, got {self.trials}")
        if self.budget_epochs is not None and self.budget_epochs < 1:
            raise ConfigError(f"--budget-epochs must be at least 1, got {self.budget_epochs}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.workers_per_gpu < 1:
            raise ConfigError(f"--workers-per-gpu must be at least 1, got {self.workers_per_gpu}")
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {self.epochs}")
        if self.max_params is not None and self.max_params < 1:
            raise ConfigError(f"--max-params must be at least 1, got {self.max_params}")
        if self.max_latency_ms is not None and not self.max_latency_ms > 0:
            raise ConfigError(f"--max-latency-ms must be positive, got {self.max_latency_ms}")
        if not 16 <= self.image_size <= 256 or self.image_size % 16:
            raise ConfigError(
                f"--image-size must be a multiple of 16 in 16..256, got {self.image_size}"
            )
        check_study_name(self.study)
        if self.workers > 1 and _in_memory(self.storage):
            raise ConfigError(
                "an in-memory SQLite storage lives in one process: with --workers "
                f"{self.workers} use a file (sqlite:///studies/NAME.db) or PostgreSQL"
            )
        if self.trials_per_process < 1:
            raise ConfigError(
                f"--trials-per-process must be at least 1, got {self.trials_per_process}"
            )
        if self.grace_period < 5:
            raise ConfigError(
                f"--grace-period must be at least 5 seconds, got {self.grace_period}"
            )
        for name, value, allowed in (
            ("--space", self.space, tuple(SPACES)),
            ("--sampler", self.sampler, SAMPLERS),
            ("--pruner", self.pruner, PRUNERS),
            ("--metric", self.metric, METRICS),
        ):
            if value not in allowed:
                raise ConfigError(f"unknown {name} {value!r}: choose one of {', '.join(allowed)}")
        if self.sampler == "grid" and SPACES[self.space].grid is None:
            with_grid = ", ".join(name for name, space in SPACES.items() if space.grid)
            raise ConfigError(f"--sampler grid needs a space with a grid: --space {with_grid}")
        return self

    @property
    def expected_trials(self) -> int:
        """The trial budget, or with only an epoch budget how many full trials it pays for."""
        if self.trials is not None:
            return self.trials
        return max(1, self.budget_epochs // self.epochs)

    @property
    def untrained_limit(self) -> int | None:
        """Under a budget of epochs, how many infeasible trials end the search: they spend
        no epoch, so where (almost) nothing is feasible sampling would otherwise never end."""
        if self.max_params is None and self.max_latency_ms is None:
            return None
        return max(UNTRAINED_MIN, UNTRAINED_PER_TRIAL * self.expected_trials)

    def budget_text(self) -> str:
        parts = [] if self.trials is None else [f"{self.trials} finished trials"]
        if self.budget_epochs is not None:
            parts.append(f"{self.budget_epochs} epochs")
        return " and ".join(parts)


# The demo: synthetic faces at 32x32 and the notebook's space scaled down 8x, so 20 trials
# with pruning finish in about ten minutes on two CPU cores.
_DEMO = {
    "study": "demo",
    "data": "synthetic",
    "image_size": 32,
    "epochs": 8,
    "space": "demo",
    "synthetic_n": 5000,
}
PRESETS = {"demo": _DEMO}


def check_study_name(name: str) -> None:
    """A study name also names files and folders (lock file, export, report): no separators."""
    if not name.strip() or any(c in name for c in "/\\\0") or name.startswith("."):
        raise ConfigError(
            f"study name {name!r} must be non-empty, not start with '.', and hold no '/' or '\\'"
        )


def _in_memory(url: str) -> bool:
    return parse_url(url).get_backend_name() == "sqlite" and sqlite_path(url) is None


def apply_preset(config: RunConfig, preset: str | None, explicit: set[str]) -> RunConfig:
    """`config` with the preset's values, except for the fields the user set explicitly."""
    if preset is None:
        return config
    if preset not in PRESETS:
        raise ConfigError(f"unknown --preset {preset!r}: choose one of {', '.join(PRESETS)}")
    values = {k: v for k, v in PRESETS[preset].items() if k not in explicit}
    return replace(config, **values)
