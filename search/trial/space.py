"""The search spaces, each one object registered once: the only code that calls `suggest_*`.

- `seed`: the notebook's own grid of conv widths, batch sizes and learning rates.
- `wide` (default): the same widths, batch 16-256, log-uniform learning rate, dense widths,
  dropout, horizontal flips and label smoothing too.
- `demo`: the seed grid scaled down 8x (and a wide learning-rate range) for 32x32 synthetic
  faces on a laptop CPU.

Widths and batch sizes are powers of two sampled as ordered integers, their exponents
(`log2_c1` = 6 for 64 channels): TPE, the dashboard's plots and the report see that 64 lies
between 32 and 128, which a categorical parameter hides. `decoded` turns stored parameters
(these, or an older study's categorical `c1` = 64) into the values a network is built from.

To add a space, write its `suggest` function and register a `SearchSpace`; the command
line, the config check, refit and the warm starts all read `SPACES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from model import ModelParams
from search.errors import ConfigError

__all__ = ["SPACES", "SearchSpace", "TrialParams", "decoded", "encoded", "get_space"]

LOG2 = "log2_"  # the stored name of a power of two is its exponent's: log2_c1
_POWERS = ("c1", "c2", "c3", "c4", "dense1", "dense2", "batch_size")

_NOTEBOOK_WIDTHS = {
    "c1": (32, 64, 128),
    "c2": (64, 128, 256),
    "c3": (128, 256, 512),
    "c4": (256, 512, 1024),
}
_DEMO_WIDTHS = {name: tuple(w // 8 for w in widths) for name, widths in _NOTEBOOK_WIDTHS.items()}
_NOTEBOOK_BATCHES = (16, 32, 64)
_NOTEBOOK_LEARNING_RATES = (1e-3, 1e-4)

# The notebook's baseline and its best configuration, enqueued once per study.
_NOTEBOOK_BASELINE = {"c1": 64, "c2": 128, "c3": 256, "c4": 512, "batch_size": 32,
                      "learning_rate": 1e-3}  # fmt: skip
_NOTEBOOK_BEST = {"c1": 64, "c2": 256, "c3": 512, "c4": 512, "batch_size": 64,
                  "learning_rate": 1e-4}  # fmt: skip


@dataclass(frozen=True)
class TrialParams:
    """What one trial trains: the network's parameters and the batch size."""

    model: ModelParams
    batch_size: int


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str  # one line for --help
    suggest: Callable[[optuna.Trial], dict[str, Any]]  # samples every parameter it varies
    # values of the network's parameters that the space does not sample
    fixed: dict[str, Any] = field(default_factory=dict)
    warm_starts: tuple[dict[str, Any], ...] = ()  # enqueued once per study
    # what --sampler grid walks, if it can, in the values the network is built from
    grid: dict[str, list[Any]] | None = None

    def sample(self, trial: optuna.Trial) -> TrialParams:
        """Sample one configuration for `trial`."""
        return self.params(self.suggest(trial))

    def stored_grid(self) -> dict[str, list[Any]] | None:
        """The grid as GridSampler must see it: in stored names and values."""
        if self.grid is None:
            return None
        grid: dict[str, list[Any]] = {}
        for name, values in self.grid.items():
            for value in values:
                ((stored_name, stored_value),) = encoded({name: value}).items()
                grid.setdefault(stored_name, []).append(stored_value)
        return grid

    def params(self, values: dict[str, Any]) -> TrialParams:
        """The configuration of stored trial parameters, either form (also used by refit)."""
        merged = {**self.fixed, **decoded(values)}
        defaults = ModelParams()
        model = ModelParams(
            conv_widths=tuple(int(merged[c]) for c in ("c1", "c2", "c3", "c4")),
            dense_widths=(
                int(merged.get("dense1", defaults.dense_widths[0])),
                int(merged.get("dense2", defaults.dense_widths[1])),
            ),
            dropout=float(merged.get("dropout", defaults.dropout)),
            learning_rate=float(merged["learning_rate"]),
            flip=bool(merged.get("flip", defaults.flip)),
            label_smoothing=float(merged.get("label_smoothing", defaults.label_smoothing)),
        )
        return TrialParams(model=model, batch_size=int(merged["batch_size"]))


