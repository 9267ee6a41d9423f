"""One attempt at a task in its own session: build its options, create it, send, wait, tear
down; the result goes back to the caller, which records it."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from copilot import CopilotClient, CopilotSession, SessionEvent
from copilot.generated.session_events import (
    AssistantMessageData,
    AssistantTurnRetryData,
    AssistantUsageData,
    SessionErrorData,
    SessionEventType,
    SessionLimitsExhaustedRequestedData,
    SessionWarningData,
    ToolExecutionStartData,
)
from copilot.session import Attachment
from structlog.typing import FilteringBoundLogger

from ..errors import (
    ExternalFailure,
    LimitExceeded,
    SessionError,
    TaskFailure,
    TaskTimeout,
)
from ..jobfile import TaskLimits, TaskSpec
from ..jobfile.model_capabilities import sdk_capabilities
from ..records import (
    AuditEntry,
    HookDecision,
    SandboxDenial,
    TaskResult,
    TaskStatus,
    Usage,
    UserQuestion,
)
from ..run_folder.events import EventSink
from .agent_options import agent_session_options
from .ask_user import answering
from .budgets import NANO, crossed, estimate_tokens
from .conversation import Conversation, finish_steps
from .hooks import TaskHooks
from .permissions import permission_handler
from .sandbox import SandboxWatch, sandbox_config
from .session_files import SessionFiles
from .structured_output import output_instructions

# Teardown (abort, disconnect, delete) gets this long even when the run is being cancelled.
TEARDOWN_SECONDS = 15.0


class _SessionObserver:
    """Reads a session's events as they arrive: the answer, usage, tool calls, turns, the
    end; and whether the task's limits were crossed (``over_limit``)."""

    def __init__(self, sink: EventSink, settings: SessionSettings, limits: TaskLimits) -> None:
        self._sink = sink
        self._on_rate_limited = settings.on_rate_limited
        self._on_activity = settings.on_activity or (lambda _activity: None)
        self._on_tokens = settings.on_tokens or (lambda _tokens, _estimated: None)
        self._limits = limits
        self.finished = anyio.Event()
        self.final_message: str | None = None
        self.usage = Usage()
        self.usage_by_model: dict[str, Usage] = {}
        # The model of each call whose usage went unreported, by its API call id: its reply
        # (assistant.message, after assistant.usage) adds to the estimate.
        self._unreported: dict[str, str] = {}
        self.premium_requests: float | None = None
        self.ai_credits: float | None = None
        self.tool_calls = 0
        self.turns = 0
        self.rate_limited = 0  # 429s: the CLI's rate_limit retries and a session error
        self.error: SessionError | None = None
        self.warning: str | None = None  # the last session.warning of this turn
        self.exceeded: LimitExceeded | None = None
        self.over_limit = anyio.Event()
        self.last_event_at = time.monotonic()
        self.watchers: list[Callable[[SessionEvent], None]] = []

    async def turn(
        self, session: CopilotSession, prompt: str, attachments: list[Attachment] | None = None
    ) -> None:
        """Send ``prompt`` and wait until the session is idle or reports an error."""
        self.finished = anyio.Event()
        self.warning = None
        await session.send(prompt, attachments=attachments)
        await self.finished.wait()

    def __call__(self, event: SessionEvent) -> None:
        self.last_event_at = time.monotonic()
        self._sink.emit(event.to_dict())
        for watch in self.watchers:
            watch(event)
        data = event.data
        match event.type:
            case SessionEventType.ASSISTANT_MESSAGE if isinstance(data, AssistantMessageData):
                # Sub-agent messages carry a parent tool call; the task's answer does not.
                if data.content.strip() and data.parent_tool_call_id is None:
                    self.final_message = data.content
                self._estimate_reply(data)
            case SessionEventType.ASSISTANT_USAGE if isinstance(data, AssistantUsageData):
                self._count_usage(data)
            case SessionEventType.TOOL_EXECUTION_START if isinstance(data, ToolExecutionStartData):
                self.tool_calls += 1
                self._on_activity(f"tool {data.tool_name}")
            case SessionEventType.ASSISTANT_TURN_START:
                self.turns += 1
                self._on_activity("thinking")
            case SessionEventType.SESSION_LIMITS_EXHAUSTED_REQUESTED if isinstance(
                data, SessionLimitsExhaustedRequestedData
            ):
                # The CLI's own max_ai_credits (session_limits) ran out: it asks what to do.
                self._exceed(LimitExceeded("ai_credits", data.used_ai_credits, data.max_ai_credits))
            case SessionEventType.ASSISTANT_TURN_RETRY if isinstance(data, AssistantTurnRetryData):
                self._on_activity(f"retrying ({data.reason})")
                if data.reason == "rate_limit":
                    self._rate_limited()
            case SessionEventType.SESSION_WARNING if isinstance(data, SessionWarningData):
                self.warning = data.message
            case SessionEventType.SESSION_ERROR if isinstance(data, SessionErrorData):
                self.error = SessionError(
                    data.error_type, data.message, data.status_code, self.warning
                )
                if data.status_code == 429:
                    self._rate_limited()
                self.finished.set()
            case SessionEventType.SESSION_IDLE:
                self.finished.set()
        self._check_limits()

    def _rate_limited(self) -> None:
        self.rate_limited += 1
        if self._on_rate_limited is not None:
            self._on_rate_limited()

    def _count_usage(self, data: AssistantUsageData) -> None:
        """One model call's usage: its tokens (also by model, and to the run's budget),
        and its premium requests and AI credits when the event carries them."""
        usage = Usage(
            input_tokens=data.input_tokens or 0,
            output_tokens=data.output_tokens or 0,
            cache_read_tokens=data.cache_read_tokens or 0,
            cache_write_tokens=data.cache_write_tokens or 0,
        )
        if data.input_tokens is None and data.output_tokens is None:
            # The provider reported no usage (a server ignoring stream_options.include_usage):
            # unknown, not 0. The request the CLI sent is estimated now, the reply later.
            usage.unreported_calls = 1
            usage.estimated_tokens = estimate_tokens(data.request_body_bytes or 0)
            if data.api_call_id is not None:
                self._unreported[data.api_call_id] = data.model
        self._spend(data.model, usage)
        if data.cost is not None:
            self.premium_requests = (self.premium_requests or 0.0) + data.cost
        if data.copilot_usage is not None:
            credits = data.copilot_usage.total_nano_aiu / NANO
            self.ai_credits = (self.ai_credits or 0.0) + credits

    def _estimate_reply(self, data: AssistantMessageData) -> None:
        """The estimate of a reply whose call's usage went unreported: its text and its
        tool calls' names and arguments."""
        model = self._unreported.get(data.api_call_id or "")
        if model is None:
            return
        characters = len(data.content) + sum(
            len(request.name) + len(json.dumps(request.arguments))
            for request in data.tool_requests or ()
        )
        self._spend(model, Usage(estimated_tokens=estimate_tokens(characters)))

    def _spend(self, model: str, usage: Usage) -> None:
        self.usage.add(usage)
        self.usage_by_model.setdefault(model, Usage()).add(usage)
        self._on_tokens(usage.counted_tokens, usage.estimated_tokens)

    def _check_limits(self) -> None:
        if self.exceeded is None:
            exceeded = crossed(
                self._limits,
                tokens=self.usage.counted_tokens,
                estimated_tokens=self.usage.estimated_tokens,
                tool_calls=self.tool_calls,
                turns=self.turns,
                ai_credits=self.ai_credits,
            )
            if exceeded is not None:
                self._exceed(exceeded)

    def _exceed(self, exceeded: LimitExceeded) -> None:
        if self.exceeded is None:
            self.exceeded = exceeded
            self.over_limit.set()


