"""Where the model was trained and tested, as /api/model and the page say it."""

from __future__ import annotations

from model.card import DataRecord
from serve.service import describe_data


def record(source: str, counts: dict[str, int]) -> DataRecord:
    return DataRecord(source=source, fingerprint="f", cache="c", counts=counts, seed=0)


def test_a_celeba_card_says_celeba_and_how_many_photos():
    counts = {"train": 162_770, "val": 19_867, "test": 19_962}
    data = describe_data(record("/data/celeba", counts))
    assert data["kind"] == "celeba" and data["counts"] == counts
    assert data["description"].startswith(
        "Trained on 162,770 CelebA photos, validated on 19,867 and tested on 19,962 more."
    )
    assert data["trust_measured_on"] == "the 19,962 CelebA test photos"


def test_a_synthetic_card_warns_that_no_real_photo_was_seen():
    data = describe_data(record("synthetic", {"train": 4000, "val": 500, "test": 500}))
    assert data["kind"] == "synthetic"
    assert "Trained on 4,000 synthetic faces" in data["description"]
    assert "never seen a real photo" in data["description"]
    assert data["trust_measured_on"] == "the 500 synthetic test faces"


def test_a_card_without_counts_still_says_what_it_knows():
    data = describe_data(record("synthetic", {}))
    assert "does not say how many" in data["description"]
