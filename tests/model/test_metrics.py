from __future__ import annotations

import numpy as np
import pytest

from model import evaluate, roc_auc


def test_auc_counts_correctly_ordered_pairs():
    # positives 0.35, 0.8 against negatives 0.1, 0.4: 3 of 4 pairs ordered
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0
    assert roc_auc([1, 0], [0.2, 0.9]) == 0.0


def test_auc_counts_a_tied_pair_as_half():
    # pairs (pos, neg): (0.5, 0.5) tie = 0.5, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == 3.5 / 4
    assert roc_auc([0, 1, 1, 0, 1], [0.3] * 5) == 0.5


def test_auc_is_undefined_for_one_class():
    with pytest.raises(ValueError, match="one class"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_evaluate_leaves_a_one_class_attribute_out_of_the_macro_mean_with_a_warning():
    labels = np.array([[0, 1, 1], [1, 1, 0], [0, 1, 1], [1, 1, 0]], dtype=np.uint8)
    probs = np.array(
        [[0.1, 0.9, 0.6], [0.8, 0.2, 0.7], [0.4, 0.7, 0.2], [0.3, 0.6, 0.1]], dtype=np.float32
    )

    with pytest.warns(UserWarning, match="B"):
        metrics = evaluate(labels, probs, ["A", "B", "C"])

    # A: positives 0.8, 0.3 vs negatives 0.1, 0.4 -> 3/4; C: positives 0.6, 0.2 vs 0.7, 0.1 -> 2/4
    assert metrics.per_attribute_auc == {"A": 0.75, "B": None, "C": 0.5}
    assert metrics.macro_auc == pytest.approx(0.625)
    assert metrics.per_attribute_accuracy == {"A": 0.75, "B": 0.75, "C": 0.5}
    assert metrics.mean_accuracy == pytest.approx(2.0 / 3.0)
    # micro: all 12 labels flattened, whatever column they come from
    assert metrics.micro_auc == roc_auc(labels.reshape(-1), probs.reshape(-1))
    assert metrics.to_dict()["per_attribute_auc"]["B"] is None


def test_micro_auc_flatters_base_rates_while_macro_auc_does_not():
    rng = np.random.default_rng(0)
    rates = np.array([0.05, 0.5, 0.9])
    labels = (rng.random((5000, 3)) < rates).astype(np.uint8)
    base_rate_model = np.broadcast_to(rates, labels.shape)

    metrics = evaluate(labels, base_rate_model, ["rare", "even", "common"])

    assert metrics.macro_auc == 0.5
    assert metrics.micro_auc > 0.75


def test_evaluate_applies_per_attribute_thresholds():
    labels = np.array([[1, 1], [0, 0]], dtype=np.uint8)
    probs = np.array([[0.3, 0.3], [0.2, 0.2]])

    metrics = evaluate(labels, probs, ["A", "B"], thresholds=np.array([0.25, 0.5]))

    assert metrics.per_attribute_accuracy == {"A": 1.0, "B": 0.5}


def test_evaluate_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        evaluate(np.zeros((3, 2)), np.zeros((3, 3)), ["A", "B"])
    with pytest.raises(ValueError):
        evaluate(np.zeros((3, 2)), np.zeros((3, 2)), ["A"])
