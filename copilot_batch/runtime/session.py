"""One task's life, top to bottom: build options, create the session, send, wait, tear down."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
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
    ToolExecutionStartData,
)
from structlog.typing import FilteringBoundLogger

from ..errors import OutputInvalidError, OutputProblem, SessionError, TaskFailure, TaskTimeout
from ..jobfile import TaskSpec
from ..records import AuditEntry, TaskResult, TaskStatus, Usage
from ..run_folder.events import EventSink
from .permissions import permission_handler
from .session_files import SessionFiles
from .structured_output import output_instructions, parse_output, retry_prompt

# Teardown (abort, disconnect, delete) gets this long even when the run is being cancelled.
TEARDOWN_SECONDS = 15.0


class _SessionObserver:
    """Reads a session's events as they arrive: the answer, usage, tool calls, the end."""

    def __init__(
        self,
        sink: EventSink,
        on_rate_limited: Callable[[], None] | None,
        on_activity: Callable[[str], None] | None,
    ) -> None:
        self._sink = sink
        self._on_rate_limited = on_rate_limited
        self._on_activity = on_activity or (lambda _activity: None)
        self.finished = anyio.Event()
        self.final_message: str | None = None
        self.usage = Usage()
        self.tool_calls = 0
        self.error: SessionError | None = None
        self.last_event_at = time.monotonic()

    async def turn(self, session: CopilotSession, prompt: str) -> None:
        """Send ``prompt`` and wait until the session is idle or reports an error."""
        self.finished = anyio.Event()
        await session.send(prompt)
        await self.finished.wait()

    def __call__(self, event: SessionEvent) -> None:
        self.last_event_at = time.monotonic()
        self._sink.emit(event.to_dict())
        data = event.data
        match event.type:
            case SessionEventType.ASSISTANT_MESSAGE if isinstance(data, AssistantMessageData):
                # Sub-agent messages carry a parent tool call; the task's answer does not.
                if data.content.strip() and data.parent_tool_call_id is None:
                    self.final_message = data.content
            case SessionEventType.ASSISTANT_USAGE if isinstance(data, AssistantUsageData):
                self.usage.add(
                    Usage(
                        input_tokens=data.input_tokens or 0,
                        output_tokens=data.output_tokens or 0,
                        cache_read_tokens=data.cache_read_tokens or 0,
                        cache_write_tokens=data.cache_write_tokens or 0,
                    )
                )
            case SessionEventType.TOOL_EXECUTION_START if isinstance(data, ToolExecutionStartData):
                self.tool_calls += 1
                self._on_activity(f"tool {data.tool_name}")
            case SessionEventType.ASSISTANT_TURN_START:
                self._on_activity("thinking")
            case SessionEventType.ASSISTANT_TURN_RETRY if isinstance(data, AssistantTurnRetryData):
                self._on_activity(f"retrying ({data.reason})")
                if data.reason == "rate_limit" and self._on_rate_limited is not None:
                    self._on_rate_limited()
            case SessionEventType.SESSION_ERROR if isinstance(data, SessionErrorData):
                self.error = SessionError(data.error_type, data.message, data.status_code)
                if data.status_code == 429 and self._on_rate_limited is not None:
                    self._on_rate_limited()
                self.finished.set()
            case SessionEventType.SESSION_IDLE:
                self.finished.set()


# The type of the lines copilot-batch adds to events.jsonl for its permission decisions.
PERMISSION_EVENT = "copilot_batch.permission"


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
        "provider": dict(task.provider) if task.provider is not None else None,
        "system_message": _system_message(task),
        "tools": [tool for ref in task.custom_tools for tool in ref.tools] or None,
        "available_tools": list(task.available_tools) if task.available_tools else None,
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
    if task.provider is not None:
        # The CLI sends no session telemetry for a BYOK provider anyway, but unless told
        # it still does the work: measured, 15% of its CPU per short session.
        options["enable_session_telemetry"] = False
    return options


def _system_message(task: TaskSpec) -> dict[str, str] | None:
    """The job's system message, plus the request for JSON when there is an output_schema."""
    message = dict(task.system_message) if task.system_message else None
    if task.output_schema is None:
        return message
    instructions = output_instructions(task.output_schema)
    if message is None:
        return {"mode": "append", "content": instructions}
    message["content"] = f"{message['content']}\n\n{instructions}"
    return message