def decoded(params: dict[str, Any]) -> dict[str, Any]:
    """Stored parameters as the values a network is built from: `log2_c1` 6 becomes `c1` 64;
    an older study's categorical `c1` 64 stays as it is."""
    return {
        name.removeprefix(LOG2): 2 ** int(value) if name.startswith(LOG2) else value
        for name, value in params.items()
    }


def encoded(values: dict[str, Any]) -> dict[str, Any]:
    """Values (a warm start, a grid point) as they are stored: powers of two as exponents."""
    return {
        (LOG2 + name if name in _POWERS else name): (
            _exponent(value) if name in _POWERS else value
        )
        for name, value in values.items()
    }


def _exponent(value: int) -> int:
    exponent = int(value).bit_length() - 1
    if 2**exponent != value:
        raise ValueError(f"{value} is not a power of two")
    return exponent


def _suggest_power(trial: optuna.Trial, name: str, low: int, high: int) -> int:
    """A power of two from `low` to `high`, sampled as an ordered integer exponent."""
    return 2 ** trial.suggest_int(LOG2 + name, _exponent(low), _exponent(high))


def _suggest_widths(trial: optuna.Trial, widths: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    return {name: _suggest_power(trial, name, min(w), max(w)) for name, w in widths.items()}


def _suggest_seed(trial: optuna.Trial) -> dict[str, Any]:
    return {
        **_suggest_widths(trial, _NOTEBOOK_WIDTHS),
        "batch_size": _suggest_power(trial, "batch_size", 16, 64),
        "learning_rate": trial.suggest_categorical("learning_rate", _NOTEBOOK_LEARNING_RATES),
    }


def _suggest_wide(trial: optuna.Trial) -> dict[str, Any]:
    return {
        **_suggest_widths(trial, _NOTEBOOK_WIDTHS),
        "batch_size": _suggest_power(trial, "batch_size", 16, 256),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "dense1": _suggest_power(trial, "dense1", 256, 2048),
        "dense2": _suggest_power(trial, "dense2", 128, 1024),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "flip": trial.suggest_categorical("flip", (False, True)),
        "label_smoothing": trial.suggest_categorical("label_smoothing", (0.0, 0.05, 0.1)),
    }


def _suggest_demo(trial: optuna.Trial) -> dict[str, Any]:
    return {
        **_suggest_widths(trial, _DEMO_WIDTHS),
        "batch_size": _suggest_power(trial, "batch_size", 32, 128),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
    }


def _demo_scaled(start: dict[str, Any]) -> dict[str, Any]:
    return {**start, **{c: start[c] // 8 for c in _DEMO_WIDTHS}}


_NOTEBOOK_DENSE = {"dense1": 1024, "dense2": 512, "dropout": 0.5}
_PLAIN = {"flip": False, "label_smoothing": 0.0}

SPACES: dict[str, SearchSpace] = {
    space.name: space
    for space in (
        SearchSpace(
            name="seed",
            description="the notebook's grid of widths, batch sizes and learning rates",
            suggest=_suggest_seed,
            warm_starts=(_NOTEBOOK_BASELINE, _NOTEBOOK_BEST),
            grid={
                **{name: list(w) for name, w in _NOTEBOOK_WIDTHS.items()},
                "batch_size": list(_NOTEBOOK_BATCHES),
                "learning_rate": list(_NOTEBOOK_LEARNING_RATES),
            },
        ),
        SearchSpace(
            name="wide",
            description="the notebook's widths, batch 16-256, any learning rate, dense "
            "widths, dropout, flips and label smoothing",
            suggest=_suggest_wide,
            warm_starts=tuple(
                {**start, **_NOTEBOOK_DENSE, **_PLAIN}
                for start in (_NOTEBOOK_BASELINE, _NOTEBOOK_BEST)
            ),
        ),
        SearchSpace(
            name="demo",
            description="the notebook's grid scaled down 8x, for 32x32 faces on a CPU",
            suggest=_suggest_demo,
            fixed={"dense1": 128, "dense2": 64},
            warm_starts=(_demo_scaled(_NOTEBOOK_BASELINE), _demo_scaled(_NOTEBOOK_BEST)),
        ),
    )
}


def get_space(name: str) -> SearchSpace:
    """The registered space `name`; ConfigError, naming the known ones, for any other."""
    if name not in SPACES:
        raise ConfigError(f"unknown search space {name!r}: choose one of {', '.join(SPACES)}")
    return SPACES[name]
