"""The exported model's card: what was trained, on what data, and how well, as typed records.

`ModelCard.to_json` is the one writer and `ModelCard.from_json` the one reader. The reader
checks every field's type (and, in `__post_init__`, its range), so a card that was edited by
hand or cut short is refused in one line naming the field, never a KeyError later.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from model.errors import CardError
from model.params import ModelParams

__all__ = [
    "CARD_NAME",
    "MODEL_NAME",
    "NOTEBOOK_TEST_MICRO_AUC",
    "SAVEDMODEL_NAME",
    "AttributeScores",
    "BaseRateScores",
    "DataRecord",
    "ExportFiles",
    "ModelCard",
    "Objective",
    "SplitScores",
]

CARD_NAME = "model_card.json"
MODEL_NAME = "model.keras"
SAVEDMODEL_NAME = "saved_model"
NOTEBOOK_TEST_MICRO_AUC = 0.9583  # the notebook's best configuration on CelebA's test split

Scalar = int | float | str | bool  # a trial parameter as Optuna stores it


def _check_fraction(where: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise CardError(f"{where} must be between 0 and 1, got {value}")


def _check_positive(where: str, value: int) -> None:
    if value < 1:
        raise CardError(f"{where} must be at least 1, got {value}")


@dataclass(frozen=True)
class Objective:
    metric: str  # e.g. "validation macro AUC"
    value: float  # the trial's value in the search
    search_epochs: int | None  # most epochs a trial had in the search


@dataclass(frozen=True)
class AttributeScores:
    auc: float | None  # None: the split holds one class of this attribute
    accuracy: float  # at 0.5
    accuracy_tuned: float  # at the card's threshold

    def __post_init__(self) -> None:
        for name in ("auc", "accuracy", "accuracy_tuned"):
            _check_fraction(name, getattr(self, name))


@dataclass(frozen=True)
class SplitScores:
    micro_auc: float | None
    macro_auc: float | None
    mean_accuracy: float  # at 0.5
    mean_accuracy_tuned: float  # at the card's thresholds
    per_attribute: dict[str, AttributeScores]

    def __post_init__(self) -> None:
        for name in ("micro_auc", "macro_auc", "mean_accuracy", "mean_accuracy_tuned"):
            _check_fraction(name, getattr(self, name))


@dataclass(frozen=True)
class BaseRateScores:
    """A model that gives every image each attribute's train positive rate."""

    micro_auc: float | None
    macro_auc: float | None
    mean_accuracy: float
    per_attribute_accuracy: dict[str, float]


@dataclass(frozen=True)
class DataRecord:
    source: str  # "synthetic" or the CelebA folder
    fingerprint: str  # of the source files (data.prepare)
    cache: str
    counts: dict[str, int]  # images per split
    seed: int


@dataclass(frozen=True)
class ExportFiles:
    model: str = MODEL_NAME
    savedmodel: str | None = None  # a TensorFlow SavedModel, when Keras ran on TensorFlow

    def __post_init__(self) -> None:
        for name in (self.model, self.savedmodel):
            # the files live inside the export folder: a card must not point elsewhere
            if name is not None and (
                not name or "/" in name or "\\" in name or name in ("..", ".")
            ):
                raise CardError(f"files: {name!r} is not a file name inside the export folder")


