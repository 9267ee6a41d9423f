"""Reading run folders back: ``run.json``, ``tasks/<id>/result.json`` and ``summary.md``.

Every command that reads a run folder (``show``, ``resume``, ``apply``, ``merge``,
``clean`` and the reports) reads it here, and gets typed records (:class:`StoredRun`,
:class:`StoredTask`) whose states are enums. A run folder may come from another process,
another machine or an older version, or be damaged, so each file is checked before anything
uses it: a regular file of bounded size, UTF-8 JSON, the shape copilot-batch writes (a JSON
Schema), times with their UTC offset. A file that is not gives a :class:`RunFolderError`
naming the file and the field; nothing reads past it. Only ``clean``, which must work on
what a killed run left, reads what it needs leniently (:func:`worktree_records`).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from ..errors import RunFolderError, RunNotFoundError
from ..files import read_regular_file
from ..records import RunStatus, TaskStatus
from .layout import RunFolder

# Far above what copilot-batch writes (docs/reliability.md): a guard against a runaway
# file, not a limit runs meet.
MAX_RECORD_BYTES = 1024 * 1024 * 1024
# Run ids and task ids name folders: one path component, no "." or "..", no separators.
NAME_PATTERN = r"^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$"
# How a run ended (``running`` until its last write), from best to worst.
RUN_STATES = (
    RunStatus.FINISHED,
    RunStatus.BUDGET_EXHAUSTED,
    RunStatus.TIMED_OUT,
    RunStatus.INTERRUPTED,
    RunStatus.FAILED,
    RunStatus.RUNNING,
)
_TIME_FORMAT = "time with UTC offset"
# Far deeper than anything copilot-batch writes, and well inside Python's recursion limit.
MAX_NESTING = 500
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def name_problem(name: str, what: str) -> str | None:
    """Why ``name`` cannot name a run's or a task's folder, or None."""
    if re.fullmatch(NAME_PATTERN, name):
        return None
    return (
        f"{what} {_short(name)} must be 1 to 128 letters, digits, '.', '_' or '-', "
        "and not '.' or '..'"
    )


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null. (Not anyOf: its errors would be about null.)"""
    return {**schema, "type": [schema["type"], "null"]}


