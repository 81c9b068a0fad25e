"""`python -m serve.predict`: the facial attributes of the faces in some photos.

    python -m serve.predict IMAGE... [--model DIR] [--json] [--threshold card|P] [--no-detect]
                                     [--keras]

For each image (JPEG, PNG or WebP, any size, EXIF orientation honoured) the largest face is found
and cropped like CelebA's aligned images (`--no-detect` for images that are such crops
already), resized to the model's input and scored. The table lists the attributes judged
present; `--json` prints one object per image with all 40 probabilities and decisions. A
file that cannot be read, holds too many pixels (data.decode.MAX_PIXELS), shows no face or
fails in any other way gets one `error:` line on stderr and the others still run; the exit
status is then 1.
`--model` defaults to the newest export. The model runs on NumPy (model.numpy_model) where it
can, which spares importing Keras and its backend (seconds); `--keras` runs it with Keras.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.cli import EXIT_SOME_FAILED, main_of, print_error
from common.errors import UserError
from common.native_logs import quiet_native_stderr
from model.card import ModelCard
from model.export import load_export, newest_export
from model.numpy_model import NumpyModel
from model.prediction import predict_proba
from serve.preprocess import prepare_face

if TYPE_CHECKING:
    import keras

__all__ = ["Prediction", "main", "predict_images", "thresholds_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    path: str
    probabilities: dict[str, float]  # every attribute, in the model's output order
    present: dict[str, bool]
    face: tuple[float, float, float, float] | None  # (x, y, width, height); None: not detected

    def to_json(self) -> str:
        box = None if self.face is None else [round(v, 1) for v in self.face]
        probs = {name: round(p, 4) for name, p in self.probabilities.items()}
        return json.dumps(
            {"file": self.path, "face": box, "probabilities": probs, "present": self.present}
        )


def thresholds_for(card: ModelCard, threshold: str) -> np.ndarray:
    """Per-attribute decision thresholds: the card's chosen ones, or one probability for all."""
    names = card.attr_names
    if threshold == "card":
        return card.threshold_array()
    try:
        value = float(threshold)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise UserError(f"--threshold must be 'card' or a probability in (0, 1), not {threshold}")
    return np.full(len(names), value)


def predict_images(
    model: keras.Model | NumpyModel,
    card: ModelCard,
    paths: list[str],
    *,
    thresholds: np.ndarray,
    detect: bool = True,
) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predictions for the images that could be read and held a face, and (path, reason)
    for the others, each list in the order of `paths`."""
    size = card.image_size
    names = card.attr_names
    inputs, boxes, done, failed = [], [], [], []
    for path in paths:
        try:
            prepared = prepare_face(path, size, detect=detect)
        except UserError as err:
            failed.append((path, str(err).removeprefix(f"{path}: ")))
            continue
        except Exception as err:  # a bug or a decoder's surprise costs this file only
            log.debug("preparing %s failed", path, exc_info=True)
            failed.append((path, f"could not be processed ({type(err).__name__}: {err})"))
            continue
        inputs.append(prepared.pixels)
        boxes.append(prepared.face)
        done.append(path)
    if not inputs:
        return [], failed
    # unpadded: a few photos padded to 256 rows would cost more than a second trace
    probs = predict_proba(model, np.stack(inputs), pad=False).astype(np.float64)
    predictions = [
        Prediction(
            path=path,
            probabilities={name: float(p) for name, p in zip(names, row, strict=True)},
            present={name: bool(p > t) for name, p, t in zip(names, row, thresholds, strict=True)},
            face=box,
        )
        for path, row, box in zip(done, probs, boxes, strict=True)
    ]
    return predictions, failed


def print_table(prediction: Prediction) -> None:
    present = sorted(
        (name for name, yes in prediction.present.items() if yes),
        key=lambda name: -prediction.probabilities[name],
    )
    where = (
        ""
        if prediction.face is None
        else " (face at {:.0f},{:.0f} {:.0f}x{:.0f})".format(*prediction.face)
    )
    print(f"{prediction.path}{where}: {len(present)} attributes present")
    for name in present:
        print(f"  {name:<20} {prediction.probabilities[name]:.2f}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serve.predict",
        description="Predict CelebA's 40 facial attributes for the largest face in each image.",
    )
    add = parser.add_argument
    add("images", nargs="+", metavar="IMAGE", help="JPEG, PNG or WebP files")
    add("--model", type=Path, help="export folder (default: the newest studies/*/best)")
    add("--json", action="store_true", help="one JSON object per image instead of a table")
    add("--threshold", default="card", help="'card' (chosen per attribute, default) or e.g. 0.5")
    add("--no-detect", action="store_true", help="images are aligned face crops already")
    keras_help = "run the model with Keras, not NumPy (slower to start; the same answers)"
    add("--keras", action="store_true", help=keras_help)
    return parser


def main(argv: list[str] | None = None) -> int:
    return main_of(build_parser(), argv, _predict, logging.WARNING)


def _predict(args: argparse.Namespace) -> int:
    export_dir = args.model if args.model is not None else newest_export()
    with quiet_native_stderr():  # TensorFlow's CUDA lines, where Keras is needed after all
        model, card = load_export(export_dir, numpy=not args.keras)
    thresholds = thresholds_for(card, args.threshold)
    if card.data.kind == "synthetic":  # as the page says beside its answers
        print(
            f"note: this model was trained on synthetic faces. {card.data.caution}",
            file=sys.stderr,
        )
    predictions, failed = predict_images(
        model, card, args.images, thresholds=thresholds, detect=not args.no_detect
    )
    for prediction in predictions:
        if args.json:
            print(prediction.to_json())
        else:
            print_table(prediction)
    for path, reason in failed:
        print_error(f"{path}: {reason}")
    return EXIT_SOME_FAILED if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
