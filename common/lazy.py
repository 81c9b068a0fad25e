"""A package's names imported on first use (PEP 562), so that importing the package stays
cheap and its command modules are not imported before `python -m` runs them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, modules: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package` that imports `modules[name]` on first use."""

    def __getattr__(name: str) -> Any:
        if name in modules:
            return getattr(importlib.import_module(modules[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