_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": _TIME_FORMAT}
_TEXT = {"type": "string"}
_NAME = {
    "type": "string",
    "pattern": NAME_PATTERN,
    "x-expected": "a name of letters, digits, '.', '_' or '-'",
}
# Runs before unreported usage was told apart have no reported, unreported_calls or
# estimated_tokens (records.Usage.from_record: all reported).
_USAGE = {
    "type": "object",
    "required": ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                 "total_tokens"],
    "properties": {
        **{key: _COUNT for key in ("input_tokens", "output_tokens", "cache_read_tokens",
                                   "cache_write_tokens", "total_tokens", "unreported_calls",
                                   "estimated_tokens")},
        "reported": {"type": "boolean"},
    },
}  # fmt: skip
_ATTEMPT = {
    "type": "object",
    "properties": {
        "attempt": _COUNT,
        "status": {"enum": [str(status) for status in TaskStatus]},
        "started_at": _nullable(_TIME),
        "finished_at": _nullable(_TIME),
        "error": _nullable(_TEXT),
        "rate_limited": _COUNT,
    },
}
_AUDIT_ENTRY = {
    "type": "object",
    "required": ["decision", "kind", "target", "rule"],
    "properties": {key: _TEXT for key in ("decision", "kind", "target", "rule")},
}
_SANDBOX_DENIAL = {
    "type": "object",
    "required": ["denial", "confidence", "reported_by"],
    "properties": {key: _TEXT for key in ("denial", "confidence", "reported_by")},
}
_HOOK_DECISION = {
    "type": "object",
    "required": ["hook", "handler", "decision"],
    "properties": {key: _TEXT for key in ("hook", "handler", "decision")},
}
_QUESTION = {
    "type": "object",
    "required": ["question", "answer"],
    "properties": {"question": _TEXT, "answer": _TEXT, "choices": {"type": "array"}},
}
# A turn of a task with steps (result.json's ``steps``; step 0 is the task's prompt).
_STEP = {
    "type": "object",
    "required": ["step", "status", "usage"],
    "properties": {
        "step": _COUNT,
        "status": {"enum": [str(status) for status in TaskStatus]},
        "model": _nullable(_TEXT),
        "started_at": _TIME,
        "finished_at": _nullable(_TIME),
        "final_message": _nullable(_TEXT),
        "usage": _USAGE,
        "tool_calls": _COUNT,
        "error": _nullable(_TEXT),
    },
}
# A task as run.json lists it; result.json adds the expanded spec, audit and workspace.
TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "job", "status", "usage", "tool_calls", "permission_denials"],
    "properties": {
        "id": _NAME,
        "job": _TEXT,
        "status": {"enum": [str(status) for status in TaskStatus]},
        "started_at": _nullable(_TIME),
        "finished_at": _nullable(_TIME),
        "duration_seconds": _nullable({"type": "number", "minimum": 0}),
        "final_message": _nullable(_TEXT),
        "usage": _USAGE,
        "tool_calls": _COUNT,
        "turns": _COUNT,
        "usage_by_model": {"type": "object", "additionalProperties": _USAGE},
        "premium_requests": _nullable({"type": "number", "minimum": 0}),
        "ai_credits": _nullable({"type": "number", "minimum": 0}),
        "permission_denials": _COUNT,
        "sandbox_denials": _COUNT,
        "hook_decisions": _COUNT,
        "questions": _COUNT,
        "rate_limited": _COUNT,
        "error": _nullable(_TEXT),
        "error_type": _nullable(_TEXT),
        "attempt": _COUNT,
        "changed_files": {"type": "array", "items": _TEXT},
        "patch": _nullable(
            {
                "type": "string",
                "pattern": r"^tasks/[^/]+/changes\.patch$",
                "x-expected": "tasks/<id>/changes.patch",
            }
        ),
        "matrix": {"type": "object"},
        "prompt": _TEXT,
        "options": {"type": "object"},
        "spec_hash": _TEXT,
        "session_id": _nullable(_TEXT),
        "permission_audit": {"type": "array", "items": _AUDIT_ENTRY},
        "sandbox_audit": {"type": "array", "items": _SANDBOX_DENIAL},
        "hook_audit": {"type": "array", "items": _HOOK_DECISION},
        "question_audit": {"type": "array", "items": _QUESTION},
        "workspace": _nullable(
            {"type": "object", "required": ["patch_root"], "properties": {"patch_root": _TEXT}}
        ),
        "status_code": _nullable({"type": "integer"}),
        "attempts": {"type": "array", "items": _ATTEMPT},
        "input_key": _TEXT,
        "reused_from": _NAME,
        "steps": {"type": "array", "items": _STEP},
    },
}
RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["run_id", "state", "started_at", "job_files", "tasks"],
    "properties": {
        "run_id": _NAME,
        "state": {"enum": [str(state) for state in RUN_STATES]},
        "failure": _nullable(_TEXT),
        "started_at": _TIME,
        "finished_at": _nullable(_TIME),
        "duration_seconds": _nullable({"type": "number", "minimum": 0}),
        "job_files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "sha256"],
                "properties": {
                    "path": {"type": "string", "pattern": "^[^\\x00]+$", "x-expected": "a path"},
                    "sha256": _TEXT,
                },
            },
        },
        "options": {
            "type": "object",
            "properties": {
                "only": {"type": "array", "items": _TEXT},
                "shard": _nullable({"type": "string", "pattern": r"^[0-9]{1,9}/[0-9]{1,9}$"}),
            },
        },
        "environment": {"type": "object"},
        "resumed_at": {"type": "array", "items": _TIME},
        "tasks": {"type": "array", "items": TASK_SCHEMA},
    },
}


