"""A schema-valid job document → its tasks: defaults, matrix, templates, options, tools."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from copilot import Tool
from jinja2.sandbox import SandboxedEnvironment

from ..errors import JobFileError
from .custom_tools import ToolImportError, import_attribute, tools_from
from .durations import parse_duration
from .located_yaml import LocatedDocument
from .matrix import matrix_combinations
from .model import (
    DEFAULT_RETRY_INITIAL,
    DEFAULT_RETRY_MAX,
    DEFAULT_TIMEOUT_SECONDS,
    CustomToolRef,
    JobSpec,
    TaskSpec,
)
from .options import (
    mcp_servers_option,
    output_schema_option,
    permission_policy,
    provider_option,
    skills_option,
    tool_filter,
    workspace_option,
)
from .problems import Problems, Where
from .workspace_exclude import workspace_exclude_option

TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
_TEMPLATES = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


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
        cli_url=data.get("cli_url"),
    )
    return job, list(expander.problems.found.values())


class _JobExpander:
    def __init__(self, document: LocatedDocument, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.problems = Problems(document, path)
        self.job_name: str = document.data.get("name", path.stem)
        self.defaults: dict[str, Any] = document.data.get("defaults", {})
        self.combinations = matrix_combinations(
            document.data.get("matrix", {}), ("matrix",), path.parent, self.problems
        )
        self.imported: dict[str, Any] = {}
        self.made_tools: dict[tuple[str, str, Path], tuple[Tool, ...]] = {}
        self.compiled: dict[str, jinja2.Template | None] = {}

    def expand_task(self, index: int, raw_task: dict[str, Any]) -> Iterator[TaskSpec]:
        """One task entry × every matrix combination."""
        task_path: Where = ("tasks", index)

        def origin(key: str) -> Where:
            """Path of the value an option came from: the task's own, or the job's default."""
            return (*task_path, key) if key in raw_task else ("defaults", key)

        problems = self.problems
        options = {**self.defaults, **raw_task}
        secrets: list[str] = []
        timeout = _duration(options.get("timeout"), origin("timeout"), problems)
        idle_timeout = _duration(options.get("idle_timeout"), origin("idle_timeout"), problems)
        backoff = options.get("retry_backoff", {})
        retry_backoff = (
            _duration(backoff.get("initial"), (*origin("retry_backoff"), "initial"), problems),
            _duration(backoff.get("max"), (*origin("retry_backoff"), "max"), problems),
        )
        provider = provider_option(
            options.get("provider"), origin("provider"), self.environ, problems, secrets
        )
        mcp_servers = mcp_servers_option(
            options.get("mcp_servers"),
            origin("mcp_servers"),
            self.path.parent,
            self.environ,
            problems,
            secrets,
        )
        policy = permission_policy(options.get("permissions"), origin("permissions"), problems)
        output_schema = output_schema_option(
            options.get("output_schema"), origin("output_schema"), self.path.parent, problems
        )
        skill_directories, disabled_skills = skills_option(
            options.get("skills"), origin("skills"), self.path.parent, problems
        )
        tools = options.get("tools", {})
        templates: dict[str, tuple[str, Where]] = {
            key: (options[key], origin(key))
            for key in ("id", "prompt", "working_directory")
            if key in options
        }
        if "prompt_file" in raw_task:
            where = (*task_path, "prompt_file")
            prompt = _read_prompt_file(self.path.parent / raw_task["prompt_file"], where, problems)
            if prompt is None:
                return
            templates["prompt"] = (prompt, where)
        system_message = options.get("system_message")
        if system_message is not None:
            templates["system_message"] = (
                system_message["content"],
                (*origin("system_message"), "content"),
            )
        if any(self._compile(source, where) is None for source, where in templates.values()):
            return

        combinations = (
            matrix_combinations(
                raw_task["matrix"], (*task_path, "matrix"), self.path.parent, problems
            )
            if "matrix" in raw_task
            else self.combinations
        )
        for values in combinations:
            texts = {key: self._render(*template, values) for key, template in templates.items()}
            if any(text is None for text in texts.values()):
                continue
            task_id = str(texts["id"])
            if not TASK_ID_PATTERN.fullmatch(task_id) or task_id in (".", ".."):
                problems.add(
                    (*task_path, "id"),
                    f"task id {task_id!r} may only hold letters, digits, '.', '_' and '-'",
                )
                continue
            working_directory = _working_directory(
                str(texts.get("working_directory") or "."),
                self.path,
                origin("working_directory"),
                problems,
            )
            custom_tools = self._custom_tools(
                tools.get("custom", []), (*origin("tools"), "custom"), values, working_directory
            )
            custom_names = [tool.name for ref in custom_tools for tool in ref.tools]
            servers = list(mcp_servers or {})

            available_tools, excluded_tools = (
                tool_filter(
                    tools.get(key), (*origin("tools"), key), custom_names, servers, problems
                )
                for key in ("available", "excluded")
            )
            yield TaskSpec(
                id=task_id,
                job_name=self.job_name,
                job_file=self.path,
                position=problems.source((*task_path, "id")),
                prompt=str(texts["prompt"]),
                matrix_values=values,
                working_directory=working_directory,
                timeout_seconds=timeout or DEFAULT_TIMEOUT_SECONDS,
                idle_timeout_seconds=idle_timeout,
                retries=int(options.get("retries", 0)),
                retry_backoff=(
                    retry_backoff[0] or DEFAULT_RETRY_INITIAL,
                    retry_backoff[1] or DEFAULT_RETRY_MAX,
                ),
                permissions=policy,
                streaming=bool(options.get("streaming", False)),
                model=options.get("model"),
                provider=provider,
                system_message=(
                    {
                        "mode": system_message.get("mode", "append"),
                        "content": str(texts["system_message"]),
                    }
                    if system_message is not None
                    else None
                ),
                custom_tools=custom_tools,
                available_tools=available_tools,
                excluded_tools=excluded_tools,
                skill_directories=skill_directories,
                disabled_skills=disabled_skills,
                mcp_servers=mcp_servers,
                workspace=workspace_option(
                    options.get("workspace"), origin("workspace"), working_directory, problems
                ),
                workspace_exclude=workspace_exclude_option(
                    options.get("workspace_exclude"), origin("workspace_exclude"), problems
                ),
                output_schema=output_schema,
                secrets=tuple(secrets),
            )

    def _custom_tools(
        self,
        entries: list[str | dict[str, Any]],
        where: Where,
        values: Mapping[str, Any],
        working_directory: Path,
    ) -> tuple[CustomToolRef, ...]:
        refs: list[CustomToolRef] = []
        for index, entry in enumerate(entries):
            entry_path: Where = (*where, index)
            import_path = entry if isinstance(entry, str) else entry["use"]
            options = None
            if isinstance(entry, dict) and "with" in entry:
                options = self._render_data(entry["with"], (*entry_path, "with"), values)
                if options is None:
                    continue
            try:
                if import_path not in self.imported:
                    self.imported[import_path] = import_attribute(import_path, self.path.parent)
                key = (import_path, json.dumps(options, sort_keys=True), working_directory)
                if key not in self.made_tools:
                    self.made_tools[key] = tools_from(
                        self.imported[import_path], import_path, options, working_directory
                    )
            except ToolImportError as exc:
                self.imported.setdefault(import_path, None)
                self.problems.add(entry_path, str(exc))
                continue
            refs.append(CustomToolRef(import_path, options, self.made_tools[key]))
        return tuple(refs)

    def _compile(self, source: str, where: Where) -> jinja2.Template | None:
        if source not in self.compiled:
            try:
                self.compiled[source] = _TEMPLATES.from_string(source)
            except jinja2.TemplateSyntaxError as exc:
                self.compiled[source] = None
                self.problems.add(
                    where, f"template syntax error on template line {exc.lineno}: {exc.message}"
                )
        return self.compiled[source]

    def _render(self, source: str, where: Where, values: Mapping[str, Any]) -> str | None:
        template = self._compile(source, where)
        if template is None:
            return None
        try:
            return template.render(values)
        except jinja2.UndefinedError as exc:
            known = ", ".join(values) if values else "none; the job has no matrix"
            self.problems.add(where, f"template error: {exc.message} (variables: {known})")
        except Exception as exc:
            self.problems.add(where, f"template error: {type(exc).__name__}: {exc}")
        return None

    def _render_data(self, data: Any, where: Where, values: Mapping[str, Any]) -> Any:
        """``data`` with every string rendered as a template; ``None`` if one failed."""
        failed = False

        def render(item: Any, item_path: Where) -> Any:
            nonlocal failed
            if isinstance(item, dict):
                return {key: render(value, (*item_path, key)) for key, value in item.items()}
            if isinstance(item, list):
                return [render(value, (*item_path, i)) for i, value in enumerate(item)]
            if isinstance(item, str):
                text = self._render(item, item_path, values)
                failed = failed or text is None
                return text
            return item

        rendered = render(data, where)
        return None if failed else rendered


def _read_prompt_file(path: Path, where: Where, problems: Problems) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(where, f"cannot read prompt file {path}: {getattr(exc, 'strerror', exc)}")
        return None


def _duration(value: str | float | None, where: Where, problems: Problems) -> float | None:
    """Seconds, or ``None`` when the job file gives no value (or a bad one, reported)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        problems.add(where, str(exc))
        return None


def _working_directory(rendered: str, job_path: Path, where: Where, problems: Problems) -> Path:
    directory = (job_path.parent / rendered).resolve()
    if not directory.is_dir():
        problems.add(where, f"working directory {rendered!r} ({directory}) is not a directory")
    return directory
