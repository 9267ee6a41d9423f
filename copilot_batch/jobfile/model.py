"""The validated, expanded form of job files: what the runtime consumes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..redact import MASK

if TYPE_CHECKING:
    from copilot import Tool

    from .attachments import AttachmentSpec
    from .steps import StepSpec

PermissionAction = Literal["allow", "deny"]
# A permission rule's ``feedback: none``: the request is rejected with no words, which ends
# the agent's turn.
NO_FEEDBACK = "none"
WorkspaceMode = Literal["shared", "copy", "git-worktree"]

DEFAULT_TIMEOUT_SECONDS = 30 * 60.0
DEFAULT_RETRY_INITIAL, DEFAULT_RETRY_MAX = 2.0, 60.0
# How many tasks one job file may expand to; max_tasks may raise it up to MAX_TASKS_LIMIT.
DEFAULT_MAX_TASKS, MAX_TASKS_LIMIT = 10_000, 100_000


@dataclass(frozen=True)
class SourcePosition:
    """Where a value came from, for error messages (1-based line and column)."""

    path: Path
    line: int
    column: int
    json_path: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class CustomToolRef:
    """A custom tool import path (with a factory's options) and the SDK tools it gave."""

    import_path: str
    options: Mapping[str, Any] | None = None
    tools: tuple[Tool, ...] = field(default=(), compare=False, repr=False)

    def describe(self) -> str | dict[str, Any]:
        if self.options is None:
            return self.import_path
        return {"use": self.import_path, "with": dict(self.options)}


@dataclass(frozen=True)
class HookRef:
    """One ``hooks`` entry: the SDK hook it serves (``pre_tool_use``…), its import path (with
    a factory's options) and the function it gave."""

    kind: str
    import_path: str
    handler: Callable[..., Any] = field(compare=False, repr=False)
    options: Mapping[str, Any] | None = None

    def describe(self) -> str | dict[str, Any]:
        if self.options is None:
            return self.import_path
        return {"use": self.import_path, "with": dict(self.options)}


@dataclass(frozen=True)
class PermissionRule:
    """One rule of a permission policy. Empty pattern tuples match anything of the kind."""

    name: str  # where it came from, as the audit names it: "rules[2]"
    kind: str
    action: PermissionAction
    paths: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    # What a denied agent is told instead of the default words; NO_FEEDBACK: a plain reject.
    feedback: str | None = None

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind, "action": self.action}
        for key in ("paths", "commands", "hosts", "tools", "servers"):
            if getattr(self, key):
                record[key] = list(getattr(self, key))
        if self.feedback is not None:
            record["feedback"] = self.feedback
        return record


@dataclass(frozen=True)
class PermissionPolicy:
    """How a task's permission requests are answered: the first matching rule, else default.

    ``shorthand`` keeps the job file's ``approve-all`` / ``deny-all`` spelling for display.
    """

    default: PermissionAction = "deny"
    rules: tuple[PermissionRule, ...] = ()
    shorthand: str | None = None

    @classmethod
    def from_shorthand(cls, shorthand: str) -> PermissionPolicy:
        return cls(default="allow" if shorthand == "approve-all" else "deny", shorthand=shorthand)

    def describe(self) -> str | dict[str, Any]:
        if self.shorthand is not None:
            return self.shorthand
        return {"default": self.default, "rules": [rule.describe() for rule in self.rules]}


@dataclass(frozen=True)
class TaskLimits:
    """What one attempt at a task may spend (``limits``); ``None``: no limit."""

    tokens: int | None = None
    tool_calls: int | None = None
    turns: int | None = None
    ai_credits: float | None = None

    def describe(self) -> dict[str, int | float]:
        return {key: value for key, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class SandboxPolicy:
    """What a task's shell commands may reach in the CLI's OS sandbox, beyond its working
    directory (read-write) and the CLI's base policy; paths as the job file wrote them
    (relative to the working directory, absolute, or ``~/...``). ``sandbox: true`` is the
    policy with nothing added: no extra paths, no network."""

    read_only: tuple[str, ...] = ()
    read_write: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    outbound: bool = False
    local_network: bool = False
    allowed_hosts: tuple[str, ...] = ()
    blocked_hosts: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "filesystem": {
                "read_only": list(self.read_only),
                "read_write": list(self.read_write),
                "denied": list(self.denied),
            },
            "network": {
                "outbound": self.outbound,
                "local_network": self.local_network,
                "allowed_hosts": list(self.allowed_hosts),
                "blocked_hosts": list(self.blocked_hosts),
            },
        }