# The type of the lines copilot-batch adds to events.jsonl for its permission decisions,
# and for the accesses the OS sandbox refused.
PERMISSION_EVENT = "copilot_batch.permission"
SANDBOX_DENIAL_EVENT = "copilot_batch.sandbox_denial"
# ...and for its hooks' decisions, and the questions the agent asked (ask_user).
HOOK_EVENT = "copilot_batch.hook"
QUESTION_EVENT = "copilot_batch.question"


def session_options(
    task: TaskSpec, on_permission: Callable[[AuditEntry], Any], copilot_home: Path | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``CopilotClient.create_session`` from a task spec.

    The CLI's cross-session store (a database of every message, which copilot-batch never
    reads) is off. With ``copilot_home``, the state directory of a CLI process copilot-batch
    started, the session's state stays in memory (:mod:`.session_files`).
    """
    options: dict[str, Any] = {
        "on_permission_request": permission_handler(
            task.permissions, task.working_directory, on_permission
        ),
        "working_directory": str(task.working_directory),
        "streaming": task.streaming,
        "enable_session_store": False,
    }
    if copilot_home is not None:
        home, working_directory = copilot_home, task.working_directory
        options["create_session_fs_handler"] = lambda _session: SessionFiles(
            working_directory, home
        )
    optional: dict[str, Any] = {
        "model": task.model,
        "model_capabilities": (
            sdk_capabilities(task.model_capabilities) if task.model_capabilities else None
        ),
        "provider": dict(task.provider) if task.provider is not None else None,
        "system_message": _system_message(task),
        "tools": [tool for ref in task.custom_tools for tool in ref.tools] or None,
        "available_tools": (
            list(task.available_tools) if task.available_tools is not None else None
        ),
        "excluded_tools": list(task.excluded_tools) if task.excluded_tools else None,
        "skill_directories": [str(path) for path in task.skill_directories] or None,
        "disabled_skills": list(task.disabled_skills) or None,
        "mcp_servers": (
            {name: dict(server) for name, server in task.mcp_servers.items()}
            if task.mcp_servers
            else None
        ),
    }
    options.update({key: value for key, value in optional.items() if value is not None})
    options.update(agent_session_options(task))
    if task.limits.ai_credits is not None:
        # Experimental in the SDK; the CLI asks (session_limits_exhausted.requested) when
        # the credits are spent, which ends the attempt as a crossed limit.
        options["session_limits"] = {"max_ai_credits": task.limits.ai_credits}
    if task.sandbox is not None:
        options["sandbox_config"] = sandbox_config(
            task.sandbox, task.working_directory, Path.home(), copilot_home
        )
    if task.provider is not None:
        # The CLI sends no session telemetry for a BYOK provider anyway, but unless told
        # it still does the work: measured, 15% of its CPU per short session.
        options["enable_session_telemetry"] = False
    return options


def _system_message(task: TaskSpec) -> dict[str, Any] | None:
    """The job's system message, plus the request for JSON when there is an output_schema."""
    message = dict(task.system_message) if task.system_message else None
    if task.output_schema is None:
        return message
    instructions = output_instructions(task.output_schema)
    if message is None:
        return {"mode": "append", "content": instructions}
    message["content"] = "\n\n".join(filter(None, (message.get("content"), instructions)))
    return message


