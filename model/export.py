"""The exported model: a folder with model.keras, model_card.json and (TensorFlow) a SavedModel.

The folder is written under a temporary name next to its destination and renamed into
place (data.atomic); an older export is renamed away first and deleted last, so a reader
sees either the old export or the new one, never half of one.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from data.atomic import install, temp_dir_for
from data.errors import UserError

if TYPE_CHECKING:
    import keras

__all__ = [
    "CARD_FIELDS",
    "CARD_NAME",
    "MODEL_NAME",
    "SAVEDMODEL_NAME",
    "ExportError",
    "export_model",
    "git_commit",
    "newest_export",
    "package_versions",
    "read_card",
]

CARD_NAME = "model_card.json"
MODEL_NAME = "model.keras"
SAVEDMODEL_NAME = "saved_model"
CARD_FIELDS = (
    "study",
    "trial",
    "objective",
    "params",
    "model_params",
    "batch_size",
    "image_size",
    "attr_names",
    "thresholds",
    "validation",
    "test",
    "base_rate_test",
    "notebook_test_micro_auc",
    "epochs_trained",
    "best_epoch",
    "max_epochs",
    "patience",
    "training_seconds",
    "n_params",
    "data",
    "versions",
    "git_commit",
    "keras_backend",
    "files",
    "created",
)
_FILLED_HERE = ("keras_backend", "files", "created")  # by export_model itself
_PACKAGES = ("keras", "tensorflow", "jax", "optuna", "numpy", "pillow", "opencv-python-headless")


class ExportError(UserError):
    """Raised when an export folder is missing, incomplete or cannot be written."""


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
    model: keras.Model, card: dict, out: str | Path, *, savedmodel: bool = True
) -> dict:
    """Write `model` and its `card` to the folder `out`, replacing an older export atomically.

    A SavedModel is added when `savedmodel` and the Keras backend is TensorFlow. The card's
    `files`, `created` and `keras_backend` fields are filled in here; every other field
    of CARD_FIELDS must be present. Returns the card as written.
    """
    import keras  # here, so that reading a card (report, predict's lookup) skips TensorFlow

    missing = [name for name in CARD_FIELDS if name not in card and name not in _FILLED_HERE]
    if missing:
        raise ValueError(f"model card lacks {', '.join(missing)}")
    out = Path(out)
    try:
        tmp = temp_dir_for(out)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the export from a serving user
    except OSError as err:
        raise ExportError(f"cannot create the export folder {out}: {err.strerror}") from None
    try:
        model.save(tmp / MODEL_NAME)
        files = {"model": MODEL_NAME, "savedmodel": None}
        backend = keras.backend.backend()
        if savedmodel and backend == "tensorflow":
            model.export(str(tmp / SAVEDMODEL_NAME), format="tf_saved_model", verbose=False)
            files["savedmodel"] = SAVEDMODEL_NAME
        full = {
            **card,
            "keras_backend": backend,
            "files": files,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        (tmp / CARD_NAME).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
        install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return full


def read_card(export_dir: str | Path) -> dict:
    """The model card of an export folder (ExportError if it is missing or unreadable)."""
    path = Path(export_dir) / CARD_NAME
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(
            f"{export_dir}: no {CARD_NAME} (not an export; run search.refit)"
        ) from None
    except (OSError, ValueError) as err:
        raise ExportError(f"{path}: unreadable model card ({err})") from None
    if not isinstance(card, dict) or "attr_names" not in card or "image_size" not in card:
        raise ExportError(f"{path}: not a model card of this project")
    return card


def newest_export(root: str | Path = "studies") -> Path:
    """The export folder (`<root>/<study>/best`) whose model card was written last."""
    cards = list(Path(root).glob(f"*/best/{CARD_NAME}"))
    if not cards:
        raise ExportError(
            f"no exported model under {root}/*/best: run python -m search.refit, or pass --model"
        )
    return max(cards, key=lambda p: p.stat().st_mtime).parent
