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

from common.environment import KERAS_BACKEND_MODULES
from model.errors import CardError
from model.params import ModelParams

__all__ = [
    "CARD_NAME",
    "KERAS_BACKENDS",
    "MODEL_NAME",
    "NOTEBOOK_TEST_MICRO_AUC",
    "SAVEDMODEL_NAME",
    "TRAINING_STOPS",
    "TRUST_LEVELS",
    "AttributeScores",
    "AttributeTrust",
    "BaseRateScores",
    "DataRecord",
    "ExportFiles",
    "GroupGap",
    "GroupReport",
    "GroupSplit",
    "Interval",
    "ModelCard",
    "SearchObjective",
    "SplitIntervals",
    "SplitScores",
    "ThresholdChoice",
]

CARD_NAME = "model_card.json"
MODEL_NAME = "model.keras"
SAVEDMODEL_NAME = "saved_model"
NOTEBOOK_TEST_MICRO_AUC = 0.9583  # the notebook's best configuration on CelebA's test split

Scalar = int | float | str | bool  # a trial parameter as Optuna stores it
KERAS_BACKENDS = tuple(KERAS_BACKEND_MODULES)
TRUST_LEVELS = ("high", "medium", "low", "unknown")
# Why training stopped (model.train): it ran every epoch asked for, the patience ran out, the
# time budget did, or a callback stopped it
TRAINING_STOPS = ("epochs", "patience", "time", "callback")


