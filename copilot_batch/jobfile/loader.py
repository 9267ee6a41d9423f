"""Job files → validated, expanded JobSpecs, or every problem in them at once."""

from __future__ import annotations

import difflib
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match, relevance

from ..errors import JobFileError, JobFilesInvalid, NoJobFilesError
from . import files
from .durations import parse_duration
from .expand import expand_job
from .located_yaml import LocatedDocument, json_path, read_yaml, shown
from .model import JobSpec, SourcePosition
from .problems import clipped

_SCHEMA_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
}
_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


@cache
def job_schema() -> dict[str, Any]:
    """The published JSON Schema of job files."""
    text = resources.files("copilot_batch.jobfile").joinpath("job.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def resolve_job_paths(patterns: Sequence[str]) -> list[Path]:
    """Paths and globs → existing files, in the order given, each once."""
    found: list[Path] = []
    unmatched: list[str] = []
    for pattern in patterns:
        matches = (
            sorted(glob.glob(pattern, recursive=True))
            if glob.has_magic(pattern)
            else ([pattern] if os.path.exists(pattern) else [])
        )
        files = [Path(match) for match in matches if os.path.isfile(match)]
        if not files:
            unmatched.append(pattern)
        found.extend(file for file in files if file not in found)
    if unmatched:
        raise NoJobFilesError(unmatched)
    return found


def load_jobs(
    paths: Iterable[str | Path], *, environ: Mapping[str, str] | None = None
) -> list[JobSpec]:
    """Load, validate and expand job files. Raises JobFilesInvalid listing every problem."""
    environ = os.environ if environ is None else environ
    jobs: list[JobSpec] = []
    errors: list[JobFileError] = []
    for path in paths:
        job, file_errors = _load_job(Path(path), environ)
        errors.extend(file_errors)
        if job is not None:
            jobs.append(job)
    errors.extend(_duplicate_task_ids(jobs))
    if errors:
        raise JobFilesInvalid(errors)
    return jobs


def _load_job(path: Path, environ: Mapping[str, str]) -> tuple[JobSpec | None, list[JobFileError]]:
    try:
        text = files.read_text(path)
    except ValueError as reason:
        return None, [JobFileError(path, 1, 1, None, f"the job file {reason}")]
    document = read_yaml(text)
    errors = [
        JobFileError(path, problem.position.line, problem.position.column, None, problem.message)
        for problem in document.problems
    ]
    if document.fatal:
        return None, errors
    if document.data is None:
        return None, [*errors, JobFileError(path, 1, 1, "$", "the job file is empty")]
    errors.extend(_schema_errors(document, path))
    if errors:
        return None, errors
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return expand_job(document, path, sha256, environ)


def _schema_errors(document: LocatedDocument, path: Path) -> list[JobFileError]:
    validator = jsonschema.Draft202012Validator(job_schema())
    place = _Place(document, path)
    errors: list[JobFileError] = []
    for error in sorted(validator.iter_errors(document.data), key=relevance):
        errors.extend(_describe(error, place))
    return errors


@dataclass(frozen=True)
class _Place:
    """Where in a job file a problem is: the line and column of a node."""

    document: LocatedDocument
    path: Path

    def error(self, message: str, segments: list[Any], *, of_key: bool = False) -> JobFileError:
        position = self.document.position(segments, of_key=of_key)
        rendered = json_path(segments)
        return JobFileError(self.path, position.line, position.column, rendered, clipped(message))


def _describe(error: ValidationError, place: _Place) -> list[JobFileError]:
    """One schema violation as JobFileErrors, worded for people and placed at the right node."""
    where = list(error.absolute_path)
    if error.validator == "additionalProperties":
        schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
        known = list(schema.get("properties", {}))
        instance: Any = error.instance
        unknown = [key for key in instance if key not in known]
        return [
            place.error(_unknown_key(key, known), [*where, key], of_key=True) for key in unknown
        ]
    if error.validator in ("oneOf", "anyOf"):
        described = _describe_choice(error, place)
        if described is not None:
            return described
    return [place.error(_message(error), where)]


def _describe_choice(error: ValidationError, place: _Place) -> list[JobFileError] | None:
    """A value that fits none (or several) of a oneOf's or anyOf's branches; ``None`` when
    the schema's own message says it best."""
    where = list(error.absolute_path)
    if error.validator == "oneOf":
        message = _one_of_message(error, where)
        if message is not None:
            return [place.error(message, where)]
    closest = _closest_branch(error)
    if closest is not None:
        return _describe(best_match(closest), place)
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if "description" in schema:
        return [
            place.error(f"invalid value {shown(error.instance)}: {schema['description']}", where)
        ]
    return None


def _one_of_message(error: ValidationError, where: list[Any]) -> str | None:
    """What is wrong with a duration, a permissions shorthand, or a task with both prompts."""
    instance: Any = error.instance
    if where[-1:] in (["timeout"], ["idle_timeout"]) or where[-2:-1] == ["retry_backoff"]:
        try:
            parse_duration(instance)
        except ValueError as exc:
            return str(exc)
    if where[-1:] == ["permissions"] and isinstance(instance, str):
        policy = "approve-all, deny-all or a policy with default and rules"
        return f"must be {policy}, not {shown(instance)}"
    if not error.context and where[-2:-1] == ["tasks"]:
        return "give prompt or prompt_file, not both"  # valid under both branches
    return None


def _closest_branch(error: ValidationError) -> list[ValidationError] | None:
    """The errors of the branch meant for this value: of those that accept its type, the one
    it misses by the fewest errors (a policy object, not a shorthand; a remote MCP server,
    not a local one). ``None`` when no branch accepts its type."""
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.schema_path[0], []).append(sub)
    fitting = [
        errors
        for errors in branches.values()
        if not any(
            not sub.relative_path and sub.validator in ("type", "enum", "const") for sub in errors
        )
    ]
    return min(fitting, key=len) if fitting else None


def _message(error: ValidationError) -> str:
    """A violation of a single rule (a type, a constant, a choice, a length), in words."""
    instance: Any = error.instance
    expected: Any = error.validator_value
    if error.validator == "type":
        names = [
            _SCHEMA_TYPE_NAMES.get(name, name)
            for name in ([expected] if isinstance(expected, str) else expected)
        ]
        actual = _JSON_TYPE_NAMES.get(type(instance), type(instance).__name__)
        return f"must be {' or '.join(names)}, not {actual}"
    if error.validator == "const" and list(error.absolute_path) == ["version"]:
        return f"unsupported version {shown(instance)}: this copilot-batch reads version 1"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, expected))}, not {shown(instance)}"
    if error.validator == "minItems" and expected == 1:
        return "must not be empty"
    return error.message


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.7)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
    return f"unknown key {shown(key)}{hint}"


def _duplicate_task_ids(jobs: Sequence[JobSpec]) -> list[JobFileError]:
    """Task ids name folders in the run, so they must be unique across every job file."""
    errors: list[JobFileError] = []
    first_seen: dict[str, SourcePosition] = {}
    for job in jobs:
        for task in job.tasks:
            where = task.position
            if task.id in first_seen:
                message = f"duplicate task id {task.id!r} (also at {first_seen[task.id]})"
                errors.append(
                    JobFileError(where.path, where.line, where.column, where.json_path, message)
                )
            else:
                first_seen[task.id] = where
    return errors
