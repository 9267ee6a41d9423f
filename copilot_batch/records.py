"""The records of a run, shared by the code that runs tasks and the code that writes and
reads run folders: how a task ended, its usage, its permission decisions, its result."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import ExternalFailure, SessionError, TaskFailure
from .jobfile import TaskSpec
from .jobfile.model import PermissionAction
from .redact import Redactor


class RunStatus(enum.StrEnum):
    """Where a run is, as run.json's ``state`` says."""

    RUNNING = "running"
    FINISHED = "finished"  # every selected task ended (whatever its status)
    INTERRUPTED = "interrupted"  # SIGINT or SIGTERM
    TIMED_OUT = "timed_out"  # --run-timeout expired
    BUDGET_EXHAUSTED = "budget_exhausted"  # the token budget was spent; tasks were held back
    FAILED = "failed"  # the run could not start its client; ``failure`` says why


class TaskStatus(enum.StrEnum):
    """How a task ended. Everything but ``ok`` makes the run exit 1."""

    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"  # the session reported an error (model call, tool loop)
    TIMEOUT = "timeout"  # a time limit expired; the session was aborted
    LIMIT = "limit"  # the attempt crossed one of the task's limits; the session was aborted
    CANCELLED = "cancelled"  # the run was interrupted before the task finished
    ERROR = "error"  # copilot-batch or the SDK could not drive the session


@dataclass
class Usage:
    """Token counts summed over a session's ``assistant.usage`` events, as the provider
    reported them. A model call whose provider reported no token counts is counted in
    ``unreported_calls``, and its tokens are estimated (``estimated_tokens``, from the size
    of what was sent and received: ``runtime/budgets.py``), never taken as 0."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    unreported_calls: int = 0
    estimated_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """The tokens the provider reported: a lower bound when some calls went unreported."""
        return self.input_tokens + self.output_tokens

    @property
    def reported(self) -> bool:
        """Whether the provider reported the usage of every model call."""
        return self.unreported_calls == 0

    @property
    def counted_tokens(self) -> int:
        """What limits and budgets count: the reported tokens plus the estimate."""
        return self.total_tokens + self.estimated_tokens

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.unreported_calls += other.unreported_calls
        self.estimated_tokens += other.estimated_tokens

    def to_record(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "total_tokens": self.total_tokens,
            "reported": self.reported,
            "unreported_calls": self.unreported_calls,
            "estimated_tokens": self.estimated_tokens,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Usage:
        """A usage record read back; one written before unreported usage was told apart
        (no ``unreported_calls``) counts as reported."""
        return cls(
            input_tokens=record["input_tokens"],
            output_tokens=record["output_tokens"],
            cache_read_tokens=record["cache_read_tokens"],
            cache_write_tokens=record["cache_write_tokens"],
            unreported_calls=record.get("unreported_calls", 0),
            estimated_tokens=record.get("estimated_tokens", 0),
        )


def tokens_text(total: int, estimated: int, reported: bool = True) -> str:
    """Tokens for people: as reported; when some calls' usage was not, the reported ones as
    a lower bound and the estimate counted for the rest (the terminal and the reports)."""
    if reported and not estimated:
        return str(total)
    return f"≥ {total} (~{estimated} est.)"


@dataclass(frozen=True)
class PermissionTarget:
    """What one permission request wants, in the terms rules match on."""

    kind: str
    target: str  # for people: the path, command, URL or tool as the CLI sent it
    path: str | None = None  # read, write
    segments: tuple[str, ...] = ()  # shell: each command segment's text
    host: str | None = None  # url
    tool: str | None = None  # mcp, custom-tool, hook
    server: str | None = None  # mcp
    tool_call_id: str | None = None


@dataclass(frozen=True)
class Decision:
    action: PermissionAction
    rule: str  # "rules[2]", "default", a shorthand, or OUTSIDE_WORKING_DIRECTORY
    resolved_path: str | None = None
    feedback: str | None = None  # the deny rule's own feedback (NO_FEEDBACK: none)


@dataclass(frozen=True)
class AuditEntry:
    """One answered permission request, as recorded in events.jsonl and result.json."""

    at: datetime
    target: PermissionTarget
    decision: Decision

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "at": self.at.isoformat(),
            "kind": self.target.kind,
            "target": self.target.target,
            "decision": self.decision.action,
            "rule": self.decision.rule,
        }
        if self.decision.resolved_path is not None:
            record["resolved_path"] = self.decision.resolved_path
        if self.target.tool_call_id is not None:
            record["tool_call_id"] = self.target.tool_call_id
        if self.decision.feedback is not None:
            record["feedback"] = self.decision.feedback
        return record


@dataclass(frozen=True)
class SandboxDenial:
    """One access the OS sandbox refused a task's command, as recorded in events.jsonl and
    result.json. ``denial`` and ``confidence`` are the CLI's words (``filesystem_read``,
    ``network_local``…; ``sandbox_reported``, ``output_classified``…); ``reported_by`` is
    ``cli`` (its ``sandbox.decision`` event) or ``copilot-batch`` (found in the output)."""

    at: datetime
    denial: str
    confidence: str
    reported_by: str
    tool_call_id: str | None = None
    command: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "denial": self.denial,
            "confidence": self.confidence,
            "reported_by": self.reported_by,
            "tool_call_id": self.tool_call_id,
            "command": self.command,
        }


@dataclass(frozen=True)
class HookDecision:
    """One decision of a job file's hook that changed something (or a hook that raised),
    as recorded in events.jsonl and result.json. ``decision``: ``allow``, ``deny``,
    ``modify_arguments``, ``modify_result``, ``modify_prompt``, ``block``, ``add_context``,
    ``error_handling``, ``suppress_output`` or ``raised``; ``reason``: the hook's words (or
    the exception)."""

    at: datetime
    hook: str  # the kind: pre_tool_use, post_tool_use...
    handler: str  # its import path
    decision: str
    tool: str | None = None
    reason: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "hook": self.hook,
            "handler": self.handler,
            "decision": self.decision,
            "tool": self.tool,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class UserQuestion:
    """A question the agent asked with the ``ask_user`` tool, and the job file's answer."""

    at: datetime
    question: str
    choices: tuple[str, ...]
    answer: str

    def to_record(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "question": self.question,
            "choices": list(self.choices),
            "answer": self.answer,
        }


