"""Ready-made custom tools for job files: read-only SQL over SQLite, and JSON/YAML lookups.

Each public function here is a *tool factory*. A job file names one in ``tools.custom``,
either plainly or with options::

    tools:
      custom:
        - copilot_batch.tools:read_data
        - {use: copilot_batch.tools:sql_query, with: {database: shop.db, max_rows: 50}}

The loader calls the factory with the ``with`` options as keyword arguments plus
``working_directory``, the task's session working directory (absolute). Relative paths in
options resolve against it. A factory returns a ``copilot.Tool`` and raises ``ValueError``
with a one-line message for a bad option; the loader reports it at the entry.

Tools answer with text under 20 KB. Refusals and errors are a ``ToolResult`` with
``result_type="failure"`` whose text (what the model reads) and ``error`` (the event log's)
say why. Blocking work runs in a worker thread, not stalling the run's other sessions.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import yaml
from copilot import Tool, ToolResult, define_tool
from pydantic import BaseModel, Field

from .errors import ToolFailure

__all__ = ["ToolFailure", "read_data", "sql_query"]

QUERY_SECONDS = 10.0  # wall-clock limit of one SQL query
MAX_FILE_BYTES = 10 * 1024 * 1024  # largest file read_data parses
MAX_CELL_CHARS = 300  # longer SQL values are cut
# The CLI saves larger tool output to a temporary file and gives the model only its path.
MAX_OUTPUT_BYTES = 20_000

# The sqlite3 authorizer's only allowed actions: reading tables, calling functions, SELECT.
_READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_FIRST_WORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]*)", re.DOTALL)
_SCHEMA_SQL = (  # "table(column, …)" of every table and view, for the tool's description
    "SELECT m.name, group_concat(p.name, ', ') FROM sqlite_master AS m, pragma_table_info(m.name)"
    " AS p WHERE m.type IN ('table', 'view') GROUP BY m.name ORDER BY m.name"
)
_KINDS: dict[type, str] = {str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_DOTTED_PART = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")


async def _run(function: Any, *arguments: Any) -> ToolResult:
    """``function(*arguments)`` in a worker thread; a ToolFailure becomes a failure result."""
    try:
        text = await asyncio.to_thread(function, *arguments)
    except ToolFailure as exc:
        return ToolResult(text_result_for_llm=str(exc), result_type="failure", error=str(exc))
    return ToolResult(text_result_for_llm=text, result_type="success")


class SqlQueryParams(BaseModel):
    query: str = Field(description="One read-only SQLite SELECT statement (WITH … SELECT too)")


def sql_query(database: str, working_directory: Path, max_rows: int = 200) -> Tool:
    """A ``sql_query`` tool: one SELECT on the SQLite file ``database``, opened read-only.

    An authorizer allows only reads, so safety does not rest on parsing the query's text.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a whole number of at least 1, not {max_rows!r}")
    path = (working_directory / database).resolve()
    if not path.is_file():
        raise ValueError(f"database {path} does not exist")
    try:
        with closing(_connect(path)) as connection:
            schema = "; ".join(f"{t}({c})" for t, c in connection.execute(_SCHEMA_SQL))[:4000]
    except sqlite3.Error as exc:
        raise ValueError(f"database {path} is not a readable SQLite database: {exc}") from None

    @define_tool(
        "sql_query",
        description=(
            f"Run one read-only SQL SELECT on the SQLite database {path.name} and get the rows "
            f"as a markdown table (at most {max_rows} rows). Tables: {schema or 'none'}."
        ),
    )
    async def run_query(params: SqlQueryParams) -> ToolResult:
        return await _run(_select, path, params.query, max_rows)

    return run_query


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _authorize(action: int, *_: object) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


def _select(path: Path, query: str, max_rows: int) -> str:
    word = _FIRST_WORD.findall(query)[0].upper()  # the regex matches any text
    if word not in ("SELECT", "WITH"):
        found = f"starts with {word}" if word else "is empty"
        raise ToolFailure(f"Refused: only one read-only SELECT is allowed; this query {found}.")
    deadline = time.monotonic() + QUERY_SECONDS
    connection = _connect(path)
    try:
        connection.set_authorizer(_authorize)
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        cursor = connection.execute(query)
        rows = cursor.fetchmany(max_rows + 1)
        columns = [column[0] for column in cursor.description or ()]
    except sqlite3.Error as exc:
        reason = str(exc)
        if "not authorized" in reason or "one statement at a time" in reason:
            raise ToolFailure(f"Refused: only one read-only SELECT may run ({reason}).") from None
        if "interrupted" in reason:
            raise ToolFailure(f"The query took longer than {QUERY_SECONDS:g}s; stopped.") from None
        raise ToolFailure(f"SQLite error: {reason}") from None
    finally:
        connection.close()
    return _markdown_table(columns, rows, max_rows)


