"""The loaded export behind the web service: one model, its card, the batcher and the limits.

Knows nothing of HTTP: `predict` takes uploaded bytes and returns the answer for one image as
a JSON-ready dict, raising the preprocessing's errors (not an image, too many pixels, no face)
for the API to turn into statuses.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import time
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
from PIL import Image

from model import predict_proba
from model.card import DataRecord, ModelCard
from serve.batcher import DynamicBatcher
from serve.face_crop import detect_largest_face
from serve.limits import Limits
from serve.preprocess import Upload, prepare_face

__all__ = ["ModelService", "describe_data"]

LOW_AUC = 0.7  # for cards without trust levels: below this test AUC an attribute is weak
WEAK_TRUST = ("low", "unknown")  # trust levels (model.trust) shown greyed, as weak
NO_FACE_NOTICE = (
    "no face found in this image: it was scored as an aligned face crop, but the "
    "probabilities only mean something for a photo of a face"
)


class ModelService:
    def __init__(self, model: keras.Model, card: ModelCard, limits: Limits) -> None:
        self.model = model
        self.card = card
        self.limits = limits
        self.thresholds = card.threshold_array()
        self.batcher = DynamicBatcher(
            self._predict_batch, max_batch=limits.max_batch, max_wait_s=limits.batch_wait_ms / 1e3
        )
        # each thread keeps its own face detector (serve.face_crop); few threads, few photos
        # decoded at once, so memory stays under decode_threads x max_pixels x 3 bytes or so
        self.decoder = ThreadPoolExecutor(limits.decode_threads, thread_name_prefix="decode")

    def _predict_batch(self, images: np.ndarray) -> np.ndarray:
        # unpadded as before: padding a request's few images to 256 rows would cost latency
        return predict_proba(self.model, images, pad=False)

    def warm_up(self) -> None:
        """Load the face detector and trace the model (one image, a batch) before the first
        request would pay for it."""
        self.decoder.submit(detect_largest_face, Image.new("RGB", (64, 64))).result()
        size = self.card.image_size
        for n in (1, 2, self.limits.max_batch):
            self._predict_batch(np.zeros((n, size, size, 3), dtype=np.uint8))

    async def predict(self, data: bytes, name: str, *, detect: bool, crop: bool) -> dict:
        started = time.perf_counter()
        with self.batcher.preparing():
            prepared = await asyncio.get_running_loop().run_in_executor(
                self.decoder,
                functools.partial(
                    prepare_face,
                    Upload(data, name),
                    self.card.image_size,
                    detect=detect,
                    max_pixels=self.limits.max_pixels,
                ),
            )
        batched = await self.batcher.predict(prepared.pixels)
        names = self.card.attr_names
        probs = [float(p) for p in batched.probabilities]
        answer = {
            "file": name,
            "face": None
            if prepared.face is None
            else dict(zip(("x", "y", "width", "height"), prepared.face, strict=True)),
            "photo": {"width": prepared.photo_size[0], "height": prepared.photo_size[1]},
            "face_seen": prepared.face_seen,
            "probabilities": dict(zip(names, probs, strict=True)),
            "present": {
                n: bool(p > t) for n, p, t in zip(names, probs, self.thresholds, strict=True)
            },
            "batch_size": batched.batch_size,
            "timings_ms": {
                "decode": prepared.decode_s * 1e3,
                "detect": prepared.detect_s * 1e3,
                "queue": batched.queue_s * 1e3,
                "model": batched.model_s * 1e3,
                "total": (time.perf_counter() - started) * 1e3,
            },
        }
        if not prepared.face_seen:
            answer["notice"] = NO_FACE_NOTICE
        if crop:
            answer["crop"] = _png_data_url(prepared.pixels)
        return answer

    def summary(self) -> dict:
        """The card's summary for `GET /api/model` and the page's trust column."""
        card = self.card
        attributes = []
        for name in card.attr_names:
            val_auc = card.validation.per_attribute[name].auc
            test_auc = card.test.per_attribute[name].auc
            trust = card.trust.get(name)  # absent from cards written before trust levels
            attributes.append(
                {
                    "name": name,
                    "threshold": card.thresholds[name],
                    "validation_auc": val_auc,
                    "test_auc": test_auc,
                    "trust": None if trust is None else trust.level,
                    "trust_reason": None if trust is None else trust.reason,
                    "weak": trust.level in WEAK_TRUST
                    if trust is not None
                    else test_auc is None or test_auc < LOW_AUC,
                }
            )
        return {
            "study": card.study,
            "trial": card.trial,
            "objective": {"metric": card.objective.metric, "value": card.objective.value},
            "params": card.params,
            "image_size": card.image_size,
            "n_params": card.n_params,
            "test": {
                "micro_auc": card.test.micro_auc,
                "macro_auc": card.test.macro_auc,
                "mean_accuracy_tuned": card.test.mean_accuracy_tuned,
            },
            "validation": {
                "micro_auc": card.validation.micro_auc,
                "macro_auc": card.validation.macro_auc,
            },
            "data": describe_data(card.data),
            "keras_backend": card.keras_backend,
            "versions": card.versions,
            "created": card.created,
            "low_auc": LOW_AUC,
            "attributes": attributes,
        }


def describe_data(data: DataRecord) -> dict:
    """Where the model was trained and tested, in numbers and in words for the page."""
    synthetic = data.kind == "synthetic"
    faces = "synthetic faces (drawn by the project's generator)" if synthetic else "CelebA photos"
    counts = {split: data.counts.get(split) for split in ("train", "val", "test")}
    if None in counts.values():
        trained = f"Trained, validated and tested on {faces} (the card does not say how many)."
        measured = "the synthetic test faces" if synthetic else "the CelebA test photos"
    else:
        trained = (
            f"Trained on {counts['train']:,} {faces}, validated on {counts['val']:,} "
            f"and tested on {counts['test']:,} more."
        )
        kind = "synthetic test faces" if synthetic else "CelebA test photos"
        measured = f"the {counts['test']:,} {kind}"
    return {
        "kind": data.kind,
        "source": data.source,
        "counts": data.counts,
        "description": f"{trained} {data.caution}",
        "trust_measured_on": measured,
    }


def _png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
