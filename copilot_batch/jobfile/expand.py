"""A schema-valid job document → its tasks: defaults, matrix, templates, options, tools."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HookImportError, JobFileError, ToolImportError
from . import files
from .agents import AgentReader, agent_choice
from .custom_tools import import_attribute, tools_from
from .durations import duration_option
from .hooks import HOOK_KINDS, hook_function, hook_secrets, imported
from .located_yaml import LocatedDocument, shown
from .matrix import Matrix, read_matrix
from .model import (
    DEFAULT_MAX_TASKS,
    DEFAULT_RETRY_INITIAL,
    DEFAULT_RETRY_MAX,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_TASKS_LIMIT,
    CustomToolRef,
    HookRef,
    JobSpec,
    PermissionPolicy,
    SandboxPolicy,
    TaskLimits,
    TaskSpec,
)
from .model_capabilities import capabilities_option
from .model_options import instruction_directories_option, sections_option, system_message_option
from .options import (
    cli_url_option,
    mcp_servers_option,
    output_schema_option,
    permission_policy,
    provider_option,
    skills_option,
    tool_filter,
    workspace_exclude_option,
    workspace_option,
)
from .problems import Problems, Where
from .sandbox import sandbox_option
from .steps import StepTemplate, rendered_attachments, rendered_steps, step_templates
from .templates import Templates

if TYPE_CHECKING:
    from copilot import Tool

TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
# A task id names its folder and its workspaces (<id>-attempt-N): they must fit in 255 bytes.
MAX_TASK_ID_LENGTH = 200


def expand_job(
    document: LocatedDocument, path: Path, sha256: str, environ: Mapping[str, str]
) -> tuple[JobSpec, list[JobFileError]]:
    """Expand a document that passed the schema. Returns the job and every problem found."""
    data: dict[str, Any] = document.data
    expander = _JobExpander(document, path, environ)
    matrices = [expander.matrix_of(index, raw_task) for index, raw_task in enumerate(data["tasks"])]
    tasks: list[TaskSpec] = []
    if expander.fits(matrices, data.get("max_tasks")):
        tasks = [
            task
            for index, (raw_task, matrix) in enumerate(zip(data["tasks"], matrices, strict=True))
            for task in expander.expand_task(index, raw_task, matrix)
        ]
    job = JobSpec(
        name=expander.job_name,
        path=path,
        sha256=sha256,
        description=data.get("description"),
        tasks=tuple(tasks),
        cli_url=cli_url_option(data.get("cli_url"), ("cli_url",), expander.problems),
        incremental=bool(data.get("incremental", False)),
        budget_tokens=_budget_tokens(data.get("budget")),
    )
    return job, list(expander.problems.found.values())


@dataclass(frozen=True)
class _Entry:
    """A task entry, where it is, and its options over the job's defaults."""

    where: Where
    raw: dict[str, Any]
    options: dict[str, Any]

    def origin(self, key: str) -> Where:
        """Path of the value an option came from: the task's own, or the job's default."""
        return (*self.where, key) if key in self.raw else ("defaults", key)


@dataclass(frozen=True)
class _SharedOptions:
    """What every combination of a task entry shares: its options checked once."""

    timeout: float | None
    idle_timeout: float | None
    retry_initial: float | None
    retry_max: float | None
    provider: dict[str, Any] | None
    mcp_servers: dict[str, dict[str, Any]] | None
    policy: PermissionPolicy
    output_schema: dict[str, Any] | None
    skills: tuple[tuple[Path, ...], tuple[str, ...]]  # directories, disabled names
    secrets: list[str]


@dataclass(frozen=True)
class _TaskTools:
    custom: tuple[CustomToolRef, ...]
    available: tuple[str, ...] | None
    excluded: tuple[str, ...] | None