def _check_fraction(where: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise CardError(f"{where} must be between 0 and 1, got {value}")


def _bounded(low: float, high: float = math.inf, **kwargs: Any) -> Any:
    """A field whose number (or each number of its dict) must lie in [low, high], or be None.

    Checked by `_check_bounds`, which every record with such a field calls in __post_init__.
    """
    return field(metadata={"bounds": (low, high)}, **kwargs)


def _check_bounds(record: Any) -> None:
    for spec in dataclasses.fields(record):
        if "bounds" not in spec.metadata:
            continue
        low, high = spec.metadata["bounds"]
        value = getattr(record, spec.name)
        items = value.items() if isinstance(value, dict) else [("", value)]
        for key, number in items:
            if number is not None and not low <= number <= high:
                where = f"{spec.name}.{key}" if key else spec.name
                span = f"at least {low}" if high == math.inf else f"between {low} and {high}"
                raise CardError(f"{where} must be {span}, got {number}")


def _check_keys(where: str, keyed: dict, names: list[str]) -> None:
    if sorted(keyed) != sorted(names):
        raise CardError(f"{where} must have one entry per attribute in attr_names")


@dataclass(frozen=True)
class SearchObjective:
    metric: str  # e.g. "validation macro AUC"
    value: float  # the trial's value in the search
    search_epochs: int | None = _bounded(1)  # most epochs a trial had in the search

    def __post_init__(self) -> None:
        _check_bounds(self)


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
class Interval:
    """A 95% bootstrap interval (percentiles 2.5 and 97.5 over resampled test images)."""

    low: float = _bounded(0, 1)
    high: float = _bounded(0, 1)

    def __post_init__(self) -> None:
        _check_bounds(self)
        if self.low > self.high:
            raise CardError(f"interval low {self.low} is above high {self.high}")


@dataclass(frozen=True)
class SplitIntervals:
    """How far a split's figures move when its images are resampled (bootstrap)."""

    resamples: int = _bounded(1)
    macro_auc: Interval | None
    micro_auc: Interval | None
    mean_accuracy: Interval  # at 0.5
    mean_accuracy_tuned: Interval  # at the card's thresholds
    per_attribute_auc: dict[str, Interval | None]  # None: too few of one class to resample

    def __post_init__(self) -> None:
        _check_bounds(self)


@dataclass(frozen=True)
class ThresholdChoice:
    """One attribute's decision threshold and the validation evidence behind it."""

    threshold: float = _bounded(-1, 2)  # present where p > threshold
    tuned: bool  # False: kept at 0.5
    reason: str  # e.g. "kept 0.5: too few positives (3 < 10)"
    positives: int = _bounded(0)  # in the validation split
    negatives: int = _bounded(0)
    cv_gain: int | None = None  # held-out images won over 0.5, summed over the folds
    folds_won: int | None = _bounded(0, default=None)
    folds_lost: int | None = _bounded(0, default=None)
    # the sign test behind the choice (absent from cards written before it)
    heldout_wins: int | None = _bounded(0, default=None)  # right at the tuned cut, wrong at 0.5
    heldout_losses: int | None = _bounded(0, default=None)  # the reverse
    p_value: float | None = _bounded(0, 1, default=None)  # one-sided, before Bonferroni

    def __post_init__(self) -> None:
        _check_bounds(self)


@dataclass(frozen=True)
class GroupGap:
    """One attribute's metric on the test images with and without a group attribute."""

    group: str  # the attribute that splits the images, e.g. "Male": Male vs not Male
    attribute: str
    metric: str  # "AUC" or "accuracy" (at the card's thresholds)
    with_value: float | None = _bounded(0, 1)  # None: too few images (or one class) to say
    without_value: float | None = _bounded(0, 1)
    gap: float | None = _bounded(-1, 1)  # with_value - without_value
    gap_low: float | None = _bounded(-1, 1)  # its 95% bootstrap interval (groups resampled
    gap_high: float | None = _bounded(-1, 1)  # each on its own)
    gap_se: float | None = _bounded(0, 1)  # its bootstrap standard error
    beyond_noise: bool  # |gap| > z_beyond_noise x gap_se (see GroupReport)
    note: str  # why a value is missing, else ""

    def __post_init__(self) -> None:
        _check_bounds(self)
        if self.metric not in ("AUC", "accuracy"):
            raise CardError(f"metric must be AUC or accuracy, got {self.metric!r}")


@dataclass(frozen=True)
class GroupSplit:
    """The test split cut by one attribute (e.g. Male / not Male)."""

    group: str  # the attribute that splits the images
    n_with: int = _bounded(0)
    n_without: int = _bounded(0)
    gaps: tuple[GroupGap, ...]  # every other attribute, AUC then accuracy

    def __post_init__(self) -> None:
        _check_bounds(self)


@dataclass(frozen=True)
class GroupReport:
    min_group: int = _bounded(1)  # fewest images a group needs for any figure
    min_class: int = _bounded(1)  # fewest positives and negatives a group needs for an AUC
    z_beyond_noise: float = _bounded(0)  # standard errors a gap must exceed (Bonferroni)
    splits: tuple[GroupSplit, ...]
    largest: tuple[GroupGap, ...]  # the largest gaps over all splits, largest first

    def __post_init__(self) -> None:
        _check_bounds(self)


@dataclass(frozen=True)
class AttributeTrust:
    """How far the model's word on one attribute can be trusted, from its test AUC."""

    level: str  # one of TRUST_LEVELS
    reason: str  # e.g. "test AUC 0.93 (95% interval 0.88-0.97)"

    def __post_init__(self) -> None:
        if self.level not in TRUST_LEVELS:
            raise CardError(f"trust level must be one of {', '.join(TRUST_LEVELS)}")


@dataclass(frozen=True)
class BaseRateScores:
    """A model that gives every image each attribute's train positive rate."""

    micro_auc: float | None = _bounded(0, 1)
    macro_auc: float | None = _bounded(0, 1)
    mean_accuracy: float = _bounded(0, 1)
    per_attribute_accuracy: dict[str, float] = _bounded(0, 1)

    def __post_init__(self) -> None:
        _check_bounds(self)


@dataclass(frozen=True)
class DataRecord:
    source: str  # "synthetic" or the CelebA folder
    fingerprint: str  # of the source files (data.prepare)
    cache: str
    counts: dict[str, int] = _bounded(0)  # images per split
    seed: int = _bounded(0)

    def __post_init__(self) -> None:
        _check_bounds(self)

    @property
    def kind(self) -> str:
        """What `source` says in every card, old or new: "synthetic" (data.synth's drawn
        faces) or "celeba" (any other source is a CelebA folder)."""
        return "synthetic" if self.source == "synthetic" else "celeba"

    @property
    def caution(self) -> str:
        """What a user should know before trusting the model's answers on their own faces."""
        if self.kind == "synthetic":
            return "It has never seen a real photo: its answers about real faces mean little."
        return (
            "CelebA holds aligned photos of celebrities: other faces, angles and lighting "
            "may score worse than the test figures say."
        )


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
    trial: int = _bounded(0)
    objective: SearchObjective
    params: dict[str, Scalar]  # the trial's parameters as the study stored them
    model_params: ModelParams
    batch_size: int = _bounded(1)
    image_size: int = _bounded(1)
    attr_names: tuple[str, ...]  # in the model's output order
    thresholds: dict[str, float]  # decision threshold per attribute: present where p > t
    validation: SplitScores
    test: SplitScores
    base_rate_test: BaseRateScores
    epochs_trained: int = _bounded(1)
    best_epoch: int = _bounded(1)
    max_epochs: int = _bounded(1)
    patience: int = _bounded(0)
    training_seconds: float = _bounded(0)
    n_params: int = _bounded(1)
    data: DataRecord
    versions: dict[str, str | None]  # Python and the packages the model depends on
    git_commit: str | None
    notebook_test_micro_auc: float = _bounded(0, 1, default=NOTEBOOK_TEST_MICRO_AUC)
    # filled in by model.export when the folder is written
    keras_backend: str = ""  # "" until exported, else one of KERAS_BACKENDS
    files: ExportFiles = field(default_factory=ExportFiles)
    created: str = ""
    # how the thresholds were chosen, how much the test figures move, who the model fails;
    # empty in cards written before they existed
    threshold_choices: dict[str, ThresholdChoice] = field(default_factory=dict)
    test_intervals: SplitIntervals | None = None
    groups: GroupReport | None = None
    trust: dict[str, AttributeTrust] = field(default_factory=dict)
    # batch-1 prediction on the refit's device, median of warm runs; None in older cards
    latency_ms: float | None = _bounded(0, default=None)
    stopped_by: str = ""  # one of TRAINING_STOPS; "" in cards written before it was recorded

    def __post_init__(self) -> None:
        _check_bounds(self)
        if not self.best_epoch <= self.epochs_trained <= self.max_epochs:
            raise CardError(
                f"epochs must satisfy best_epoch <= epochs_trained <= max_epochs, got "
                f"{self.best_epoch}, {self.epochs_trained}, {self.max_epochs}"
            )
        if self.stopped_by not in ("", *TRAINING_STOPS):
            raise CardError(f"stopped_by must be one of {', '.join(TRAINING_STOPS)}")
        if self.keras_backend not in ("", *KERAS_BACKENDS):
            raise CardError(f"keras_backend must be one of {', '.join(KERAS_BACKENDS)}")
        names = list(self.attr_names)
        if not names or len(set(names)) != len(names):
            raise CardError("attr_names must be distinct attribute names")
        for where, keyed in (
            ("thresholds", self.thresholds),
            ("validation.per_attribute", self.validation.per_attribute),
            ("test.per_attribute", self.test.per_attribute),
        ):
            _check_keys(where, keyed, names)
        for name, cut in self.thresholds.items():
            if not -1.0 <= cut <= 2.0:
                raise CardError(f"thresholds.{name} is not a probability cut: {cut}")
        if self.threshold_choices:
            _check_keys("threshold_choices", self.threshold_choices, names)
            for name, choice in self.threshold_choices.items():
                if choice.threshold != self.thresholds[name]:
                    raise CardError(f"threshold_choices.{name} differs from thresholds.{name}")
        if self.test_intervals is not None:
            _check_keys("test_intervals.per_attribute_auc",
                        self.test_intervals.per_attribute_auc, names)  # fmt: skip
        if self.trust:
            _check_keys("trust", self.trust, names)

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