async def run_task_session(
    client: CopilotClient,
    task: TaskSpec,
    sink: EventSink,
    log: FilteringBoundLogger,
    record: Callable[[TaskResult], Awaitable[None]],
    attempt: int = 1,
    on_rate_limited: Callable[[], None] | None = None,
    on_activity: Callable[[str], None] | None = None,
    copilot_home: Path | None = None,
) -> None:
    """Run one task in its own session and ``record`` its result, whatever happens.

    Events go to ``sink`` until the session is torn down; the caller closes the sink.
    Cancellation (the run being stopped) records ``cancelled``, leaving ``record`` to say
    why, and propagates. ``copilot_home``: the client is a CLI process copilot-batch
    started, with this state directory; the session's state then stays in memory.
    """
    result = TaskResult(task=task, started_at=datetime.now(UTC), attempt=attempt)
    observer = _SessionObserver(sink, on_rate_limited, on_activity)
    session: CopilotSession | None = None
    unsubscribe: Callable[[], None] | None = None

    def on_permission(entry: AuditEntry) -> None:
        record = entry.to_record()
        result.permission_audit.append(entry)
        sink.emit({"type": PERMISSION_EVENT, "data": record})
        log.info(
            "permission",
            kind=record["kind"],
            target=record["target"],
            decision=record["decision"],
            rule=record["rule"],
        )

    try:
        with anyio.move_on_after(task.timeout_seconds) as deadline, anyio.CancelScope() as idle:
            failure: Exception | None = None
            async with anyio.create_task_group() as watchdog:
                if task.idle_timeout_seconds is not None:
                    watchdog.start_soon(
                        _cancel_when_idle, observer, task.idle_timeout_seconds, idle
                    )
                # Kept out of the task group, which would wrap it in an exception group.
                try:
                    session = await client.create_session(
                        **session_options(task, on_permission, copilot_home)
                    )
                    result.session_id = session.session_id
                    unsubscribe = session.on(observer)
                    await observer.turn(session, task.prompt)
                    if task.output_schema is not None and observer.error is None:
                        schema = task.output_schema
                        result.output = await _checked_output(session, observer, schema)
                except Exception as exc:
                    failure = exc
                watchdog.cancel_scope.cancel()
            if failure is not None:
                raise failure
        if deadline.cancelled_caught:
            _fail(result, TaskStatus.TIMEOUT, TaskTimeout("timeout", task.timeout_seconds))
        elif idle.cancelled_caught and task.idle_timeout_seconds is not None:
            _fail(
                result, TaskStatus.TIMEOUT, TaskTimeout("idle_timeout", task.idle_timeout_seconds)
            )
        elif observer.error is not None:
            _fail(result, TaskStatus.FAILED, observer.error)
            result.status_code = observer.error.status_code
            result.transient = is_transient(observer.error)
        else:
            result.status = TaskStatus.OK
    except anyio.get_cancelled_exc_class():
        result.status = TaskStatus.CANCELLED
        raise
    except TaskFailure as failure:
        _fail(result, TaskStatus.FAILED, failure)
    except Exception as exc:
        # The SDK or the CLI failed to create or drive the session: a connection problem.
        _fail(result, TaskStatus.ERROR, exc)
        result.transient = True
    finally:
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(TEARDOWN_SECONDS):
                await _tear_down(
                    client,
                    session,
                    stop_turn=not observer.finished.is_set(),
                    delete=copilot_home is None,
                    log=log,
                )
            if unsubscribe is not None:
                unsubscribe()
            result.final_message = observer.final_message
            result.usage = observer.usage
            result.tool_calls = observer.tool_calls
            result.finished_at = datetime.now(UTC)
            await record(result)


async def _cancel_when_idle(
    observer: _SessionObserver, idle_seconds: float, scope: anyio.CancelScope
) -> None:
    """Cancel ``scope`` once the session has sent no event for ``idle_seconds``."""
    while (wait := observer.last_event_at + idle_seconds - time.monotonic()) > 0:
        await anyio.sleep(wait)
    scope.cancel()


async def _checked_output(
    session: CopilotSession, observer: _SessionObserver, schema: Mapping[str, Any]
) -> Any:
    """The answer's JSON output; a refused answer is shown to the agent once, in the same
    session. ``None`` if the retry ended in a session error (the caller records that)."""
    try:
        return parse_output(observer.final_message, schema)
    except OutputProblem as problem:
        await observer.turn(session, retry_prompt(problem))
    if observer.error is not None:
        return None
    try:
        return parse_output(observer.final_message, schema)
    except OutputProblem as problem:
        raise OutputInvalidError(str(problem), attempts=2) from None


def is_transient(error: SessionError) -> bool:
    """Whether a session error is worth a fresh attempt: the model was rate-limited or
    failing (408, 429, 5xx), or unreachable (the CLI gave up after its own retries)."""
    if error.status_code is not None:
        return error.status_code in (408, 429) or error.status_code >= 500
    return "Failed to get response from the AI model" in error.message


def _fail(result: TaskResult, status: TaskStatus, error: BaseException) -> None:
    result.status = status
    result.error = str(error) or type(error).__name__
    result.error_type = type(error).__name__


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
