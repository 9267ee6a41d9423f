"""A schema-valid job document → its tasks: defaults, matrix, templates, environment, tools."""

from __future__ import annotations

import importlib
import itertools
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import jinja2
from copilot import Tool
from jinja2.sandbox import SandboxedEnvironment

from ..errors import JobFileError
from .durations import parse_duration
from .located_yaml import JsonPathSegment, LocatedDocument, json_path
from .model import (
    DEFAULT_TIMEOUT_SECONDS,
    CustomToolRef,
    JobSpec,
    PermissionMode,
    SourcePosition,
    TaskSpec,
)

TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEMPLATES = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


class _Errors:
    """Collects JobFileErrors for one file, once per position and message."""

    def __init__(self, document: LocatedDocument, path: Path) -> None:
        self.document = document
        self.path = path
        self.found: dict[tuple[int, int, str, str], JobFileError] = {}

    def add(self, where: Sequence[JsonPathSegment], message: str, *, of_key: bool = False) -> None:
        position = self.document.position(where, of_key=of_key)
        rendered_path = json_path(where)
        key = (position.line, position.column, rendered_path, message)
        self.found.setdefault(
            key, JobFileError(self.path, position.line, position.column, rendered_path, message)
        )

    def source(self, where: Sequence[JsonPathSegment]) -> SourcePosition:
        position = self.document.position(where)
        return SourcePosition(self.path, position.line, position.column, json_path(where))


def expand_job(
    document: LocatedDocument, path: Path, sha256: str, environ: Mapping[str, str]
) -> tuple[JobSpec, list[JobFileError]]:
    """Expand a document that passed the schema. Returns the job and every problem found."""
    data: dict[str, Any] = document.data
    expander = _JobExpander(document, path, environ)
    tasks = [
        task
        for index, raw_task in enumerate(data["tasks"])
        for task in expander.expand_task(index, raw_task)
    ]
    job = JobSpec(
        name=expander.job_name,
        path=path,
        sha256=sha256,
        description=data.get("description"),
        tasks=tuple(tasks),
    )
    return job, list(expander.errors.found.values())


