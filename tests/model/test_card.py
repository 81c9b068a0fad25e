"""The model card: one writer, one reader that refuses a tampered card in one line."""

from __future__ import annotations

import json

import pytest

from model import ModelParams
from model.card import ModelCard
from model.errors import CardError
from tests.cards import tiny_card

PARAMS = ModelParams(conv_widths=(4, 4, 8, 8), dense_widths=(8, 8))


def test_a_card_reads_back_equal_to_what_was_written():
    card = tiny_card(32, PARAMS)
    assert ModelCard.from_json(card.to_json()) == card
    assert ModelCard.from_json(card.to_json()).model_params.conv_widths == (4, 4, 8, 8)


def _tampered(change) -> str:
    raw = json.loads(tiny_card(32, PARAMS).to_json())
    change(raw)
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(image_size="big"), "card.image_size: expected an integer"),
        (lambda c: c.pop("test"), "the field 'test' is missing"),
        (lambda c: c["test"]["per_attribute"]["Male"].update(auc=1.7), "between 0 and 1"),
        (lambda c: c["thresholds"].pop("Male"), "thresholds must have one entry"),
        (lambda c: c["files"].update(model="../../etc/passwd"), "inside the export folder"),
        (lambda c: c["model_params"].update(conv_widths=[4, 4]), "expected 4 values"),
        (lambda c: c["model_params"].update(dropout=1.5), "dropout must be in [0, 1)"),
        (lambda c: c.update(attr_names="Male"), "card.attr_names: expected a list"),
        (lambda c: c["validation"].update(macro_auc=None, micro_auc="x"), "micro_auc"),
        (lambda c: c.update(trial=-1), "card: trial must be at least 0, got -1"),
        (lambda c: c.update(epochs_trained=0), "epochs_trained must be at least 1"),
        (lambda c: c.update(best_epoch=5), "best_epoch <= epochs_trained <= max_epochs"),
        (lambda c: c.update(patience=-2), "patience must be at least 0"),
        (lambda c: c.update(training_seconds=-1.0), "training_seconds must be at least 0"),
        (lambda c: c.update(notebook_test_micro_auc=9), "must be between 0 and 1"),
        (lambda c: c.update(keras_backend="<script>"), "keras_backend must be one of"),
        (lambda c: c.update(stopped_by="boredom"), "stopped_by must be one of epochs, patience"),
        (lambda c: c["objective"].update(search_epochs=0), "objective: search_epochs must be"),
        (lambda c: c["base_rate_test"].update(mean_accuracy=2.5), "mean_accuracy must be betw"),
        (
            lambda c: c["base_rate_test"]["per_attribute_accuracy"].update(Male=-0.1),
            "per_attribute_accuracy.Male must be between 0 and 1, got -0.1",
        ),
        (lambda c: c["data"]["counts"].update(train=-5), "data: counts.train must be at least 0"),
        (lambda c: c["data"].update(seed=-1), "data: seed must be at least 0"),
        (lambda c: c["trust"]["Male"].update(level="great"), "trust level must be one of"),
        (lambda c: c["trust"].pop("Young"), "trust must have one entry per attribute"),
        (lambda c: c["threshold_choices"]["Male"].update(threshold=0.7), "differs from"),
        (lambda c: c["threshold_choices"]["Male"].update(positives=-1), "positives must be at"),
    ],
)
def test_a_tampered_card_is_refused_naming_the_field(change, message):
    with pytest.raises(CardError) as caught:
        ModelCard.from_json(_tampered(change))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_card_that_is_not_json_is_refused():
    with pytest.raises(CardError, match="not JSON"):
        ModelCard.from_json("{nope")


def test_a_card_written_before_the_decision_fields_still_reads():
    raw = json.loads(tiny_card(32, PARAMS).to_json())
    for name in ("threshold_choices", "test_intervals", "groups", "trust"):
        raw.pop(name)
    card = ModelCard.from_json(json.dumps(raw))
    assert card.trust == {} and card.groups is None and card.test_intervals is None
