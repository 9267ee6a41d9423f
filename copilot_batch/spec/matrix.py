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
"""

from __future__ import annotations

import glob
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .problems import Problems, Where

RESERVED_KEYS = ("include", "exclude")


def matrix_combinations(
    matrix: Mapping[str, Any], where: Where, job_folder: Path, problems: Problems
) -> list[dict[str, Any]]:
    """Every combination, in key order; one empty combination for an empty matrix.

    Problems are reported at their place; the result is then empty or partial.
    """
    keys = [key for key in matrix if key not in RESERVED_KEYS]
    lists = [_values(matrix[key], (*where, key), job_folder, problems) for key in keys]
    combinations = [dict(zip(keys, values, strict=True)) for values in itertools.product(*lists)]
    if not keys and matrix.get("include"):
        combinations = []  # only include entries: each is a combination
    for index, entry in enumerate(matrix.get("exclude", [])):
        unknown = [key for key in entry if key not in keys]
        if unknown:
            problems.add(
                (*where, "exclude", index, unknown[0]),
                f"{unknown[0]!r} is not a key of the matrix ({', '.join(keys)})",
                of_key=True,
            )
        combinations = [c for c in combinations if not _has_all(c, entry)]
    for entry in matrix.get("include", []):
        combinations = _include(combinations, entry, keys)
    if not combinations and all(lists):
        problems.add(where, "the matrix expands to no combination (exclude removes them all)")
    return combinations


def _has_all(combination: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    return all(key in combination and combination[key] == value for key, value in entry.items())


def _include(
    combinations: list[dict[str, Any]], entry: Mapping[str, Any], keys: list[str]
) -> list[dict[str, Any]]:
    own = {key: value for key, value in entry.items() if key in keys}
    extra = {key: value for key, value in entry.items() if key not in keys}
    matched = False
    for combination in combinations:
        if _has_all(combination, own):
            combination.update(extra)
            matched = True
    return combinations if matched else [*combinations, dict(entry)]


def _values(source: Any, where: Where, job_folder: Path, problems: Problems) -> list[Any]:
    if isinstance(source, list):
        return source
    if "glob" in source:
        return _glob_values(source["glob"], (*where, "glob"), job_folder, problems)
    return _file_values(source["file"], (*where, "file"), job_folder, problems)


def _glob_values(pattern: str, where: Where, job_folder: Path, problems: Problems) -> list[Any]:
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        problems.add(where, f"glob {pattern!r} must stay inside the job file's folder")
        return []
    matches = sorted(
        Path(match).relative_to(job_folder).as_posix()
        for match in glob.glob(str(job_folder / pattern), recursive=True)
        if Path(match).is_file()
    )
    if not matches:
        problems.add(where, f"glob {pattern!r} matches no file in {job_folder}")
    return matches


def _file_values(name: str, where: Where, job_folder: Path, problems: Problems) -> list[Any]:
    path = job_folder / name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(where, f"cannot read matrix file {path}: {getattr(exc, 'strerror', exc)}")
        return []
    values: Any
    if path.suffix in (".json", ".yaml", ".yml"):
        try:
            values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            problems.add(where, f"matrix file {path} is not valid {path.suffix[1:].upper()}: {exc}")
            return []
        if not isinstance(values, list):
            problems.add(where, f"matrix file {path} must hold a list")
            return []
    else:
        lines = (line.strip() for line in text.splitlines())
        values = [line for line in lines if line and not line.startswith("#")]
    if not values:
        problems.add(where, f"matrix file {path} holds no values")
    return list(values)
