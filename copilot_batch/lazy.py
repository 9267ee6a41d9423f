"""Names a package exports but imports on first use.

A command that only reads files (``--help``, ``validate``, ``show``) must not pay for the
Copilot SDK's or aiohttp's import, which only running tasks or the scripted model needs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, origins: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``origins`` is imported from
    the module given there (relative to ``package``) when first asked for, then kept."""

    def __getattr__(name: str) -> Any:
        if name not in origins:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(origins[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
