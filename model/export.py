"""The export folder: model.keras, model_card.json and (on TensorFlow) a SavedModel.

The folder is written under a temporary name next to its destination and swapped into
place (common.atomic), so a reader sees either the old export or the new one, never half of
one. Exports live in `studies/<study>/best` unless told otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import platform
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from common.atomic import install, temp_dir_for
from common.paths import STUDIES
from model.card import CARD_NAME, MODEL_NAME, SAVEDMODEL_NAME, ExportFiles, ModelCard
from model.errors import CardError, ExportError
from model.numpy_model import NumpyModel, numpy_model

if TYPE_CHECKING:
    import keras

__all__ = [
    "export_model",
    "git_commit",
    "load_export",
    "newest_export",
    "package_versions",
    "read_card",
]

_PACKAGES = ("keras", "tensorflow", "jax", "optuna", "numpy", "pillow", "opencv-python-headless")


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages the model depends on (None: not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(where: str | Path = ".") -> str | None:
    """The commit checked out at `where`, None outside a git work tree or without git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def export_model(
    model: keras.Model, card: ModelCard, out: str | Path, *, savedmodel: bool = True
) -> ModelCard:
    """Write `model` and its `card` to the folder `out`, replacing an older export atomically.

    A SavedModel is added when `savedmodel` and the Keras backend is TensorFlow. The card's
    `keras_backend`, `files` and `created` are filled in here. Returns the card as written.
    """
    import keras  # here, so that reading a card (report, predict's lookup) skips TensorFlow

    out = Path(out)
    try:
        tmp = temp_dir_for(out)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the export from a serving user
    except OSError as err:
        raise ExportError(f"cannot create the export folder {out}: {err.strerror}") from None
    try:
        model.save(tmp / MODEL_NAME)
        backend = keras.backend.backend()
        files = ExportFiles(model=MODEL_NAME)
        if savedmodel and backend == "tensorflow":
            model.export(str(tmp / SAVEDMODEL_NAME), format="tf_saved_model", verbose=False)
            files = ExportFiles(model=MODEL_NAME, savedmodel=SAVEDMODEL_NAME)
        written = dataclasses.replace(
            card,
            keras_backend=backend,
            files=files,
            created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        (tmp / CARD_NAME).write_text(written.to_json(), encoding="utf-8")
        install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def read_card(export_dir: str | Path) -> ModelCard:
    """The validated model card of an export folder (ExportError, one line, if unusable)."""
    path = Path(export_dir) / CARD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExportError(
            f"{export_dir}: no {CARD_NAME} (not an export; run search.refit)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ExportError(f"{path}: unreadable model card ({err})") from None
    try:
        return ModelCard.from_json(text)
    except CardError as err:
        raise CardError(f"{path}: invalid model card: {err}") from None


def load_export(
    export_dir: str | Path, *, numpy: bool = False
) -> tuple[keras.Model | NumpyModel, ModelCard]:
    """The exported model, for inference, and its card; Keras' safe_mode stays on.

    With `numpy`, a model that model.numpy_model can run (any that build_model writes) is
    read without importing Keras; others are still loaded with Keras.
    """
    card = read_card(export_dir)
    path = Path(export_dir) / card.files.model
    inside = Path(export_dir).resolve()
    if not path.resolve().is_relative_to(inside):  # a link in the folder can lead anywhere
        raise ExportError(f"{path}: leads to {path.resolve()}, outside the export folder")
    model = numpy_model(path) if numpy else None
    if model is None:
        model = _keras_model(path)
    size = card.image_size
    expected = (None, size, size, 3)
    if tuple(model.input_shape) != expected or model.output_shape[-1] != len(card.attr_names):
        raise ExportError(
            f"{path}: model takes {model.input_shape} and gives {model.output_shape}, but its "
            f"card says {size}x{size} images and {len(card.attr_names)} attributes"
        )
    return model, card


def _keras_model(path: Path) -> keras.Model:
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        reason = str(err).strip().split(". ")[0]
        if "safe_mode" in str(err):
            raise ExportError(
                f"{path}: refused, the model needs unsafe deserialization ({reason}); "
                "only models that Keras' safe_mode accepts are loaded"
            ) from None
        raise ExportError(f"{path}: cannot load the model ({reason})") from None


def newest_export(root: str | Path = STUDIES) -> Path:
    """The export folder (`<root>/<study>/best`) whose model card was written last."""
    cards = list(Path(root).glob(f"*/best/{CARD_NAME}"))
    if not cards:
        raise ExportError(
            f"no exported model under {root}/*/best: run python -m search.refit, or pass --model"
        )
    return max(cards, key=lambda p: p.stat().st_mtime).parent
