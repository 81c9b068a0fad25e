"""A tiny synthetic CelebA (300 faces, cached at 16x16) shared by the search tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from search.trial.study_data import prepare_data

# The smallest useful search: 16x16 faces, the demo space, two epochs per trial, one worker
# in the test's own process (a later --workers wins).
TINY_RUN = ["--preset", "demo", "--synthetic-n", "300", "--image-size", "16", "--epochs", "2",
            "--workers", "1"]  # fmt: skip


@pytest.fixture(scope="session")
def search_home(tmp_path_factory) -> Path:
    """A working folder whose data/ holds the tiny synthetic set and its cache."""
    home = tmp_path_factory.mktemp("search-home")
    cwd = Path.cwd()
    os.chdir(home)
    try:
        prepare_data("synthetic", image_size=16, synthetic_n=300, seed=0)
    finally:
        os.chdir(cwd)
    return home


@pytest.fixture
def in_search_home(search_home, monkeypatch) -> Path:
    monkeypatch.chdir(search_home)
    return search_home


def start_search(home: Path, *args: str, storage: str) -> subprocess.Popen:
    """`python -m search.run` as a real process (the storage URL passed by environment)."""
    env = {**os.environ, "OPTUNA_STORAGE": storage, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "search.run", *TINY_RUN, *args],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