@dataclass(frozen=True)
class ModelCard:
    study: str
    trial: int
    objective: Objective
    params: dict[str, Scalar]  # the trial's parameters as the study stored them
    model_params: ModelParams
    batch_size: int
    image_size: int
    attr_names: tuple[str, ...]  # in the model's output order
    thresholds: dict[str, float]  # decision threshold per attribute: present where p > t
    validation: SplitScores
    test: SplitScores
    base_rate_test: BaseRateScores
    epochs_trained: int
    best_epoch: int
    max_epochs: int
    patience: int
    training_seconds: float
    n_params: int
    data: DataRecord
    versions: dict[str, str | None]  # Python and the packages the model depends on
    git_commit: str | None
    notebook_test_micro_auc: float = NOTEBOOK_TEST_MICRO_AUC
    # filled in by model.export when the folder is written
    keras_backend: str = ""
    files: ExportFiles = field(default_factory=ExportFiles)
    created: str = ""

    def __post_init__(self) -> None:
        _check_positive("image_size", self.image_size)
        _check_positive("batch_size", self.batch_size)
        _check_positive("n_params", self.n_params)
        names = list(self.attr_names)
        if not names or len(set(names)) != len(names):
            raise CardError("attr_names must be distinct attribute names")
        for where, keyed in (
            ("thresholds", self.thresholds),
            ("validation.per_attribute", self.validation.per_attribute),
            ("test.per_attribute", self.test.per_attribute),
        ):
            if sorted(keyed) != sorted(names):
                raise CardError(f"{where} must have one entry per attribute in attr_names")
        for name, cut in self.thresholds.items():
            if not -1.0 <= cut <= 2.0:
                raise CardError(f"thresholds.{name} is not a probability cut: {cut}")

    def threshold_array(self) -> np.ndarray:
        """The thresholds in the model's output order."""
        return np.array([self.thresholds[name] for name in self.attr_names], dtype=np.float64)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """The card in `text`; CardError (one line, naming the field) if anything is off."""
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise CardError(f"not JSON ({err})") from None
        return _decode(cls, raw, "card")


def _decode(kind: Any, value: Any, where: str) -> Any:
    """`value` (parsed JSON) as an instance of the type `kind`, checked all the way down."""
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return _decode_dataclass(kind, value, where)
    if origin in (Union, types.UnionType):
        return _decode_union(typing.get_args(kind), value, where)
    if origin is dict:
        key_kind, value_kind = typing.get_args(kind)
        if not isinstance(value, dict):
            raise CardError(f"{where}: expected an object, got {_shown(value)}")
        return {k: _decode(value_kind, v, f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(value, list):
            raise CardError(f"{where}: expected a list, got {_shown(value)}")
        if args[-1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise CardError(f"{where}: expected {len(args)} values, got {len(value)}")
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in pairs)
    return _decode_scalar(kind, value, where)


def _decode_dataclass(kind: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise CardError(f"{where}: expected an object, got {_shown(value)}")
    hints = typing.get_type_hints(kind)
    values = {}
    for spec in dataclasses.fields(kind):
        if spec.name in value:
            values[spec.name] = _decode(hints[spec.name], value[spec.name], f"{where}.{spec.name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise CardError(f"{where}: the field {spec.name!r} is missing")
    try:
        return kind(**values)
    except CardError as err:
        raise CardError(f"{where}: {err}") from None
    except (TypeError, ValueError) as err:  # a record's own checks (ModelParams)
        raise CardError(f"{where}: {err}") from None


def _decode_union(arms: tuple, value: Any, where: str) -> Any:
    if value is None:
        if type(None) in arms:
            return None
        raise CardError(f"{where}: must not be null")
    for arm in arms:
        if arm is type(None):
            continue
        try:
            return _decode(arm, value, where)
        except CardError:
            continue
    names = " or ".join(getattr(a, "__name__", str(a)) for a in arms)
    raise CardError(f"{where}: expected {names}, got {_shown(value)}")


def _decode_scalar(kind: Any, value: Any, where: str) -> Any:
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CardError(f"{where}: expected a number, got {_shown(value)}")
        if not math.isfinite(value):
            raise CardError(f"{where}: expected a finite number, got {value}")
        return float(value)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise CardError(f"{where}: expected an integer, got {_shown(value)}")
    if kind in (str, bool) and not isinstance(value, kind):
        raise CardError(f"{where}: expected {kind.__name__}, got {_shown(value)}")
    if kind not in (int, str, bool):
        raise TypeError(f"no decoder for {kind!r}")  # a programming error in this module
    return value


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
