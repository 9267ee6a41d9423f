"""The SDK's ToolSet selectors in ``tools.available`` / ``tools.excluded``: ``builtin:NAME``,
``custom:NAME``, ``mcp:NAME``, each also with ``*``. The CLI classifies a tool by where it
was registered, not by its name, so a selector names its source."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

SOURCES = ("builtin", "custom", "mcp")
# The SDK's rule for a tool name in a ToolSet (copilot._mode._TOOL_NAME_REGEX).
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]+")


def is_selector(entry: str) -> bool:
    return ":" in entry


def selector_problem(
    entry: str, builtin: Iterable[str], custom: Iterable[str], mcp_servers: Iterable[str]
) -> str | None:
    """What is wrong with a selector, or ``None``: its source must be one of SOURCES and its
    name ``*`` or a tool that source has (an MCP tool as ``<server>-<tool>``)."""
    source, _, name = entry.partition(":")
    if source not in SOURCES:
        return f"unknown tool source {source!r} in {entry!r}; a selector is one of " + ", ".join(
            f"{known}:NAME" for known in SOURCES
        )
    if name == "*":
        return None
    if not _TOOL_NAME.fullmatch(name):
        return f"tool name {name!r} in {entry!r} must be '*' or letters, digits, '_' and '-'"
    if source == "mcp":
        prefixes = tuple(f"{server}-" for server in mcp_servers)
        if name.startswith(prefixes):
            return None
        return f"{entry!r} names no tool of this task's MCP servers (<server>-<tool>)"
    known = list(builtin if source == "builtin" else custom)
    if name in known:
        return None
    if not known:
        return f"{entry!r}: this task has no custom tools"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{source}:{close[0]}'?" if close else "known: " + ", ".join(known)
    return f"unknown {source} tool {name!r} ({hint})"
