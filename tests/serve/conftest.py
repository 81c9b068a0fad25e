"""A tiny untrained export shared by the serve tests (32x32, a few thousand parameters)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import pytest

from model import ModelParams, build_model
from model.export import export_model
from tests.cards import tiny_card
from tests.serve.server import running_server

SIZE = 32
PARAMS = ModelParams(conv_widths=(4, 4, 8, 8), dense_widths=(8, 8))


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(0)
    out = tmp_path_factory.mktemp("serve-export") / "best"
    export_model(build_model(PARAMS, SIZE), tiny_card(SIZE, PARAMS), out, savedmodel=False)
    return out


@pytest.fixture(scope="session")
def server_url(tiny_export: Path) -> Iterator[str]:
    """A real `python -m serve` for the tiny export, shared by the API and browser tests."""
    with running_server(tiny_export) as url:
        yield url
