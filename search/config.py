"""What one search run does, as a frozen config: each setting declared once, here.

Every field of `RunConfig` carries a `Setting` (its help, whether the study stores it), and the
rest is derived from the fields: the command's flags and their help (search/run.py), the
configuration handed to worker processes (as JSON, `config_to_json`), and the settings stored
on the study and compared when it is resumed (`stored_settings`). Presets are config as code.
"""

from __future__ import annotations

import argparse
import json
import time
import typing
from dataclasses import Field, asdict, dataclass, field, fields, replace
from typing import Any

from common.paths import CELEBA, DEFAULT_STORAGE
from search.coordination.storage import GRACE_PERIOD_S, STORAGE_ENV, parse_url, sqlite_path
from search.errors import ConfigError
from search.trial.space import SPACES

__all__ = [
    "DEFAULT_STUDY",
    "METRICS",
    "PRUNERS",
    "SAMPLERS",
    "RunConfig",
    "Setting",
    "add_setting_flags",
    "apply_preset",
    "check_study_name",
    "config_from_json",
    "config_to_json",
    "setting",
    "setting_fields",
    "stored_settings",
]

DEFAULT_STUDY = "celeba"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("hyperband", "median", "none")
METRICS = ("macro", "micro")
# Infeasible trials cost a latency measurement (about a second), not epochs: allow five per
# fully trained trial the budget pays for, and at least 20.
UNTRAINED_PER_TRIAL = 5
UNTRAINED_MIN = 20
_SETTING = "setting"  # the key of a field's Setting in its metadata


@dataclass(frozen=True)
class Setting:
    """How one field of the config appears outside the code."""

    help: str
    # stored on the study when it is created; a resumed run must ask the same, since the
    # study's trials would measure something else otherwise
    stored: bool = False
    shown: str | None = None  # the default as --help states it, where the field's is not it
    hidden: bool = False  # a flag left out of --help
    flag: bool = True  # False: set in code only


def setting(default: Any, help: str, **how: Any) -> Any:
    return field(default=default, metadata={_SETTING: Setting(help, **how)})


@dataclass(frozen=True)
class RunConfig:
    trials: int | None = setting(
        20,
        "the study's budget of trained trials (complete, or pruned after training), shared by "
        "every worker on every machine; configurations that break --max-params or "
        "--max-latency-ms are recorded untrained and do not count",
        shown="20; none when only --budget-epochs is given",
    )
    budget_epochs: int | None = setting(
        None, "the study's budget of epochs over all trials and workers"
    )
    # per command, not per study: a machine that joins later brings its own minutes
    budget_minutes: float | None = setting(
        None,
        "minutes from this command's start, preparing the data included: no trial or epoch "
        "starts that would end after them, judged by the last one's length",
    )
    # when --budget-minutes runs out, as time.time(); set by search.run, handed to workers
    deadline: float | None = setting(None, "when --budget-minutes runs out", flag=False)
    workers: int = setting(
        1,
        "worker processes here",
        shown="--workers-per-gpu per GPU; on a CPU machine one per core, each using one",
    )
    workers_per_gpu: int = setting(1, "workers sharing each GPU when --workers is not given")
    storage: str = setting(
        DEFAULT_STORAGE, "SQLAlchemy URL", shown=f"${STORAGE_ENV}, else {DEFAULT_STORAGE}"
    )
    study: str = setting(DEFAULT_STUDY, "study name")
    data: str = setting(str(CELEBA), "CelebA folder or 'synthetic'", stored=True)
    image_size: int = setting(64, "side of the square input", stored=True)
    # the notebook trained each configuration for 5 epochs
    epochs: int = setting(5, "maximum epochs per trial", stored=True)
    space: str = setting(
        "wide", f"search space: {', '.join(SPACES)} (seed is the notebook's)", stored=True
    )
    sampler: str = setting(
        "tpe", f"sampler: {', '.join(SAMPLERS)} (grid walks the seed grid)", stored=True
    )
    pruner: str = setting("hyperband", f"pruner: {', '.join(PRUNERS)}", stored=True)
    # macro is the honest objective; micro is the notebook's number
    metric: str = setting("macro", "objective: macro or micro validation AUC", stored=True)
    seed: int = setting(0, "random seed", stored=True)
    synthetic_n: int = setting(
        5000, "faces generated when --data is synthetic", stored=True, hidden=True
    )
    grace_period: int = setting(
        GRACE_PERIOD_S, "seconds before a silent worker's trial is failed and retried"
    )
    warm_start: bool = setting(True, "do not enqueue the notebook's two configurations first")
    max_failures: int = setting(
        5, "consecutive failed trials after which a worker gives up", flag=False
    )
    # TensorFlow keeps ~20 MB per model built in a process (keras#17458): a worker process
    # replaces itself after this many trials so its memory stays bounded.
    trials_per_process: int = setting(
        10, "trials before a worker process replaces itself to free TensorFlow's memory"
    )
    # deployable search: configurations over these are recorded and never trained
    max_params: int | None = setting(
        None, "train only configurations with at most this many parameters", stored=True
    )
    max_latency_ms: float | None = setting(
        None,
        "train only configurations whose batch-1 prediction takes at most this long here",
        stored=True,
    )

    def validate(self) -> RunConfig:
        if self.trials is None and self.budget_epochs is None:
            raise ConfigError("give --trials, --budget-epochs or both")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"--trials must be at least 1, got {self.trials}")
        if self.budget_epochs is not None and self.budget_epochs < 1:
            raise ConfigError(f"--budget-epochs must be at least 1, got {self.budget_epochs}")
        if self.budget_minutes is not None and not self.budget_minutes > 0:
            raise ConfigError(f"--budget-minutes must be positive, got {self.budget_minutes}")
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
        """How many infeasible trials end the search: they count toward neither budget, so
        where (almost) nothing is feasible sampling would otherwise never end."""
        if self.max_params is None and self.max_latency_ms is None:
            return None
        return max(UNTRAINED_MIN, UNTRAINED_PER_TRIAL * self.expected_trials)

    def budget_text(self) -> str:
        parts = [] if self.trials is None else [f"{self.trials} trained trials"]
        if self.budget_epochs is not None:
            parts.append(f"{self.budget_epochs} epochs")
        text = " and ".join(parts)
        if self.budget_minutes is not None:
            text += f", at most {self.budget_minutes:g} minutes"
        return text

    def out_of_time(self, within_s: float = 0.0) -> bool:
        """Whether this run's --budget-minutes has run out, or will within `within_s`."""
        return self.deadline is not None and time.time() + within_s >= self.deadline


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