@dataclass(frozen=True)
class StoredTask:
    """A task as run.json lists it, or as its result.json holds it (with the expanded spec,
    the permission audit and the workspace besides); ``record`` is its JSON, checked."""

    record: dict[str, Any]

    @property
    def id(self) -> str:
        task_id: str = self.record["id"]
        return task_id

    @property
    def status(self) -> TaskStatus:
        return TaskStatus(self.record["status"])

    @property
    def finished_at(self) -> datetime | None:
        finished = self.record.get("finished_at")
        return datetime.fromisoformat(finished) if finished else None

    @property
    def patch(self) -> str | None:
        """``tasks/<id>/changes.patch``, relative to the run folder, when the task changed
        files."""
        patch: str | None = self.record.get("patch")
        return patch

    @property
    def patch_root(self) -> str | None:
        """The folder the patch applies to (result.json's ``workspace.patch_root``)."""
        workspace = self.record.get("workspace")
        return str(workspace["patch_root"]) if workspace else None

    @property
    def changed_files(self) -> list[str]:
        files: list[str] = self.record.get("changed_files", [])
        return files

    @property
    def spec_hash(self) -> str | None:
        spec_hash: str | None = self.record.get("spec_hash")
        return spec_hash

    @property
    def input_key(self) -> str | None:
        """The key of the task's spec and inputs, when an incremental run recorded it."""
        key: str | None = self.record.get("input_key")
        return key

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Earlier attempts that failed transiently, oldest first."""
        attempts: list[dict[str, Any]] = self.record.get("attempts", [])
        return attempts


@dataclass(frozen=True)
class StoredRun:
    """A run folder's ``run.json``, checked; ``record`` is its content."""

    path: Path
    record: dict[str, Any]

    @property
    def run_id(self) -> str:
        run_id: str = self.record["run_id"]
        return run_id

    @property
    def state(self) -> RunStatus:
        return RunStatus(self.record["state"])

    @property
    def failure(self) -> str | None:
        """Why the run failed to start, when it did."""
        failure: str | None = self.record.get("failure")
        return failure

    @property
    def tasks(self) -> list[StoredTask]:
        """run.json's task entries, in run order."""
        return [StoredTask(entry) for entry in self.record["tasks"]]

    @property
    def job_paths(self) -> list[str]:
        """The job files the run read, as it named them."""
        return [job["path"] for job in self.record["job_files"]]

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.record["started_at"])

    @property
    def finished_at(self) -> datetime | None:
        finished = self.record.get("finished_at")
        return datetime.fromisoformat(finished) if finished else None

    @property
    def duration_seconds(self) -> float | None:
        """The wall time run.json accounts for (a resume's earlier runs' while it lasts)."""
        duration = self.record.get("duration_seconds")
        return float(duration) if duration is not None else None

    @property
    def resumed_at(self) -> list[str]:
        """When the run was resumed, oldest first."""
        resumed: list[str] = self.record.get("resumed_at", [])
        return resumed

    @property
    def only(self) -> tuple[str, ...]:
        """The run's own ``--only`` patterns."""
        return tuple(self.record.get("options", {}).get("only") or ())

    @property
    def shard(self) -> str | None:
        """The run's own ``--shard`` (``I/N``), as written."""
        shard: str | None = self.record.get("options", {}).get("shard")
        return shard

    def results(self) -> list[StoredTask]:
        """Each task's result.json, or its run.json entry when it has none, in run order."""
        return [read_result(self.path, task.id) or task for task in self.tasks]


def find_run(name: str, out_dir: Path) -> Path:
    """RUN as a folder, or as a run id under ``out_dir``: whichever has a run.json (of any
    kind: :func:`read_run` says what is wrong with it)."""
    for candidate in (Path(name), out_dir / name):
        if os.path.lexists(RunFolder.ended(candidate).run_json):
            return candidate
    raise RunNotFoundError(name)


def runs_under(out_dir: Path) -> list[Path]:
    """The run folders (those holding a run.json) in ``out_dir``, by name."""
    if not out_dir.is_dir():
        return []
    return sorted(child for child in out_dir.iterdir() if RunFolder.holds_a_run(child))


