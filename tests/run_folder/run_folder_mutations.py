"""Broken run folders for property tests: a valid folder copied, then damaged on disk.

A mutation is drawn as data (what to damage, where, with what), so Hypothesis can shrink
it and print it, and then applied to a copy of a folder a real run wrote.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

JsonPath = tuple[str | int, ...]

# Values of every JSON type (and the extremes JSON readers trip on), to put where another
# type was.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["", "..", "/etc", "a/b", "x" * 300, "2026-12-02T03:33:37", "not a time", "\ud800"]
    ),
    st.lists(st.integers(), max_size=3),
    st.just(0).map(lambda _: json.loads("[" * 500 + "]" * 500)),  # deep, yet JSON
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

# Raw text that is not the JSON a reader expects at all.
RAW_TEXT = st.sampled_from(
    [
        "",
        "null",
        "[]",
        '"run"',
        "1" * 5000,  # an integer over Python's 4,300-digit limit
        "[" * 100_000,  # nesting deeper than any recursion limit
        '{"a": NaN}',
        '{"tasks": [], "tasks": 1}',
    ]
)


@dataclass(frozen=True)
class Mutation:
    """One damage done to one file (``target``: a path relative to the run folder)."""

    kind: str
    target: str
    at: int = 0  # a byte offset, or the index of a JSON path in the file's paths
    value: Any = None

    def apply(self, folder: Path) -> None:
        path = folder / self.target
        _ACTIONS[self.kind](self, path)


def json_paths(value: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    """Every path inside a JSON value, the root first."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_paths(item, (*prefix, index))


# The fields of a usage record (a task's, each model's, each step's, the totals) that say
# what the provider did not report; older runs lack them. The ``*_usage`` kinds damage them
# more often than a path drawn from the whole file would.
USAGE_FIELDS = frozenset(
    ("reported", "unreported_calls", "estimated_tokens", "tasks_without_usage")
)


def _nth_path(path: Path, at: int, usage: bool = False) -> tuple[Any, JsonPath] | None:
    """The file's JSON and one of its paths (not the root; with ``usage``, one of a usage
    field), or None if it is not JSON or has no such path."""
    if not path.is_file():  # a FIFO would block
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    paths = [
        where
        for where in list(json_paths(data))[1:]
        if not usage or (isinstance(where[-1], str) and where[-1] in USAGE_FIELDS)
    ]
    if not paths:
        return None
    return data, paths[at % len(paths)]


def _parent(data: Any, where: JsonPath) -> Any:
    for step in where[:-1]:
        data = data[step]
    return data


def _replace(mutation: Mutation, path: Path) -> None:
    found = _nth_path(path, mutation.at, mutation.kind.endswith("_usage"))
    if found is not None:
        data, where = found
        _parent(data, where)[where[-1]] = mutation.value
        path.write_text(json.dumps(data), encoding="utf-8")


def _delete(mutation: Mutation, path: Path) -> None:
    found = _nth_path(path, mutation.at, mutation.kind.endswith("_usage"))
    if found is not None:
        data, where = found
        del _parent(data, where)[where[-1]]
        path.write_text(json.dumps(data), encoding="utf-8")


def _naive_times(_mutation: Mutation, path: Path) -> None:
    """Every time in the file loses its UTC offset (or only some do, for the run.json
    entries against result.json: they are separate files)."""
    if path.is_file():
        text = path.read_text(encoding="utf-8", errors="replace")
        path.write_text(text.replace("+00:00", ""), encoding="utf-8")


def _truncate(mutation: Mutation, path: Path) -> None:
    if path.is_file():
        data = path.read_bytes()
        path.write_bytes(data[: mutation.at % (len(data) + 1)])


def _bad_bytes(mutation: Mutation, path: Path) -> None:
    if path.is_file():
        data = path.read_bytes()
        cut = mutation.at % (len(data) + 1)
        path.write_bytes(data[:cut] + b"\xff\xfe\x00" + data[cut:])


def _raw_text(mutation: Mutation, path: Path) -> None:
    _remove(mutation, path)
    if path.parent.is_dir():
        path.write_text(mutation.value, encoding="utf-8")


def _remove(_mutation: Mutation, path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _directory(mutation: Mutation, path: Path) -> None:
    _remove(mutation, path)
    if path.parent.is_dir():
        path.mkdir()


def _fifo(mutation: Mutation, path: Path) -> None:
    _remove(mutation, path)
    if path.parent.is_dir():
        os.mkfifo(path)


_ACTIONS = {
    "replace": _replace,
    "delete": _delete,
    "replace_usage": _replace,
    "delete_usage": _delete,
    "naive_times": _naive_times,
    "truncate": _truncate,
    "bad_bytes": _bad_bytes,
    "raw_text": _raw_text,
    "remove": _remove,
    "directory": _directory,
    "fifo": _fifo,
}


def mutations(task_ids: list[str], files: list[str]) -> st.SearchStrategy[Mutation]:
    """One damage to a run folder whose tasks are ``task_ids``; ``files`` are more of its
    files that may go missing."""
    results = [f"tasks/{task_id}/result.json" for task_id in task_ids]
    json_files = st.sampled_from(["run.json", *results])
    offsets = st.integers(min_value=0, max_value=10**6)
    return st.one_of(
        st.builds(Mutation, st.just("replace"), json_files, offsets, ANY_VALUE),
        st.builds(Mutation, st.just("delete"), json_files, offsets),
        st.builds(Mutation, st.just("replace_usage"), json_files, offsets, ANY_VALUE),
        st.builds(Mutation, st.just("delete_usage"), json_files, offsets),
        st.builds(Mutation, st.just("naive_times"), json_files),
        st.builds(Mutation, st.just("truncate"), json_files, offsets),
        st.builds(Mutation, st.just("bad_bytes"), json_files, offsets),
        st.builds(Mutation, st.just("raw_text"), json_files, st.just(0), RAW_TEXT),
        st.builds(
            Mutation,
            st.sampled_from(["remove", "directory"]),
            st.sampled_from(
                ["run.json", "summary.md", "tasks", *results, *files]
                + [f"tasks/{task_id}" for task_id in task_ids]
            ),
        ),
        st.builds(Mutation, st.just("fifo"), st.sampled_from(["run.json", "summary.md", *results])),
    )