@dataclass(frozen=True)
class AgentSpec:
    """A custom agent (``agents:``), its prompt rendered; the SDK's CustomAgentConfig."""

    name: str
    prompt: str
    display_name: str | None = None
    description: str | None = None
    tools: tuple[str, ...] | None = None  # None: every tool of the session
    model: str | None = None
    model_policy: str | None = None
    reasoning_effort: str | None = None
    infer: bool | None = None
    skills: tuple[str, ...] | None = None

    def describe(self) -> dict[str, Any]:
        """The SDK's CustomAgentConfig: the fields the job file set."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in vars(self).items()
            if value is not None
        }


@dataclass(frozen=True)
class TaskSpec:
    """One expanded task: everything needed to run one session, nothing shared."""

    id: str
    job_name: str
    job_file: Path
    position: SourcePosition
    prompt: str
    matrix_values: Mapping[str, Any]
    working_directory: Path
    timeout_seconds: float
    permissions: PermissionPolicy
    streaming: bool
    model: str | None = None
    provider: Mapping[str, Any] | None = None
    system_message: Mapping[str, Any] | None = None  # mode, content; sections (customize)
    custom_tools: tuple[CustomToolRef, ...] = ()
    available_tools: tuple[str, ...] | None = None
    excluded_tools: tuple[str, ...] | None = None
    skill_directories: tuple[Path, ...] = ()
    disabled_skills: tuple[str, ...] = ()
    mcp_servers: Mapping[str, Mapping[str, Any]] | None = None
    idle_timeout_seconds: float | None = None
    retries: int = 0
    retry_backoff: tuple[float, float] = (DEFAULT_RETRY_INITIAL, DEFAULT_RETRY_MAX)
    workspace: WorkspaceMode = "shared"
    workspace_exclude: tuple[str, ...] = ()  # gitignore patterns a copy leaves out
    output_schema: Mapping[str, Any] | None = None
    # Globs (relative to working_directory) of the files an incremental run keys the task
    # on; None: the files a copy workspace would take.
    inputs: tuple[str, ...] | None = None
    limits: TaskLimits = TaskLimits()
    sandbox: SandboxPolicy | None = None  # None: shell commands run unconfined
    agents: tuple[AgentSpec, ...] = ()
    agent: str | None = None  # the agent that runs the task; None: the CLI's own
    reasoning_effort: str | None = None
    # What the session's model is said to support, as the job file wrote it (snake_case).
    model_capabilities: Mapping[str, Any] | None = None
    instruction_directories: tuple[Path, ...] = ()
    hooks: tuple[HookRef, ...] = ()  # in the job file's order, kind by kind
    ask_user_answer: str | None = None  # None: the ask_user tool is not offered
    attachments: tuple[AttachmentSpec, ...] = ()  # sent with the first prompt
    steps: tuple[StepSpec, ...] = ()  # follow-up turns in the same session
    # Credential values in provider and mcp_servers; they must never be written anywhere.
    secrets: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description of the task, with credentials replaced by ``***``."""
        return {
            "id": self.id,
            "job": self.job_name,
            "job_file": str(self.job_file),
            "prompt": self.prompt,
            "matrix": dict(self.matrix_values),
            "model": self.model,
            "provider": self._masked(self.provider),
            "system_message": dict(self.system_message) if self.system_message else None,
            "working_directory": str(self.working_directory),
            "timeout_seconds": self.timeout_seconds,
            "idle_timeout_seconds": self.idle_timeout_seconds,
            "retries": self.retries,
            "retry_backoff_seconds": list(self.retry_backoff),
            "permissions": self.permissions.describe(),
            "streaming": self.streaming,
            "custom_tools": [ref.describe() for ref in self.custom_tools],
            "available_tools": _list_or_none(self.available_tools),
            "excluded_tools": _list_or_none(self.excluded_tools),
            "skill_directories": [str(path) for path in self.skill_directories],
            "disabled_skills": list(self.disabled_skills),
            "mcp_servers": self._masked(self.mcp_servers),
            "workspace": self.workspace,
            "workspace_exclude": list(self.workspace_exclude),
            "output_schema": dict(self.output_schema) if self.output_schema else None,
            "inputs": _list_or_none(self.inputs),
            "limits": self.limits.describe(),
            "sandbox": self.sandbox.describe() if self.sandbox is not None else None,
            "agents": [agent.describe() for agent in self.agents],
            "agent": self.agent,
            "reasoning_effort": self.reasoning_effort,
            "instruction_directories": [str(path) for path in self.instruction_directories],
            **self._handlers(),
            **self.describe_conversation(),
        }

    def _handlers(self) -> dict[str, Any]:
        """``hooks``, ``ask_user`` and ``model_capabilities`` when set (absent otherwise:
        spec hashes stay as they were)."""
        handlers: dict[str, Any] = {}
        if self.model_capabilities is not None:
            handlers["model_capabilities"] = dict(self.model_capabilities)
        for ref in self.hooks:
            handlers.setdefault("hooks", {}).setdefault(ref.kind, []).append(ref.describe())
        if self.ask_user_answer is not None:
            handlers["ask_user"] = {"answer": self.ask_user_answer}
        return handlers

    def describe_conversation(self) -> dict[str, Any]:
        """The first prompt's attachments and the steps, when the task has them (so the
        description, and the hash, of a task without them stay as they were)."""
        record: dict[str, Any] = {}
        if self.attachments:
            record["attachments"] = [attachment.describe() for attachment in self.attachments]
        if self.steps:
            record["steps"] = [step.describe() for step in self.steps]
        return record

    def _masked(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` with every secret string replaced by ``***``."""
        if isinstance(value, Mapping):
            return {key: self._masked(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._masked(item) for item in value]
        if isinstance(value, str) and value in self.secrets:
            return MASK
        return value

    def spec_hash(self) -> str:
        """A stable hash of what the task would do; changes when its expanded spec changes."""
        canonical = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
        # describe() redacts credentials; mix in their digest so a new key counts as a change.
        secrets_digest = hashlib.sha256("\0".join(self.secrets).encode()).hexdigest()
        return hashlib.sha256((canonical + secrets_digest).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JobSpec:
    """One job file after validation and expansion."""

    name: str
    path: Path
    sha256: str
    description: str | None
    tasks: tuple[TaskSpec, ...]
    cli_url: str | None = None
    incremental: bool = False  # reuse unchanged tasks' earlier results (run --incremental)
    budget_tokens: int | None = None  # budget.tokens: what the whole run may spend


def _list_or_none(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)
