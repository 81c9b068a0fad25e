"""Every default path derives from one root, which one environment variable moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_PRINT_DEFAULTS = """
import json
from common import paths
from data.prepare import default_cache_dir
from search.config import RunConfig
from search.coordination.storage import resolve_storage_url
print(json.dumps({
    "storage": resolve_storage_url(None),
    "data": RunConfig().data,
    "export": str(paths.export_dir("demo")),
    "report": str(paths.report_dir("demo")),
    "synthetic": str(paths.SYNTHETIC),
    "cache": str(default_cache_dir(paths.CELEBA, 32).parent),
    "artifacts": str(paths.ARTIFACTS),
}))
"""


def _defaults(env: dict[str, str], cwd: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", _PRINT_DEFAULTS],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_defaults_are_relative_to_the_working_folder(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CELEBA_SEARCH_HOME", raising=False)
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    found = _defaults(dict(os.environ), tmp_path)
    assert found == {
        "storage": "sqlite:///studies/celeba.db",
        "data": "data/celeba",
        "export": "studies/demo/best",
        "report": "studies/demo/report",
        "synthetic": "data/synthetic",
        "cache": "data/cache",
        "artifacts": "studies/artifacts",
    }


def test_one_variable_moves_every_default(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    home = tmp_path / "home"
    found = _defaults({**os.environ, "CELEBA_SEARCH_HOME": str(home)}, tmp_path)
    assert found["storage"] == f"sqlite:///{home}/studies/celeba.db"
    for key in ("data", "export", "report", "synthetic", "cache", "artifacts"):
        assert Path(found[key]).is_relative_to(home), key
