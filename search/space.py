"""The search spaces: the only code that calls `trial.suggest_*`.

- `seed`: the notebook's own grid of conv widths, batch sizes and learning rates.
- `wide` (default): the same widths, batch 16-256, log-uniform learning rate, dense widths
  and dropout too.
- `demo`: the seed grid scaled down 8x (and a wide learning-rate range) for 32x32 synthetic
  faces on a laptop CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from model import ModelParams
from search.config import SPACES
from search.errors import ConfigError

__all__ = [
    "SPACES",
    "TrialParams",
    "grid_search_space",
    "params_from_dict",
    "suggest",
    "warm_start_params",
]


_SEED_WIDTHS = {
    "c1": (32, 64, 128),
    "c2": (64, 128, 256),
    "c3": (128, 256, 512),
    "c4": (256, 512, 1024),
}
_DEMO_WIDTHS = {name: tuple(w // 8 for w in widths) for name, widths in _SEED_WIDTHS.items()}
_SEED_BATCHES = (16, 32, 64)
_SEED_LEARNING_RATES = (1e-3, 1e-4)
_DEMO_DENSE = (128, 64)

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


def _check(space: str) -> None:
    if space not in SPACES:
        raise ConfigError(f"unknown search space {space!r}: choose one of {', '.join(SPACES)}")


def suggest(trial: optuna.Trial, space: str) -> TrialParams:
    """Sample one configuration from `space` for `trial`."""
    _check(space)
    widths = _DEMO_WIDTHS if space == "demo" else _SEED_WIDTHS
    params: dict[str, Any] = {
        name: trial.suggest_categorical(name, w) for name, w in widths.items()
    }
    if space == "seed":
        params["batch_size"] = trial.suggest_categorical("batch_size", _SEED_BATCHES)
        params["learning_rate"] = trial.suggest_categorical("learning_rate", _SEED_LEARNING_RATES)
    elif space == "wide":
        params["batch_size"] = trial.suggest_int("batch_size", 16, 256, log=True)
        params["learning_rate"] = trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True)
        params["dense1"] = trial.suggest_categorical("dense1", (256, 512, 1024, 2048))
        params["dense2"] = trial.suggest_categorical("dense2", (128, 256, 512, 1024))
        params["dropout"] = trial.suggest_float("dropout", 0.0, 0.6)
    else:
        params["batch_size"] = trial.suggest_categorical("batch_size", (32, 64, 128))
        params["learning_rate"] = trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
    return params_from_dict(params, space)


def params_from_dict(params: dict[str, Any], space: str) -> TrialParams:
    """Rebuild a trial's configuration from its stored params (used by refit)."""
    _check(space)
    defaults = ModelParams()
    dense = _DEMO_DENSE if space == "demo" else defaults.dense_widths
    model = ModelParams(
        conv_widths=(int(params["c1"]), int(params["c2"]), int(params["c3"]), int(params["c4"])),
        dense_widths=(int(params.get("dense1", dense[0])), int(params.get("dense2", dense[1]))),
        dropout=float(params.get("dropout", defaults.dropout)),
        learning_rate=float(params["learning_rate"]),
    )
    return TrialParams(model=model, batch_size=int(params["batch_size"]))


def warm_start_params(space: str) -> list[dict[str, Any]]:
    """The notebook's baseline and best, expressed in `space` (scaled down for the demo)."""
    _check(space)
    starts = [dict(_NOTEBOOK_BASELINE), dict(_NOTEBOOK_BEST)]
    for start in starts:
        if space == "demo":
            start.update({c: start[c] // 8 for c in _DEMO_WIDTHS})
        if space == "wide":
            start.update({"dense1": 1024, "dense2": 512, "dropout": 0.5})
    return starts


def grid_search_space(space: str) -> dict[str, list[Any]]:
    """The grid that `--sampler grid` walks; only the categorical spaces have one."""
    _check(space)
    if space != "seed":
        raise ConfigError(f"--sampler grid needs --space seed (the notebook's grid), not {space}")
    return {
        **{name: list(w) for name, w in _SEED_WIDTHS.items()},
        "batch_size": list(_SEED_BATCHES),
        "learning_rate": list(_SEED_LEARNING_RATES),
    }