class _JobExpander:
    def __init__(self, document: LocatedDocument, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.problems = Problems(document, path)
        self.job_name: str = document.data.get("name", path.stem)
        self.defaults: dict[str, Any] = document.data.get("defaults", {})
        self.job_matrix = read_matrix(
            document.data.get("matrix", {}), ("matrix",), path.parent, self.problems
        )
        self.combinations: dict[int, list[dict[str, Any]]] = {}
        self.imported: dict[str, Any] = {}
        self.made_tools: dict[tuple[str, str, Path], tuple[Tool, ...]] = {}
        self.imported_hooks: dict[str, Any] = {}
        self.templates = Templates()
        self.agent_reader = AgentReader(path.parent, self.problems)
        self.steps: dict[Where, tuple[StepTemplate, ...]] = {}

    def matrix_of(self, index: int, raw_task: dict[str, Any]) -> Matrix:
        """The task entry's own matrix, else the job's."""
        if "matrix" not in raw_task:
            return self.job_matrix
        where = ("tasks", index, "matrix")
        return read_matrix(raw_task["matrix"], where, self.path.parent, self.problems)

    def fits(self, matrices: Sequence[Matrix], max_tasks: int | None) -> bool:
        """Whether the task entries × their matrices stay within max_tasks; reported if not.

        Counted before any combination is made, so a matrix of millions costs nothing."""
        limit = max_tasks or DEFAULT_MAX_TASKS
        total = sum(matrix.size for matrix in matrices)
        if total <= limit:
            return True
        largest = max(matrices, key=lambda matrix: matrix.size)
        where: Where = ("tasks",)
        detail = ""
        if largest.size > 1:
            where, detail = largest.where, f"; this matrix makes {largest.size:,} combinations"
        set_by = "set by max_tasks" if max_tasks else "by default"
        self.problems.add(
            where,
            f"the job file would expand to {total:,} tasks, more than the limit of {limit:,} "
            f"({set_by}){detail}. To allow more, set max_tasks at the top of the job file "
            f"(at most {MAX_TASKS_LIMIT:,})",
        )
        return False

    def expand_task(
        self, index: int, raw_task: dict[str, Any], matrix: Matrix
    ) -> Iterator[TaskSpec]:
        """One task entry × every combination of its matrix."""
        entry = _Entry(("tasks", index), raw_task, {**self.defaults, **raw_task})
        shared = self._shared_options(entry)
        templates = self._templates(entry)
        if templates is None or not self._compiles(templates.values()):
            return
        if not self._read_steps(entry):
            return
        if id(matrix) not in self.combinations:
            self.combinations[id(matrix)] = matrix.combinations(self.problems)
        for values in self.combinations[id(matrix)]:
            task = self._task(entry, shared, templates, values)
            if task is not None:
                yield task

    def _shared_options(self, entry: _Entry) -> _SharedOptions:
        """The options every combination of the entry shares, each checked once."""
        options, origin, problems, folder = (
            entry.options,
            entry.origin,
            self.problems,
            self.path.parent,
        )
        secrets: list[str] = []
        backoff = options.get("retry_backoff", {})
        return _SharedOptions(
            timeout=_duration(options.get("timeout"), origin("timeout"), problems),
            idle_timeout=_duration(options.get("idle_timeout"), origin("idle_timeout"), problems),
            retry_initial=_duration(
                backoff.get("initial"), (*origin("retry_backoff"), "initial"), problems
            ),
            retry_max=_duration(backoff.get("max"), (*origin("retry_backoff"), "max"), problems),
            provider=provider_option(
                options.get("provider"), origin("provider"), self.environ, problems, secrets
            ),
            mcp_servers=mcp_servers_option(
                options.get("mcp_servers"),
                origin("mcp_servers"),
                folder,
                self.environ,
                problems,
                secrets,
            ),
            policy=permission_policy(options.get("permissions"), origin("permissions"), problems),
            output_schema=output_schema_option(
                options.get("output_schema"), origin("output_schema"), folder, problems
            ),
            skills=skills_option(options.get("skills"), origin("skills"), folder, problems),
            secrets=secrets,
        )

    def _templates(self, entry: _Entry) -> dict[str, tuple[str, Where]] | None:
        """The entry's templates (id, prompt, working directory, system message) and where
        each was written; ``None`` when its prompt file cannot be read (reported)."""
        options, origin = entry.options, entry.origin
        templates: dict[str, tuple[str, Where]] = {
            key: (options[key], origin(key))
            for key in ("id", "prompt", "working_directory")
            if key in options
        }
        if "prompt_file" in entry.raw:
            where = (*entry.where, "prompt_file")
            prompt_file = self.path.parent / entry.raw["prompt_file"]
            try:
                templates["prompt"] = (files.read_text(prompt_file), where)
            except ValueError as reason:
                self.problems.add(where, f"prompt file {prompt_file} {reason}")
                return None
        system_message = options.get("system_message")
        if system_message is not None and "content" in system_message:
            where = (*origin("system_message"), "content")
            templates["system_message"] = (system_message["content"], where)
        return templates

    def _task(
        self,
        entry: _Entry,
        shared: _SharedOptions,
        templates: Mapping[str, tuple[str, Where]],
        values: dict[str, Any],
    ) -> TaskSpec | None:
        """The task of one combination; ``None`` when a problem (reported) leaves none."""
        texts = {key: self._render(*template, values) for key, template in templates.items()}
        if any(text is None for text in texts.values()):
            return None
        task_id = str(texts["id"])
        id_problem = _task_id_problem(task_id)
        if id_problem is not None:
            self.problems.add((*entry.where, "id"), id_problem)
            return None
        working_directory = _working_directory(
            str(texts.get("working_directory") or "."),
            self.path,
            entry.origin("working_directory"),
            self.problems,
        )
        if working_directory is None:
            return None
        tools = self._task_tools(entry, shared, values, working_directory)
        task = self._task_spec(entry, shared, texts, values, working_directory, tools)
        with_inputs = self._with_inputs(task, entry, values)
        return None if with_inputs is None else self._completed(with_inputs, entry, values)

    def _completed(
        self, task: TaskSpec, entry: _Entry, values: Mapping[str, Any]
    ) -> TaskSpec | None:
        """The task with the options each later step reads: agents and model options,
        handlers, the conversation; ``None`` at the first step whose problem (reported)
        leaves the task unusable."""
        steps = (self._with_agents, self._with_handlers, self._with_conversation)
        completed: TaskSpec | None = task
        for step in steps:
            if completed is None:
                return None
            completed = step(completed, entry, values)
        return completed

    def _with_agents(
        self, task: TaskSpec, entry: _Entry, values: Mapping[str, Any]
    ) -> TaskSpec | None:
        """The task with its agents and model options: ``agents``, ``agent``,
        ``reasoning_effort``, ``instruction_directories``, system message sections;
        ``None`` when a problem (reported) leaves it without one."""
        options, origin = entry.options, entry.origin

        def render(data: Any, where: Where) -> Any:
            return self._render_data(data, where, values)

        def check_tools(names: Sequence[str], where: Where) -> None:
            custom = [tool.name for ref in task.custom_tools for tool in ref.tools]
            tool_filter(names, where, custom, list(task.mcp_servers or {}), self.problems)

        agents = self.agent_reader.agents(
            options.get("agents", []), origin("agents"), render, check_tools
        )
        sections = sections_option(
            options.get("system_message"), origin("system_message"), render, self.problems
        )
        defined = [raw["name"] for raw in options.get("agents", [])]
        agent = agent_choice(options.get("agent"), origin("agent"), defined, self.problems)
        directories = render(
            options.get("instruction_directories"), origin("instruction_directories")
        )
        instruction_directories = instruction_directories_option(
            directories, origin("instruction_directories"), task.working_directory, self.problems
        )
        if agents is None or sections is None:
            return None
        return dataclasses.replace(
            task,
            agents=agents,
            agent=agent,
            reasoning_effort=options.get("reasoning_effort"),
            model_capabilities=capabilities_option(
                options.get("model_capabilities"), origin("model_capabilities"), self.problems
            ),
            instruction_directories=instruction_directories,
            system_message=system_message_option(
                options.get("system_message"),
                (task.system_message or {}).get("content"),
                sections,
            ),
        )

    def _with_handlers(
        self, task: TaskSpec, entry: _Entry, values: Mapping[str, Any]
    ) -> TaskSpec | None:
        """The task with its ``hooks`` (whose secrets join the task's) and its ``ask_user``
        answer rendered; ``None`` when one of them has a problem (reported)."""
        hooks = self._hooks(entry, values, task)
        answer = None
        if "ask_user" in entry.options:
            source = entry.options["ask_user"]["answer"]
            answer = self._render(source, (*entry.origin("ask_user"), "answer"), values)
            if answer is None:
                return None
        if hooks is None:
            return None
        secrets = (*task.secrets, *(s for ref in hooks for s in hook_secrets(ref.handler)))
        return dataclasses.replace(task, hooks=hooks, ask_user_answer=answer, secrets=secrets)

    def _hooks(
        self, entry: _Entry, values: Mapping[str, Any], task: TaskSpec
    ) -> tuple[HookRef, ...] | None:
        """The task's hook functions, kind by kind; ``None`` if an entry gave none."""
        raw, where = entry.options.get("hooks", {}), entry.origin("hooks")
        context = {"working_directory": task.working_directory, "task_id": task.id}
        refs: list[HookRef] = []
        failed = False
        for kind in (kind for kind in HOOK_KINDS if kind in raw):
            for index, item in enumerate(raw[kind]):
                item_where: Where = (*where, kind, index)
                import_path = item if isinstance(item, str) else item["use"]
                options = None
                if isinstance(item, dict) and "with" in item:
                    options = self._render_data(item["with"], (*item_where, "with"), values)
                    if options is None:
                        failed = True
                        continue
                try:
                    if import_path not in self.imported_hooks:
                        self.imported_hooks[import_path] = imported(import_path, self.path.parent)
                    value = self.imported_hooks[import_path]
                    handler = hook_function(value, import_path, options, context)
                except HookImportError as exc:
                    self.problems.add(item_where, str(exc))
                    failed = True
                    continue
                refs.append(HookRef(kind, import_path, handler, options))
        return None if failed else tuple(refs)

    def _read_steps(self, entry: _Entry) -> bool:
        """Whether the entry's ``steps`` (kept for its combinations) can be used; their
        problems are reported."""
        if "steps" not in entry.raw:
            return True
        where = (*entry.where, "steps")
        steps = step_templates(entry.raw["steps"], where, self.path.parent, self.problems)
        if steps is None or not self._compiles(step.prompt for step in steps):
            return False
        self.steps[entry.where] = steps
        return True

    def _with_conversation(
        self, task: TaskSpec, entry: _Entry, values: Mapping[str, Any]
    ) -> TaskSpec | None:
        """The task with its first prompt's attachments and its steps rendered and
        checked; ``None`` when one is not usable (reported)."""

        def render(source: str, where: Where) -> str | None:
            return self._render(source, where, values)

        def render_data(data: Any, where: Where) -> Any:
            return self._render_data(data, where, values)

        directory, problems = task.working_directory, self.problems
        attachments = rendered_attachments(
            entry.raw.get("attachments"),
            (*entry.where, "attachments"),
            render_data,
            directory,
            problems,
        )
        steps = rendered_steps(
            self.steps.get(entry.where, ()), render, render_data, directory, problems
        )
        if attachments is None or steps is None:
            return None
        return dataclasses.replace(task, attachments=attachments, steps=steps)

    def _with_inputs(
        self, task: TaskSpec, entry: _Entry, values: Mapping[str, Any]
    ) -> TaskSpec | None:
        """The task with its ``inputs`` globs rendered, each checked to stay inside its
        working directory; ``None`` when one is not (reported)."""
        if "inputs" not in entry.options:
            return task
        where = entry.origin("inputs")
        patterns = self._render_data(entry.options["inputs"], where, values)
        if patterns is None:
            return None
        problem = next(
            ((index, pattern) for index, pattern in enumerate(patterns) if _escapes(pattern)),
            None,
        )
        if problem is not None:
            index, pattern = problem
            self.problems.add(
                (*where, index),
                f"input glob {shown(pattern)} must stay inside the working directory",
            )
            return None
        return dataclasses.replace(task, inputs=tuple(patterns))

    def _task_tools(
        self,
        entry: _Entry,
        shared: _SharedOptions,
        values: Mapping[str, Any],
        working_directory: Path,
    ) -> _TaskTools:
        """The task's custom tools, and its allow and deny lists checked against them and
        its MCP servers."""
        tools, where = entry.options.get("tools", {}), entry.origin("tools")
        custom = self._custom_tools(
            tools.get("custom", []), (*where, "custom"), values, working_directory
        )
        custom_names = [tool.name for ref in custom for tool in ref.tools]
        servers = list(shared.mcp_servers or {})
        available, excluded = (
            tool_filter(tools.get(key), (*where, key), custom_names, servers, self.problems)
            for key in ("available", "excluded")
        )
        return _TaskTools(custom, available, excluded)

    def _task_spec(
        self,
        entry: _Entry,
        shared: _SharedOptions,
        texts: Mapping[str, str | None],
        values: dict[str, Any],
        working_directory: Path,
        tools: _TaskTools,
    ) -> TaskSpec:
        options, origin, problems = entry.options, entry.origin, self.problems
        system_message = options.get("system_message")
        return TaskSpec(
            id=str(texts["id"]),
            job_name=self.job_name,
            job_file=self.path,
            position=problems.source((*entry.where, "id")),
            prompt=str(texts["prompt"]),
            matrix_values=values,
            working_directory=working_directory,
            timeout_seconds=shared.timeout or DEFAULT_TIMEOUT_SECONDS,
            idle_timeout_seconds=shared.idle_timeout,
            retries=int(options.get("retries", 0)),
            retry_backoff=(
                shared.retry_initial or DEFAULT_RETRY_INITIAL,
                shared.retry_max or DEFAULT_RETRY_MAX,
            ),
            permissions=shared.policy,
            streaming=bool(options.get("streaming", False)),
            model=options.get("model"),
            provider=shared.provider,
            system_message=system_message_option(system_message, texts.get("system_message"), None),
            custom_tools=tools.custom,
            available_tools=tools.available,
            excluded_tools=tools.excluded,
            skill_directories=shared.skills[0],
            disabled_skills=shared.skills[1],
            mcp_servers=shared.mcp_servers,
            workspace=workspace_option(
                options.get("workspace"), origin("workspace"), working_directory, problems
            ),
            workspace_exclude=workspace_exclude_option(
                options.get("workspace_exclude"), origin("workspace_exclude"), problems
            ),
            output_schema=shared.output_schema,
            limits=_limits(options.get("limits", {})),
            sandbox=self._sandbox(entry, values),
            secrets=tuple(shared.secrets),
        )

    def _sandbox(self, entry: _Entry, values: Mapping[str, Any]) -> SandboxPolicy | None:
        """The task's sandbox policy, its paths and hosts rendered over the matrix values."""
        raw, where = entry.options.get("sandbox"), entry.origin("sandbox")
        rendered = self._render_data(raw, where, values) if isinstance(raw, dict) else raw
        return sandbox_option(rendered, where, self.problems)

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

    def _compiles(self, templates: Iterable[tuple[str, Where]]) -> bool:
        """Whether every template compiles; each one that does not is reported."""
        compiles = True
        for source, where in templates:
            problem = self.templates.problem(source)
            if problem is not None:
                self.problems.add(where, problem)
                compiles = False
        return compiles

    def _render(self, source: str, where: Where, values: Mapping[str, Any]) -> str | None:
        try:
            return self.templates.render(source, values)
        except ValueError as problem:
            self.problems.add(where, str(problem))
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


def _escapes(pattern: str) -> bool:
    """Whether a glob could match outside the folder it is relative to."""
    return not pattern or Path(pattern).is_absolute() or ".." in Path(pattern).parts


def _limits(raw: Mapping[str, Any]) -> TaskLimits:
    """A task's ``limits``, their types checked by the schema (to which 1.0 is an integer)."""
    counts = {key: int(raw[key]) for key in ("tokens", "tool_calls", "turns") if key in raw}
    credits = raw.get("ai_credits")
    return TaskLimits(**counts, ai_credits=float(credits) if credits is not None else None)


def _budget_tokens(budget: Mapping[str, Any] | None) -> int | None:
    return int(budget["tokens"]) if budget is not None else None


def _task_id_problem(task_id: str) -> str | None:
    if not TASK_ID_PATTERN.fullmatch(task_id):
        return f"task id {shown(task_id)} may only hold letters, digits, '.', '_' and '-'"
    # The id also names a git-worktree branch: git refuses these (and "." and "..").
    if task_id.startswith((".", "-")) or ".." in task_id or task_id.endswith((".", ".lock")):
        return (
            f"task id {shown(task_id)} may not start with '.' or '-', hold '..', or end "
            "with '.' or '.lock' (it names the task's folder and git branch)"
        )
    if len(task_id) > MAX_TASK_ID_LENGTH:
        return (
            f"task id {shown(task_id)} is {len(task_id):,} characters long; it names the "
            f"task's folder, so at most {MAX_TASK_ID_LENGTH}"
        )
    return None


_duration = duration_option


def _working_directory(
    rendered: str, job_path: Path, where: Where, problems: Problems
) -> Path | None:
    directory = job_path.parent / rendered
    try:
        return files.directory(directory)
    except ValueError as reason:
        problems.add(where, f"working directory {shown(rendered)} ({directory}) {reason}")
        return None
