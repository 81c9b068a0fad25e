"""A valid model card with placeholder figures, for tests that export an untrained model."""

from __future__ import annotations

import dataclasses

from data import CELEBA_ATTRIBUTES
from model import ModelParams
from model.card import (
    AttributeScores,
    AttributeTrust,
    BaseRateScores,
    DataRecord,
    ModelCard,
    SearchObjective,
    SplitScores,
    ThresholdChoice,
)

__all__ = ["SYNTHETIC_NOTE", "error_lines", "tiny_card"]

# what `serve.predict` prints first on stderr for a model trained on synthetic faces
SYNTHETIC_NOTE = "note: this model was trained on synthetic faces."


def error_lines(err: str) -> list[str]:
    """`serve.predict`'s stderr for a tiny_card export (synthetic), less its note line."""
    lines = err.splitlines()
    assert lines and lines[0].startswith(SYNTHETIC_NOTE), lines
    return lines[1:]


def _scores() -> SplitScores:
    per = {name: AttributeScores(auc=0.5, accuracy=0.5, accuracy_tuned=0.5)
           for name in CELEBA_ATTRIBUTES}  # fmt: skip
    return SplitScores(0.5, 0.5, 0.5, 0.5, per)


def tiny_card(image_size: int, params: ModelParams, **changes) -> ModelCard:
    """Thresholds 0.5 but Male's 0.0, so a table always lists at least one attribute."""
    thresholds = {name: 0.5 for name in CELEBA_ATTRIBUTES}
    thresholds["Male"] = 0.0
    card = ModelCard(
        study="tiny",
        trial=0,
        objective=SearchObjective(metric="validation macro AUC", value=0.5, search_epochs=1),
        params={"c1": params.conv_widths[0]},
        model_params=params,
        batch_size=32,
        image_size=image_size,
        attr_names=CELEBA_ATTRIBUTES,
        thresholds=thresholds,
        validation=_scores(),
        test=_scores(),
        base_rate_test=BaseRateScores(0.8, 0.5, 0.8, {name: 0.8 for name in CELEBA_ATTRIBUTES}),
        epochs_trained=1,
        best_epoch=1,
        max_epochs=1,
        patience=1,
        training_seconds=1.0,
        n_params=1,
        data=DataRecord(source="synthetic", fingerprint="f", cache="c", counts={}, seed=0),
        versions={},
        git_commit=None,
        threshold_choices={
            name: ThresholdChoice(cut, cut != 0.5, "placeholder", positives=1, negatives=1)
            for name, cut in thresholds.items()
        },
        trust={
            name: AttributeTrust("high" if name == "Smiling" else "unknown", "placeholder")
            for name in CELEBA_ATTRIBUTES
        },
    )
    return dataclasses.replace(card, **changes)
