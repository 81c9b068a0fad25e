"""The search spaces, each one object registered once: the only code that calls `suggest_*`.

- `seed`: the notebook's own grid of conv widths, batch sizes and learning rates.
- `wide` (default): the same widths, batch 16-256, log-uniform learning rate, dense widths,
  dropout, horizontal flips and label smoothing too.
- `demo`: the seed grid scaled down 8x (and a wide learning-rate range) for 32x32 synthetic
  faces on a laptop CPU.

To add a space, write its `suggest` function and register a `SearchSpace`; the command
line, the config check, refit and the warm starts all read `SPACES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from model.params import ModelParams
from search.errors import ConfigError

__all__ = ["SPACES", "SearchSpace", "TrialParams", "get_space"]

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
    grid: dict[str, list[Any]] | None = None  # what --sampler grid walks, if it can

    def sample(self, trial: optuna.Trial) -> TrialParams:
        """Sample one configuration for `trial`."""
        return self.params(self.suggest(trial))

    def params(self, values: dict[str, Any]) -> TrialParams:
        """The configuration of stored trial parameters (also used by refit)."""
        merged = {**self.fixed, **values}
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


def _suggest_widths(trial: optuna.Trial, widths: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    return {name: trial.suggest_categorical(name, choices) for name, choices in widths.items()}


def _suggest_seed(trial: optuna.Trial) -> dict[str, Any]:
    return {
        **_suggest_widths(trial, _NOTEBOOK_WIDTHS),
        "batch_size": trial.suggest_categorical("batch_size", _NOTEBOOK_BATCHES),
        "learning_rate": trial.suggest_categorical("learning_rate", _NOTEBOOK_LEARNING_RATES),
    }


def _suggest_wide(trial: optuna.Trial) -> dict[str, Any]:
    return {
        **_suggest_widths(trial, _NOTEBOOK_WIDTHS),
        "batch_size": trial.suggest_int("batch_size", 16, 256, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "dense1": trial.suggest_categorical("dense1", (256, 512, 1024, 2048)),
        "dense2": trial.suggest_categorical("dense2", (128, 256, 512, 1024)),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "flip": trial.suggest_categorical("flip", (False, True)),
        "label_smoothing": trial.suggest_categorical("label_smoothing", (0.0, 0.05, 0.1)),
    }


def _suggest_demo(trial: optuna.Trial) -> dict[str, Any]:
    return {
        **_suggest_widths(trial, _DEMO_WIDTHS),
        "batch_size": trial.suggest_categorical("batch_size", (32, 64, 128)),
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
