"""A job's (or a task's) ``matrix`` → the combinations of values its tasks run over.

Each key gives a list of values: written out, ``{glob: PATTERN}`` (files under the job
folder, as paths relative to it) or ``{file: PATH}`` (a JSON/YAML list, or one value per
line). The combinations are the cartesian product of the keys' lists, then ``exclude``
and ``include`` apply as in GitHub Actions:

* an ``exclude`` entry removes every combination that has all of the entry's values;
* an ``include`` entry adds its extra keys to every combination that has all of the
  entry's values for the matrix's own keys; an entry that matches none becomes a new
  combination of its own. Values added by ``include`` may be overwritten by a later
  entry, the matrix's own values never.

Numbers keep the text they were written with (``3.10`` renders as ``3.10``, not ``3.1``),
and compare as numbers: in ``include`` and ``exclude``, ``3.1`` matches ``3.10``, and so does
the string ``"3.10"``. How many combinations a matrix makes is known before any is built.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcmatch import glob

from . import files
from .located_yaml import JsonPathSegment, LocatedDocument
from .model import MAX_TASKS_LIMIT
from .problems import Problems, Where

RESERVED_KEYS = ("include", "exclude")


class _AsWritten:
    """A matrix number that renders as it was written, and is a number otherwise."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return self.text if not spec else super().__format__(spec)


class WrittenInt(_AsWritten, int):
    """An integer from a matrix that renders as it was written (``08``, ``0x1F``)."""

    def __new__(cls, value: int, text: str) -> WrittenInt:
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __reduce__(self) -> tuple[type[WrittenInt], tuple[int, str]]:
        return WrittenInt, (int(self), self.text)


class WrittenFloat(_AsWritten, float):
    """A number from a matrix that renders as it was written (``3.10``, ``1e3``)."""

    def __new__(cls, value: float, text: str) -> WrittenFloat:
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __reduce__(self) -> tuple[type[WrittenFloat], tuple[float, str]]:
        return WrittenFloat, (float(self), self.text)


@dataclass(frozen=True)
class Matrix:
    """A matrix's keys and their values, read; its combinations are made on demand."""

    where: Where
    keys: tuple[str, ...] = ()
    lists: tuple[list[Any], ...] = ()
    include: tuple[dict[str, Any], ...] = ()
    exclude: tuple[dict[str, Any], ...] = ()

    @property
    def size(self) -> int:
        """How many combinations at most: the product, before exclude, and one per include."""
        product = 0 if not self.keys and self.include else math.prod(map(len, self.lists))
        return product + len(self.include)

    def combinations(self, problems: Problems) -> list[dict[str, Any]]:
        """Every combination, in key order; one empty combination for an empty matrix."""
        combinations = [
            dict(zip(self.keys, values, strict=True)) for values in itertools.product(*self.lists)
        ]
        if not self.keys and self.include:
            combinations = []  # only include entries: each is a combination
        for entry in self.exclude:
            combinations = [c for c in combinations if not _has_all(c, entry)]
        for entry in self.include:
            combinations = _include(combinations, entry, self.keys)
        if not combinations and all(self.lists):
            problems.add(
                self.where, "the matrix expands to no combination (exclude removes them all)"
            )
        return combinations


def read_matrix(
    matrix: Mapping[str, Any], where: Where, job_folder: Path, problems: Problems
) -> Matrix:
    """The matrix's values, read from the job file, its globs and its files.

    Problems are reported at their place; the matrix is then empty or partial.
    """
    keys = tuple(key for key in matrix if key not in RESERVED_KEYS)
    lists = tuple(_values(matrix[key], (*where, key), job_folder, problems) for key in keys)
    entries: dict[str, tuple[dict[str, Any], ...]] = {}
    for reserved in RESERVED_KEYS:
        entries[reserved] = tuple(
            _written(entry, (*where, reserved, index), problems.document)
            for index, entry in enumerate(matrix.get(reserved, []))
        )
    for index, entry in enumerate(entries["exclude"]):
        unknown = [key for key in entry if key not in keys]
        if unknown:
            problems.add(
                (*where, "exclude", index, unknown[0]),
                f"{unknown[0]!r} is not a key of the matrix ({', '.join(keys)})",
                of_key=True,
            )
    return Matrix(where, keys, lists, entries["include"], entries["exclude"])