def _markdown_table(columns: list[str], rows: list[tuple[Any, ...]], max_rows: int) -> str:
    lines = [_line(columns), _line(["---"] * len(columns))]
    budget = MAX_OUTPUT_BYTES - 100 - len("\n".join(lines).encode())
    for row in rows[:max_rows]:
        lines.append(_line([_cell(value) for value in row]))
        budget -= len(lines[-1].encode()) + 1
        if budget < 0:
            lines.pop()
            break
    shown = len(lines) - 2
    if shown < len(rows):
        return "\n".join(lines) + f"\n\n(truncated: first {shown} rows shown; there are more)"
    return "\n".join(lines) + f"\n\n({shown} row{'' if shown == 1 else 's'})"


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = f"<{len(value)} bytes>" if isinstance(value, bytes) else str(value)
    text = text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


class ReadDataParams(BaseModel):
    path: str = Field(description="A .json, .yaml or .yml file, relative to the data folder")
    query: str = Field(default="", description="tools[0].name or /tools/0/name; empty: all")


def read_data(working_directory: Path, root: str | None = None) -> Tool:
    """A ``read_data`` tool: part of a JSON or YAML file under ``root``, as JSON text.

    ``root`` defaults to the working directory; paths leaving it (``..``, symlinks) are refused.
    """
    folder = (working_directory / (root or ".")).resolve()
    if not folder.is_dir():
        raise ValueError(f"root {folder} is not a directory")

    @define_tool(
        "read_data",
        description=(
            "Read a JSON or YAML file under the data folder and return the part at a path, as "
            'JSON. Paths: dotted with [index] (tools[0].name, a.b["key.with.dots"], [-1] for '
            "the last item) or a JSON Pointer starting with / (/tools/0/name)."
        ),
    )
    async def read(params: ReadDataParams) -> ToolResult:
        return await _run(_read_data, folder, params.path, params.query)

    return read


def _read_data(folder: Path, relative: str, query: str) -> str:
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise ToolFailure(f"Refused: {relative!r} is outside the data folder.")
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise ToolFailure(f"Refused: {relative!r} is not a .json, .yaml or .yml file.")
    if not path.is_file():
        raise ToolFailure(f"No file {relative!r} in the data folder.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ToolFailure(f"{relative!r} is larger than {MAX_FILE_BYTES} bytes; not read.")
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ToolFailure(f"Cannot read {relative!r}: {exc}") from None
    for label, key in _parse_query(query):
        value = _step(value, key, label)
    result = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if (size := len(result.encode())) > MAX_OUTPUT_BYTES:
        raise ToolFailure(f"JSON of {size} bytes is over {MAX_OUTPUT_BYTES}; query a smaller part.")
    return result


def _parse_query(query: str) -> list[tuple[str, str | int]]:
    """(where, key or index) per step of a dotted path or a JSON Pointer (RFC 6901)."""
    query = query.strip()
    if query.startswith("/"):
        parts = query[1:].split("/")
        keys = [part.replace("~1", "/").replace("~0", "~") for part in parts]
        return [("/".join(["", *parts[:n]]) or "the document", k) for n, k in enumerate(keys)]
    steps: list[tuple[str, str | int]] = []
    position = 0
    while position < len(query):
        match = _DOTTED_PART.match(query, position)
        if match is None or (match.group(1) is not None and position and query[position] != "."):
            raise ToolFailure(f"Cannot parse the path {query!r} at character {position + 1}.")
        name, index, quoted = match.group(1), match.group(2), match.group(3) or match.group(4)
        key: str | int = int(index) if index is not None else (name or quoted or "")
        steps.append((query[:position] or "the document", key))
        position = match.end()
    return steps


def _step(value: Any, key: str | int, label: str) -> Any:
    if isinstance(value, dict):
        for candidate in value:
            if str(candidate) == str(key):
                return value[candidate]
        shown = ", ".join(map(str, list(value)[:20])) + (", …" if len(value) > 20 else "")
        raise ToolFailure(f"No key {str(key)!r} at {label}; keys there: {shown or 'none'}.")
    if isinstance(value, list):
        if isinstance(key, str) and not re.fullmatch(r"-?\d+", key):
            raise ToolFailure(f"{label} is a list; use an index, not {key!r}.")
        index = int(key)
        if not -len(value) <= index < len(value):
            raise ToolFailure(f"Index {index} is out of range at {label} ({len(value)} items).")
        return value[index]
    kind = "null" if value is None else _KINDS.get(type(value), "a value")
    raise ToolFailure(f"{label} is {kind}, not an object or a list; cannot look up {key!r}.")