def last_written(run_path: Path) -> float:
    """When the run's run.json was last written (seconds since the epoch)."""
    return RunFolder.ended(run_path).run_json.stat().st_mtime


def read_run(folder: Path) -> StoredRun:
    """``folder``'s run.json, checked. RunNotFoundError when there is none."""
    paths = RunFolder.ended(folder)
    path = paths.run_json
    if not os.path.lexists(path):
        raise RunNotFoundError(str(folder))
    record = _read_checked(path, "run")
    ids = [entry["id"] for entry in record["tasks"]]
    if len(set(ids)) < len(ids):
        repeated = next(task_id for task_id, count in Counter(ids).items() if count > 1)
        raise RunFolderError(path, f"lists task {repeated!r} more than once", "$.tasks")
    tasks_folder = RunFolder.ended(folder).tasks_dir
    if ids and not tasks_folder.is_dir():
        what = "is not a folder" if os.path.lexists(tasks_folder) else "is missing"
        raise RunFolderError(tasks_folder, f"{what}, though the run has {len(ids)} task(s)")
    return StoredRun(folder, record)


def read_task(folder: Path, task_id: str) -> StoredTask:
    """The task's result.json, or its run.json entry when it has none (run.json is only
    read then); RunNotFoundError when the run has neither."""
    if name_problem(task_id, "task id") is not None:
        raise RunNotFoundError(str(folder), task_id)
    found = read_result(folder, task_id)
    if found is None:
        found = next((task for task in read_run(folder).tasks if task.id == task_id), None)
    if found is None:
        raise RunNotFoundError(str(folder), task_id)
    return found


def read_result(folder: Path, task_id: str) -> StoredTask | None:
    """The task's result.json in the run ``folder``, checked; None if there is no file."""
    path = RunFolder.ended(folder).result_path(task_id)
    if not os.path.lexists(path):
        return None
    record = _read_checked(path, "task")
    if record["id"] != task_id:
        found = _short(record["id"])
        raise RunFolderError(path, f"expected {task_id!r} (its folder), found {found}", "$.id")
    return StoredTask(record)


def read_patch(folder: Path, task: StoredTask) -> str | None:
    """The text of the task's changes.patch in the run ``folder``, if it has one."""
    if not task.patch:
        return None
    path = folder / task.patch
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as error:
        raise RunFolderError(path, f"is not UTF-8 text (byte {error.start})") from None


def read_events(folder: Path, task_id: str) -> list[dict[str, Any]]:
    """The task's events.jsonl, one dict a line; none when it has no event log. A line that
    is not a JSON object (the last one of a killed run may be cut short) is skipped."""
    path = RunFolder.ended(folder).events_path(task_id)
    if not os.path.lexists(path):
        return []
    events = []
    for line in _read_bytes(path).decode("utf-8", errors="replace").splitlines():
        value = _read_line(line)
        if isinstance(value, dict):
            events.append(value)
    return events


def _read_line(line: str) -> Any:
    try:
        return _DECODER.decode(line)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return None


def read_summary(folder: Path) -> str | None:
    """summary.md's text, or None when it is missing or not a readable UTF-8 file."""
    try:
        return _read_bytes(RunFolder.ended(folder).summary_md).decode("utf-8")
    except (RunFolderError, UnicodeDecodeError):
        return None


def merged_from(folder: Path) -> list[str]:
    """The ids of the shards a merged run was made of; none when it was not merged, or
    its run.json cannot be read (``clean`` goes on with what it can read)."""
    run = _read_leniently(RunFolder.ended(folder).run_json)
    merged = run.get("merged_from") if isinstance(run, dict) else None
    return [run_id for run_id in merged or () if isinstance(run_id, str) and run_id]


def worktree_records(folder: Path) -> list[dict[str, Any]]:
    """The ``workspace`` records of the run's git-worktree tasks, from the result.json
    files that can be read, whatever else they hold (``clean`` goes on with those)."""
    paths, records = RunFolder.ended(folder), []
    for task_folder in sorted(RunFolder.ended(folder).tasks_dir.glob("*")):
        record = _read_leniently(paths.result_path(task_folder.name))
        workspace = record.get("workspace") if isinstance(record, dict) else None
        if isinstance(workspace, dict) and workspace.get("mode") == "git-worktree":
            records.append(workspace)
    return records