@dataclass
class StepResult:
    """One turn of a task with ``steps``: step 0 is the task's prompt, then each step.
    ``status`` is ``ok`` or, for the turn the task ended in, the task's status."""

    step: int
    started_at: datetime
    model: str | None = None  # the model the step switched to, if it did
    status: TaskStatus = TaskStatus.PENDING
    finished_at: datetime | None = None
    final_message: str | None = None
    output: Any = None
    usage: Usage = field(default_factory=Usage)
    tool_calls: int = 0
    error: str | None = None

    def to_record(self) -> dict[str, Any]:
        duration = (
            round((self.finished_at - self.started_at).total_seconds(), 3)
            if self.finished_at is not None
            else None
        )
        return {
            "step": self.step,
            "status": str(self.status),
            "model": self.model,
            "started_at": self.started_at.isoformat(),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": duration,
            "final_message": self.final_message,
            "output": self.output,
            "usage": self.usage.to_record(),
            "tool_calls": self.tool_calls,
            "error": self.error,
        }


@dataclass
class TaskResult:
    """One task's outcome. ``to_record`` gives the JSON written to disk."""

    task: TaskSpec
    status: TaskStatus = TaskStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    final_message: str | None = None
    usage: Usage = field(default_factory=Usage)
    tool_calls: int = 0
    turns: int = 0  # assistant.turn_start events
    # The usage of each model the session called, by its name in assistant.usage.
    usage_by_model: dict[str, Usage] = field(default_factory=dict)
    # Summed from assistant.usage where it carries them (None: no event did): ``cost``, the
    # premium requests a call counts as, and copilotUsage's AI credits.
    premium_requests: float | None = None
    ai_credits: float | None = None
    # Every permission request the policy answered, in order.
    permission_audit: list[AuditEntry] = field(default_factory=list)
    # Every access the OS sandbox refused a command, in order.
    sandbox_audit: list[SandboxDenial] = field(default_factory=list)
    # Every hook decision that changed something, and every question answered, in order.
    hook_audit: list[HookDecision] = field(default_factory=list)
    questions: list[UserQuestion] = field(default_factory=list)
    # The model's 429s this attempt (the CLI's rate_limit retries, a session error).
    rate_limited: int = 0
    # Why the task did not end ok; written as error, error_type and status_code.
    failure: TaskFailure | None = None
    session_id: str | None = None
    attempt: int = 1
    # Earlier attempts of this task that failed transiently, oldest first (attempt_record).
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # The answer parsed and validated against the task's output_schema.
    output: Any = None
    # workspace copy/git-worktree: where the agent worked, and what it changed there.
    workspace: dict[str, Any] | None = None
    changed_files: list[str] = field(default_factory=list)
    patch: str | None = None  # tasks/<id>/changes.patch, relative to the run folder
    # An incremental run's key of the task's spec and inputs (runtime/input_key.py), and
    # the run whose ok result it reused instead of starting a session.
    input_key: str | None = None
    reused_from: str | None = None
    # A task with steps: each turn, its first prompt as step 0 (result.json's ``steps``).
    steps: list[StepResult] = field(default_factory=list)
    # Masks credentials in the failure's text once the result is redacted (redact()).
    _redactor: Redactor | None = field(default=None, init=False, repr=False, compare=False)

    def fail(self, status: TaskStatus, error: Exception) -> None:
        """End with ``status`` because of ``error``; an exception that is no TaskFailure
        (the filesystem's, say) is kept as an ExternalFailure under its own type name."""
        self.status = status
        self.failure = (
            error if isinstance(error, TaskFailure) else ExternalFailure(error, transient=False)
        )

    @property
    def error(self) -> str | None:
        """The failure for people, credentials masked once the result is redacted."""
        if self.failure is None:
            return None
        text = str(self.failure) or type(self.failure).__name__
        return self._redactor.text(text) if self._redactor is not None else text

    @property
    def error_type(self) -> str | None:
        return self.failure.type_name if self.failure is not None else None

    @property
    def status_code(self) -> int | None:
        """The model's HTTP status, when a call failed."""
        return self.failure.status_code if isinstance(self.failure, SessionError) else None

    @property
    def transient(self) -> bool:
        """Whether the failure is worth a fresh attempt (rate limit, 5xx, connection)."""
        return self.failure is not None and self.failure.transient

    @property
    def permission_denials(self) -> int:
        return sum(1 for entry in self.permission_audit if entry.decision.action == "deny")

    @property
    def sandbox_denials(self) -> int:
        return len(self.sandbox_audit)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def attempt_record(self) -> dict[str, Any]:
        """This attempt, as kept in ``attempts`` once the task is tried again."""
        return {
            "attempt": self.attempt,
            "status": str(self.status),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "error_type": self.error_type,
            "status_code": self.status_code,
            "session_id": self.session_id,
            "rate_limited": self.rate_limited,
        }

    def redact(self, redactor: Redactor) -> None:
        """Mask credentials in the free text a session produced (answer, error)."""
        if self.final_message is not None:
            self.final_message = redactor.text(self.final_message)
        for step in self.steps:
            if step.final_message is not None:
                step.final_message = redactor.text(step.final_message)
            if step.error is not None:
                step.error = redactor.text(step.error)
        self._redactor = redactor

    def to_record(self, *, with_spec: bool = False) -> dict[str, Any]:
        """The run.json entry; with ``with_spec`` also the expanded task (result.json)."""
        record: dict[str, Any] = {
            "id": self.task.id,
            "job": self.task.job_name,
            "status": str(self.status),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": self.duration_seconds,
            "final_message": self.final_message,
            "usage": self.usage.to_record(),
            "tool_calls": self.tool_calls,
            "turns": self.turns,
            "usage_by_model": {
                model: usage.to_record() for model, usage in self.usage_by_model.items()
            },
            "premium_requests": self.premium_requests,
            "ai_credits": self.ai_credits,
            "permission_denials": self.permission_denials,
            "sandbox_denials": self.sandbox_denials,
            "hook_decisions": len(self.hook_audit),
            "questions": len(self.questions),
            # Over every attempt: those a resume or a retry kept, and this one.
            "rate_limited": self.rate_limited
            + sum(earlier.get("rate_limited", 0) for earlier in self.attempts),
            "error": self.error,
            "error_type": self.error_type,
            "attempt": self.attempt,
            "output": self.output,
            "changed_files": self.changed_files,
            "patch": self.patch,
        }
        if self.input_key is not None:
            record["input_key"] = self.input_key
        if self.reused_from is not None:
            record["reused_from"] = self.reused_from
        if with_spec:
            spec = self.task.describe()
            record["prompt"] = spec.pop("prompt")
            record["matrix"] = spec.pop("matrix")
            del spec["id"], spec["job"]
            record["options"] = spec
            record["spec_hash"] = self.task.spec_hash()
            record["session_id"] = self.session_id
            record["permission_audit"] = [entry.to_record() for entry in self.permission_audit]
            record["sandbox_audit"] = [entry.to_record() for entry in self.sandbox_audit]
            record["hook_audit"] = [entry.to_record() for entry in self.hook_audit]
            record["question_audit"] = [entry.to_record() for entry in self.questions]
            record["workspace"] = self.workspace
            record["status_code"] = self.status_code
            # A reused task made no attempt in this run.
            this_run = [] if self.reused_from else [self.attempt_record()]
            record["attempts"] = [*self.attempts, *this_run]
            if self.steps:
                record["steps"] = [step.to_record() for step in self.steps]
        return record


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