class _JobExpander:
    def __init__(self, document: LocatedDocument, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.errors = _Errors(document, path)
        self.job_name: str = document.data.get("name", path.stem)
        self.defaults: dict[str, Any] = document.data.get("defaults", {})
        self.combinations = list(_matrix_combinations(document.data.get("matrix", {})))
        self.tool_cache: dict[str, tuple[Tool, ...] | str] = {}

    def expand_task(self, index: int, raw_task: dict[str, Any]) -> Iterator[TaskSpec]:
        """One task entry × every matrix combination."""
        task_path: tuple[JsonPathSegment, ...] = ("tasks", index)

        def origin(key: str) -> tuple[JsonPathSegment, ...]:
            """Path of the value an option came from: the task's own, or the job's default."""
            return (*task_path, key) if key in raw_task else ("defaults", key)

        errors = self.errors
        options = {**self.defaults, **raw_task}
        timeout = _timeout(options.get("timeout"), origin("timeout"), errors)
        provider = _provider(options.get("provider"), origin("provider"), self.environ, errors)
        custom_tools = _custom_tools(
            options.get("tools", {}).get("custom", []),
            origin("tools"),
            self.path,
            self.tool_cache,
            errors,
        )
        templates: dict[str, _Compiled] = {
            key: _compile(options[key], origin(key), errors)
            for key in ("id", "prompt", "working_directory")
            if key in options
        }
        system_message = options.get("system_message")
        if system_message is not None:
            templates["system_message"] = _compile(
                system_message["content"], (*origin("system_message"), "content"), errors
            )
        compiled = {key: pair for key, pair in templates.items() if pair[0] is not None}
        if len(compiled) != len(templates):
            return

        for values in self.combinations:
            rendered = {
                key: _render(template, values, where, errors)
                for key, (template, where) in compiled.items()
                if template is not None
            }
            texts = {key: text for key, text in rendered.items() if text is not None}
            if len(texts) != len(rendered):
                continue
            task_id = texts["id"]
            if not TASK_ID_PATTERN.fullmatch(task_id) or task_id in (".", ".."):
                errors.add(
                    (*task_path, "id"),
                    f"task id {task_id!r} may only hold letters, digits, '.', '_' and '-'",
                )
                continue
            working_directory = _working_directory(
                texts.get("working_directory", "."), self.path, origin("working_directory"), errors
            )
            yield TaskSpec(
                id=task_id,
                job_name=self.job_name,
                job_file=self.path,
                position=errors.source((*task_path, "id")),
                prompt=texts["prompt"],
                matrix_values=values,
                working_directory=working_directory,
                timeout_seconds=timeout,
                permissions=cast(PermissionMode, options.get("permissions", "deny-all")),
                streaming=bool(options.get("streaming", False)),
                model=options.get("model"),
                provider=provider,
                system_message=(
                    {
                        "mode": system_message.get("mode", "append"),
                        "content": texts["system_message"],
                    }
                    if system_message is not None
                    else None
                ),
                custom_tools=custom_tools,
            )


def _matrix_combinations(matrix: Mapping[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of matrix values, in key order; one empty combination without a matrix."""
    keys = list(matrix)
    for values in itertools.product(*(matrix[key] for key in keys)):
        yield dict(zip(keys, values, strict=True))


def _timeout(
    value: str | float | None, where: tuple[JsonPathSegment, ...], errors: _Errors
) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        return parse_duration(value)
    except ValueError as exc:
        errors.add(where, str(exc))
        return DEFAULT_TIMEOUT_SECONDS


def _provider(
    provider: Mapping[str, Any] | None,
    where: tuple[JsonPathSegment, ...],
    environ: Mapping[str, str],
    errors: _Errors,
) -> dict[str, Any] | None:
    """The provider block with ``${VAR}`` references replaced from the environment."""
    if provider is None:
        return None

    def substitute(value: Any, value_path: tuple[JsonPathSegment, ...]) -> Any:
        if isinstance(value, dict):
            return {key: substitute(item, (*value_path, key)) for key, item in value.items()}
        if not isinstance(value, str):
            return value

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                errors.add(value_path, f"environment variable {name} is not set")
                return ""
            return environ[name]

        return _ENV_REFERENCE.sub(lookup, value)

    return cast(dict[str, Any], substitute(provider, where))


def _custom_tools(
    import_paths: Sequence[str],
    where: tuple[JsonPathSegment, ...],
    job_path: Path,
    cache: dict[str, tuple[Tool, ...] | str],
    errors: _Errors,
) -> tuple[CustomToolRef, ...]:
    refs: list[CustomToolRef] = []
    for index, import_path in enumerate(import_paths):
        if import_path not in cache:
            cache[import_path] = _import_tools(import_path, job_path.parent)
        resolved = cache[import_path]
        if isinstance(resolved, str):
            errors.add((*where, "custom", index), resolved)
        else:
            refs.append(CustomToolRef(import_path, resolved))
    return tuple(refs)


def _import_tools(import_path: str, job_folder: Path) -> tuple[Tool, ...] | str:
    """The tools at ``module:attribute``, or a message saying why there are none.

    The job file's folder is importable, so a ``tools.py`` beside the job file works.
    """
    module_name, attribute = import_path.split(":", 1)
    sys.path.insert(0, str(job_folder))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        return f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
    finally:
        sys.path.remove(str(job_folder))
    if not hasattr(module, attribute):
        return f"module {module_name!r} has no attribute {attribute!r}"
    value = getattr(module, attribute)
    tools = tuple(value) if isinstance(value, list | tuple) else (value,)
    for tool in tools:
        if not isinstance(tool, Tool):
            return (
                f"{import_path!r} is not a tool made with copilot.define_tool "
                f"(it is {type(tool).__name__})"
            )
    return tools


_Compiled = tuple[jinja2.Template | None, tuple[JsonPathSegment, ...]]


def _compile(source: str, where: tuple[JsonPathSegment, ...], errors: _Errors) -> _Compiled:
    try:
        return _TEMPLATES.from_string(source), where
    except jinja2.TemplateSyntaxError as exc:
        errors.add(where, f"template syntax error on template line {exc.lineno}: {exc.message}")
        return None, where


def _render(
    template: jinja2.Template,
    values: Mapping[str, Any],
    where: tuple[JsonPathSegment, ...],
    errors: _Errors,
) -> str | None:
    try:
        return template.render(values)
    except jinja2.UndefinedError as exc:
        known = ", ".join(values) if values else "none; the job has no matrix"
        errors.add(where, f"template error: {exc.message} (variables: {known})")
    except Exception as exc:
        errors.add(where, f"template error: {type(exc).__name__}: {exc}")
    return None


def _working_directory(
    rendered: str, job_path: Path, where: tuple[JsonPathSegment, ...], errors: _Errors
) -> Path:
    directory = (job_path.parent / rendered).resolve()
    if not directory.is_dir():
        errors.add(where, f"working directory {rendered!r} ({directory}) is not a directory")
    return directory