@dataclass(frozen=True)
class SessionSettings:
    """What an attempt's session gets besides its task: the attempt's number, whom to tell
    of rate limits, of what the session does now and of the tokens it spends, and
    ``copilot_home``, the state directory of a CLI process copilot-batch started (the
    session's state then stays in memory; a session on a server is deleted instead)."""

    attempt: int = 1
    on_rate_limited: Callable[[], None] | None = None
    on_activity: Callable[[str], None] | None = None
    # Each model call's tokens as spent, and how many of them were estimated.
    on_tokens: Callable[[int, int], None] | None = None
    copilot_home: Path | None = None


class TaskSession:
    """One attempt at a task, in its own session: create it, send the prompt, wait under
    the task's deadlines, tear it down. Events go to ``sink`` until it is torn down; the
    caller closes the sink and records ``result``."""

    def __init__(
        self,
        client: CopilotClient,
        task: TaskSpec,
        sink: EventSink,
        log: FilteringBoundLogger,
        settings: SessionSettings,
    ) -> None:
        self.result = TaskResult(task=task, started_at=datetime.now(UTC), attempt=settings.attempt)
        self._client = client
        self._sink = sink
        self._log = log
        self._settings = settings
        self._observer = _SessionObserver(sink, settings, task.limits)
        self._session: CopilotSession | None = None
        self._torn_down = False

    async def run(self) -> TaskResult:
        """The attempt's result, whatever happened to the session. When the run is being
        cancelled, ``result`` says ``cancelled`` (not why: the caller words that) and the
        cancellation goes on."""
        try:
            await self._run_under_deadlines()
        except anyio.get_cancelled_exc_class():
            self.result.status = TaskStatus.CANCELLED
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._end()
        return self.result

    async def _run_under_deadlines(self) -> None:
        task = self.result.task
        try:
            with (
                anyio.move_on_after(task.timeout_seconds) as deadline,
                anyio.CancelScope() as idle,
                anyio.CancelScope() as limit,
            ):
                async with anyio.create_task_group() as watchdog:
                    if task.idle_timeout_seconds is not None:
                        watchdog.start_soon(
                            _cancel_when_idle, self._observer, task.idle_timeout_seconds, idle
                        )
                    watchdog.start_soon(_cancel_over_limit, self._observer, limit)
                    await self._converse()
                    watchdog.cancel_scope.cancel()
        except* TaskTimeout as timeouts:
            self.result.fail(TaskStatus.TIMEOUT, timeouts.exceptions[0])  # a step's timeout
        except* TaskFailure as failures:
            self.result.fail(TaskStatus.FAILED, failures.exceptions[0])
        except* Exception as errors:
            # The SDK or the CLI failed to create or drive the session: a connection problem.
            self.result.fail(TaskStatus.ERROR, ExternalFailure(errors.exceptions[0], True))
        else:
            if deadline.cancelled_caught:
                self.result.fail(TaskStatus.TIMEOUT, TaskTimeout("timeout", task.timeout_seconds))
            elif idle.cancelled_caught and task.idle_timeout_seconds is not None:
                timeout = TaskTimeout("idle_timeout", task.idle_timeout_seconds)
                self.result.fail(TaskStatus.TIMEOUT, timeout)
            elif limit.cancelled_caught and self._observer.exceeded is not None:
                self.result.fail(TaskStatus.LIMIT, self._observer.exceeded)
            elif self._observer.error is not None:
                self.result.fail(TaskStatus.FAILED, self._observer.error)
            else:
                self.result.status = TaskStatus.OK

    async def _converse(self) -> None:
        """Create the session, then hold its conversation (the prompt, then each step)."""
        task, observer = self.result.task, self._observer
        options = session_options(task, self._on_permission, self._settings.copilot_home)
        if "sandbox_config" in options:
            denied = options["sandbox_config"].user_policy.filesystem.denied_paths
            observer.watchers.append(SandboxWatch(denied, self._on_sandbox_denial))
        hooks = TaskHooks(task.hooks, self._on_hook)
        if task.hooks:
            options["hooks"] = hooks.session_hooks()
        if task.ask_user_answer is not None:
            options["on_user_input_request"] = answering(task.ask_user_answer, self._on_question)
        # Subscribed before the session starts: its first events (session.start) come
        # while create_session is still waiting for the CLI's answer.
        options["on_event"] = self._on_event
        session = self._session = await self._client.create_session(**options)
        self.result.session_id = session.session_id
        await Conversation(session, observer, self.result, self._sink).run()
        hooks.raise_failure()

    def _on_event(self, event: SessionEvent) -> None:
        """Every event of the session to the observer, until the session is torn down
        (a disconnect that failed leaves the SDK delivering; those late events are dropped)."""
        if not self._torn_down:
            self._observer(event)

    def _on_permission(self, entry: AuditEntry) -> None:
        record = entry.to_record()
        self.result.permission_audit.append(entry)
        self._sink.emit({"type": PERMISSION_EVENT, "data": record})
        self._log.info(
            "permission",
            kind=record["kind"],
            target=record["target"],
            decision=record["decision"],
            rule=record["rule"],
        )

    def _on_hook(self, decision: HookDecision) -> None:
        record = decision.to_record()
        self.result.hook_audit.append(decision)
        self._sink.emit({"type": HOOK_EVENT, "data": record})
        self._log.info(
            "hook", hook=decision.hook, handler=decision.handler, decision=decision.decision
        )

    def _on_question(self, question: UserQuestion) -> None:
        self.result.questions.append(question)
        self._sink.emit({"type": QUESTION_EVENT, "data": question.to_record()})

    def _on_sandbox_denial(self, denial: SandboxDenial) -> None:
        record = denial.to_record()
        self.result.sandbox_audit.append(denial)
        self._sink.emit({"type": SANDBOX_DENIAL_EVENT, "data": record})
        self._log.info(
            "sandbox denial",
            denial=record["denial"],
            command=record["command"],
            reported_by=record["reported_by"],
        )

    async def _end(self) -> None:
        """Tear the session down (in at most TEARDOWN_SECONDS), then complete the result."""
        with anyio.move_on_after(TEARDOWN_SECONDS):
            await _tear_down(
                self._client,
                self._session,
                stop_turn=not self._observer.finished.is_set(),
                delete=self._settings.copilot_home is None,
                log=self._log,
            )
        self._torn_down = True
        self.result.final_message = self._observer.final_message
        self.result.usage = self._observer.usage
        self.result.usage_by_model = self._observer.usage_by_model
        self.result.premium_requests = self._observer.premium_requests
        self.result.ai_credits = self._observer.ai_credits
        self.result.tool_calls = self._observer.tool_calls
        self.result.turns = self._observer.turns
        self.result.rate_limited = self._observer.rate_limited
        self.result.finished_at = datetime.now(UTC)
        finish_steps(self.result)


async def _cancel_when_idle(
    observer: _SessionObserver, idle_seconds: float, scope: anyio.CancelScope
) -> None:
    """Cancel ``scope`` once the session has sent no event for ``idle_seconds``."""
    while (wait := observer.last_event_at + idle_seconds - time.monotonic()) > 0:
        await anyio.sleep(wait)
    scope.cancel()


async def _cancel_over_limit(observer: _SessionObserver, scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` once the session has crossed one of the task's limits."""
    await observer.over_limit.wait()
    scope.cancel()


async def _tear_down(
    client: CopilotClient,
    session: CopilotSession | None,
    *,
    stop_turn: bool,
    delete: bool,
    log: FilteringBoundLogger,
) -> None:
    """Abort a turn still running, then detach the session and delete its state on the
    CLI's disk (``delete``; state kept in memory goes with the session). Failures are
    logged."""
    if session is None:
        return
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [("disconnect", session.disconnect)]
    if stop_turn:
        steps.insert(0, ("abort", session.abort))
    if delete:
        steps.append(("delete", lambda: client.delete_session(session.session_id)))
    for name, step in steps:
        try:
            await step()
        except Exception as exc:
            log.warning("session teardown step failed", step=name, error=repr(exc))