def setting_fields(cls: type[RunConfig] = RunConfig) -> list[Field]:
    """The fields of `cls` that are settings (all of RunConfig's)."""
    return [spec for spec in fields(cls) if _SETTING in spec.metadata]


def _setting_of(spec: Field) -> Setting:
    return spec.metadata[_SETTING]


def add_setting_flags(parser: argparse.ArgumentParser, cls: type[RunConfig] = RunConfig) -> None:
    """A flag per setting; every default is None so that a preset can tell what was given."""
    hints = typing.get_type_hints(cls)
    for spec in setting_fields(cls):
        how = _setting_of(spec)
        if not how.flag:
            continue
        flag = "--" + spec.name.replace("_", "-")
        if hints[spec.name] is bool:
            # a switch turns the default off: --no-warm-start
            flag = flag if spec.default is False else "--no-" + flag[2:]
            switch = {"action": "store_const", "const": not spec.default}
            parser.add_argument(flag, **switch, dest=spec.name, help=_help(spec, how, False))
            continue
        (kind,) = [t for t in typing.get_args(hints[spec.name]) or (hints[spec.name],)
                   if t is not type(None)]  # fmt: skip
        parser.add_argument(flag, type=kind, dest=spec.name, help=_help(spec, how))


def _help(spec: Field, how: Setting, shows_default: bool = True) -> str:
    if how.hidden:
        return argparse.SUPPRESS
    text = how.help
    if shows_default:
        default = how.shown or ("none" if spec.default is None else str(spec.default))
        presets = "".join(
            f"; --preset {name}: {values[spec.name]}"
            for name, values in PRESETS.items()
            if spec.name in values
        )
        text += f" (default: {default}{presets})"
    return text.replace("%", "%%")


def stored_settings(config: RunConfig) -> dict[str, Any]:
    """The settings the study keeps and a resumed run must match, by name."""
    return {
        spec.name: getattr(config, spec.name)
        for spec in setting_fields(type(config))
        if _setting_of(spec).stored
    }


def config_to_json(config: RunConfig) -> str:
    """The whole config as data, for a worker process (search/run.py)."""
    return json.dumps(asdict(config))


def config_from_json(text: str, cls: type[RunConfig] = RunConfig) -> RunConfig:
    return cls(**json.loads(text))