def _same(value: Any, other: Any) -> bool:
    """Equal values; numbers equal as numbers, or to a string of the text they were written as."""
    if isinstance(value, bool) or isinstance(other, bool):
        return type(value) is type(other) and value == other
    if isinstance(value, str) and isinstance(other, int | float):
        return value == str(other)
    if isinstance(other, str) and isinstance(value, int | float):
        return other == str(value)
    return bool(value == other)


def _has_all(combination: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    return all(
        key in combination and _same(combination[key], value) for key, value in entry.items()
    )


def _include(
    combinations: list[dict[str, Any]], entry: Mapping[str, Any], keys: Sequence[str]
) -> list[dict[str, Any]]:
    own = {key: value for key, value in entry.items() if key in keys}
    extra = {key: value for key, value in entry.items() if key not in keys}
    matched = False
    for combination in combinations:
        if _has_all(combination, own):
            combination.update(extra)
            matched = True
    return combinations if matched else [*combinations, dict(entry)]


def _written(value: Any, path: tuple[JsonPathSegment, ...], document: LocatedDocument) -> Any:
    """``value`` with each number replaced by one that renders as it was written."""
    if isinstance(value, dict):
        return {key: _written(item, (*path, key), document) for key, item in value.items()}
    if isinstance(value, list):
        return [_written(item, (*path, index), document) for index, item in enumerate(value)]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    text = document.written(path)
    if text is None:
        return value
    return WrittenInt(value, text) if isinstance(value, int) else WrittenFloat(value, text)


def _values(source: Any, where: Where, job_folder: Path, problems: Problems) -> list[Any]:
    if isinstance(source, list):
        return list(_written(source, where, problems.document))
    if "glob" in source:
        return _glob_values(source["glob"], (*where, "glob"), job_folder, problems)
    return _file_values(source["file"], (*where, "file"), job_folder, problems)


def _glob_values(pattern: str, where: Where, job_folder: Path, problems: Problems) -> list[Any]:
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        problems.add(where, f"glob {pattern!r} must stay inside the job file's folder")
        return []
    # ** does not follow symlinked folders, so a symlink loop cannot make it run forever.
    found = glob.iglob(pattern, flags=glob.GLOBSTAR, root_dir=job_folder)
    matches = list(itertools.islice(found, MAX_TASKS_LIMIT + 1))
    if len(matches) > MAX_TASKS_LIMIT:
        problems.add(where, f"glob {pattern!r} matches more than {MAX_TASKS_LIMIT:,} paths")
        return []
    values = sorted(
        Path(match).as_posix() for match in matches if os.path.isfile(job_folder / match)
    )
    if not values:
        problems.add(where, f"glob {pattern!r} matches no file in {job_folder}")
    return values


def _file_values(name: str, where: Where, job_folder: Path, problems: Problems) -> list[Any]:
    path = job_folder / name
    values: Any
    try:
        if path.suffix in (".json", ".yaml", ".yml"):
            document = files.read_data(path)
            values = _written(document.data, (), document)
        else:
            lines = (line.strip() for line in files.read_text(path).splitlines())
            values = [line for line in lines if line and not line.startswith("#")]
    except ValueError as reason:
        problems.add(where, f"matrix file {path} {reason}")
        return []
    if not isinstance(values, list):
        problems.add(where, f"matrix file {path} must hold a list")
        return []
    if not values:
        problems.add(where, f"matrix file {path} holds no values")
    return values
