"""The data layer's process pool under faults, and imports from a folder that has a data/.

Both run real subprocesses: a pool whose workers cannot start must end the command with one
line instead of respawning them forever, and a `data/` folder in the working directory (what
the synthetic data and the cache create) must not shadow the `data` package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data.dataset import MANIFEST

ROOT = Path(__file__).resolve().parents[2]

# Loading "torch" makes data.pool start its workers from a fork server, which re-imports the
# main module (this script) in each of them; {fault} may make that import fail, as a missing
# dependency would.
_FORKSERVER_MAIN = """
import sys
import types

{fault}
sys.modules["torch"] = types.ModuleType("torch")
from data.{module} import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
"""
_IMPORT_FAULT = """
if __name__ != "__main__":
    raise ImportError("injected fault: this worker cannot import its modules")
"""
_DIED = "error: a worker process died (at start-up, or killed); run with --workers 1 to see why"


def _run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,  # without the fix the command never ends
    )


def _script(folder: Path, module: str, fault: str = "") -> list[str]:
    """A script file (the fork server re-imports files, not `-c` code) running `module`."""
    path = folder / f"run_{module}{'_broken' if fault else ''}.py"
    path.write_text(_FORKSERVER_MAIN.format(fault=fault, module=module))
    return [str(path)]


def test_prepare_whose_workers_die_at_start_up_stops_with_one_line(kaggle: Path, tmp_path):
    out = tmp_path / "cache"
    argv = ["--celeba", str(kaggle), "--out", str(out), "--workers", "2", "--quiet"]
    result = _run([*_script(tmp_path, "prepare", _IMPORT_FAULT), *argv], tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("error: ") == 1 and result.stderr.endswith(_DIED + "\n")
    assert not out.exists() and list(tmp_path.glob(".cache.tmp-*")) == []  # nothing written


def test_synth_whose_workers_die_at_start_up_stops_with_one_line(tmp_path: Path):
    out = tmp_path / "faces"
    argv = ["--out", str(out), "--n", "300", "--workers", "2"]
    result = _run([*_script(tmp_path, "synth", _IMPORT_FAULT), *argv], tmp_path)
    assert result.returncode == 2
    # the dying workers' own tracebacks may share the terminal; ours is one line, the last
    assert result.stderr.count("error: ") == 1 and result.stderr.endswith(_DIED + "\n")
    assert not out.exists()


def _regular_install(tmp_path: Path) -> Path:
    """The project installed as a wheel would be (not editable); returns its site folder."""
    source, site = tmp_path / "source", tmp_path / "site"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("common", "data", "model", "search", "serve"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__py*"))
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--no-index", "--target", str(site), str(source)], check=True)
    return site


@pytest.mark.parametrize("install", ["editable", "regular"])
def test_a_data_folder_in_the_working_directory_does_not_shadow_the_package(
    install: str, kaggle: Path, tmp_path: Path
):
    cwd = tmp_path / "work"
    (cwd / "data" / "synthetic").mkdir(parents=True)  # what `make demo` leaves there
    (cwd / "data" / "cache").mkdir()
    env = dict(os.environ)  # editable: the checkout is on sys.path (conftest's PYTHONPATH)
    if install == "regular":
        env["PYTHONPATH"] = str(_regular_install(tmp_path))
    where = _run(["-c", "import data.prepare; print(data.__file__)"], cwd, env)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).parent != cwd / "data"
    # `python -m` puts the working directory first on sys.path; the workers are forked in
    # one run and started from a fork server (which re-imports everything) in the other
    runs = {"fork": ["-m", "data.prepare"], "forkserver": _script(tmp_path, "prepare")}
    for start, args in runs.items():
        out = tmp_path / start
        argv = ["--celeba", str(kaggle), "--out", str(out), "--workers", "2", "--quiet"]
        result = _run([*args, *argv], cwd, env)
        assert result.returncode == 0, result.stderr
        assert (out / MANIFEST).exists()
