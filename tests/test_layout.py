"""The import graph keeps one direction: common <- data <- model <- {search, serve} <- bench.

Read from the source, so a new import that breaks the rule fails here, whatever runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "data", "model", "search", "serve", "bench")
# what each package may import from the others
ALLOWED = {
    "common": set(),
    "data": {"common"},
    "model": {"common", "data"},
    "search": {"common", "data", "model"},
    "serve": {"common", "data", "model"},
    "bench": {"common", "data", "model", "search", "serve"},
}


def imported_packages(path: Path) -> set[str]:
    """The project's top-level packages that a module imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_packages_below_it(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported - ALLOWED[package] - {package})
        for path in sorted((ROOT / package).rglob("*.py"))
        if (imported := imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert offenders == {}


def test_the_checker_sees_an_arrow_the_wrong_way(tmp_path: Path):
    module = tmp_path / "bad.py"
    module.write_text("import numpy\nfrom search.trial.space import SPACES\n\ndef f():\n"
                      "    import serve.predict\n")  # fmt: skip
    assert imported_packages(module) == {"search", "serve"}