def _read_leniently(path: Path) -> Any:
    """A JSON file's value, unchecked; ``None`` when it is missing or unreadable. Read as
    every run-folder file is: a FIFO there is not waited on."""
    try:
        return json.loads(read_regular_file(path, MAX_RECORD_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _read_checked(path: Path, kind: Literal["run", "task"]) -> dict[str, Any]:
    """A run.json or result.json, checked against its schema."""
    data = _parse(path, _read_bytes(path))
    error = best_match(_validator(kind).iter_errors(data))
    if error is not None:
        raise RunFolderError(path, _message(error), _json_path(error.absolute_path))
    checked: dict[str, Any] = data
    return checked


def _read_bytes(path: Path) -> bytes:
    try:
        return read_regular_file(path, MAX_RECORD_BYTES)
    except FileNotFoundError:
        raise RunFolderError(path, "is missing") from None
    except OSError as error:
        raise RunFolderError(path, f"cannot be read: {error.strerror or error}") from None


def _parse(path: Path, data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RunFolderError(path, f"is not UTF-8 text (byte {error.start})") from None
    if _nesting(text) > MAX_NESTING:
        # Refused before json.loads, whose RecursionError can strike finalizers too.
        raise RunFolderError(
            path, f"is not valid JSON: nested too deeply (over {MAX_NESTING} levels)"
        )
    try:
        value = _DECODER.decode(text)
        if _SURROGATE_ESCAPE.search(text):  # a pair is one character; half of one is none
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise RunFolderError(
            path, "holds half of a UTF-16 surrogate pair (\\ud800-\\udfff)"
        ) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise RunFolderError(path, f"is not valid JSON ({where}: {error.msg})") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise RunFolderError(path, f"is not valid JSON: {_one_line(str(error))}") from None


def _nesting(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest (strings skipped)."""
    brackets = _BRACKET.findall(_JSON_STRING.sub("", text))
    return max(accumulate(1 if bracket in "[{" else -1 for bracket in brackets), default=0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# One decoder for every line: json.loads with an option makes a new one each call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


@cache
def _validator(kind: Literal["run", "task"]) -> Draft202012Validator:
    """The validator of run.json or of result.json, which checks times as times."""
    checker = FormatChecker(formats=())
    checker.checks(_TIME_FORMAT, raises=ValueError)(_check_time)
    schema = RUN_SCHEMA if kind == "run" else TASK_SCHEMA
    return Draft202012Validator(schema, format_checker=checker)


def _check_time(value: object) -> bool:
    """An ISO 8601 time with its UTC offset: naive times cannot be compared with others."""
    if not isinstance(value, str):
        return True
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{_short(value)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{_short(value)} is a time without a UTC offset")
    return True


def _message(error: ValidationError) -> str:
    """One short line: the offending value shortened, whatever its size."""
    if error.validator == "format" and error.cause is not None:
        return _one_line(str(error.cause))
    found = _short(error.instance)
    rule: Any = error.validator_value
    expected = error.schema.get("x-expected") if isinstance(error.schema, dict) else None
    if expected:
        return f"expected {expected}, found {found}"
    if error.validator == "type":
        return f"expected {' or '.join([rule] if isinstance(rule, str) else rule)}, found {found}"
    if error.validator == "enum":
        return f"expected one of {', '.join(str(choice) for choice in rule)}, found {found}"
    if error.validator == "required":
        instance: Any = error.instance
        missing = next(key for key in rule if key not in instance)
        return f"misses the key {missing!r}"
    return _one_line(f"{found}: {error.validator} {rule}")


def _json_path(parts: Sequence[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _short(value: Any, width: int = 60) -> str:
    """A value as JSON, cut to ``width`` characters: messages stay one short line."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def _one_line(text: str, width: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
