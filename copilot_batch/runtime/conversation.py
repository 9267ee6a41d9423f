"""A task's conversation in its session: the first prompt, then each of its ``steps`` once
the previous turn is idle, each under its own timeout, with its model, reasoning effort and
mode switched before it is sent, and its answer checked against its ``output_schema``.

A failed turn ends the conversation (the session's error, or an output that stays
invalid); the caller turns that into the task's status.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import anyio
from copilot import CopilotSession
from copilot.generated.rpc import ModelSetReasoningEffortRequest, ModeSetRequest
from copilot.generated.session_events import SessionMode
from copilot.session import (
    Attachment,
    BlobAttachment,
    DirectoryAttachment,
    FileAttachment,
    SelectionAttachment,
)

from ..errors import ExternalFailure, OutputInvalidError, OutputProblem, SessionError, TaskTimeout
from ..jobfile.attachments import AttachmentSpec, read_blob
from ..jobfile.model_capabilities import sdk_capabilities
from ..jobfile.steps import StepSpec
from ..records import StepResult, TaskResult, TaskStatus, Usage
from ..run_folder.events import EventSink
from .structured_output import output_instructions, parse_output, retry_prompt

# The type of the line copilot-batch adds to events.jsonl as each turn of a task with
# steps begins.
STEP_EVENT = "copilot_batch.step"


class Turns(Protocol):
    """What the conversation needs of the session's observer."""

    final_message: str | None
    error: SessionError | None
    usage: Usage
    tool_calls: int

    async def turn(
        self, session: CopilotSession, prompt: str, attachments: list[Attachment] | None = None
    ) -> None: ...


class Conversation:
    """The turns of one attempt, in order, each recorded in ``result.steps`` when the task
    has steps; ``result.output`` is the last turn's."""

    def __init__(
        self, session: CopilotSession, observer: Turns, result: TaskResult, sink: EventSink
    ) -> None:
        self._session = session
        self._observer = observer
        self._result = result
        self._sink = sink

    async def run(self) -> None:
        task = self._result.task
        # The task's own output_schema is asked for in the system message, not the prompt.
        first = StepSpec(task.prompt, task.attachments, output_schema=task.output_schema)
        for index, step in enumerate((first, *task.steps)):
            if self._observer.error is not None:
                return  # a failed turn ends the task
            await self._turn(index, step)

    async def _turn(self, index: int, step: StepSpec) -> None:
        """Switch what the step asks, send it, wait for the session to be idle, check its
        output; all under the step's timeout."""
        observer, record = self._observer, self._begin(index, step)
        usage_before, tool_calls_before = _copy(observer.usage), observer.tool_calls
        observer.final_message = None  # the step's answer is its own, or none
        try:
            with anyio.move_on_after(step.timeout_seconds or math.inf) as deadline:
                await _switch(self._session, step)
                await observer.turn(self._session, _prompt(index, step), _sdk(step.attachments))
                self._result.output = await self._output(step.output_schema)
            if deadline.cancelled_caught and step.timeout_seconds is not None:
                raise TaskTimeout(f"steps[{index - 1}].timeout", step.timeout_seconds)
        finally:
            if record is not None:
                record.finished_at = datetime.now(UTC)
                record.final_message = observer.final_message
                record.output = self._result.output
                record.usage = _since(usage_before, observer.usage)
                record.tool_calls = observer.tool_calls - tool_calls_before
        if record is not None and observer.error is None:
            record.status = TaskStatus.OK

    def _begin(self, index: int, step: StepSpec) -> StepResult | None:
        """The step's record (none for a task without steps), announced in the event log."""
        if not self._result.task.steps:
            return None
        record = StepResult(index, datetime.now(UTC), model=step.model)
        self._result.steps.append(record)
        data = {"step": index, "model": step.model, "mode": step.mode}
        self._sink.emit({"type": STEP_EVENT, "data": data})
        return record

    async def _output(self, schema: Mapping[str, Any] | None) -> Any:
        if schema is None or self._observer.error is not None:
            return None
        return await checked_output(self._session, self._observer, schema)


def finish_steps(result: TaskResult) -> None:
    """Give the turn the task ended in (if it did not end ok) the task's status and error."""
    for step in result.steps:
        if step.status is TaskStatus.PENDING:
            step.status = result.status
            step.error = result.error
            step.finished_at = step.finished_at or result.finished_at


async def checked_output(
    session: CopilotSession, observer: Turns, schema: Mapping[str, Any]
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


async def _switch(session: CopilotSession, step: StepSpec) -> None:
    """The step's model, reasoning effort, model capabilities and mode, set before its
    prompt is sent. Capabilities without a model re-specify the session's current model
    (the SDK takes them only with ``set_model``)."""
    if step.model is not None or step.model_capabilities is not None:
        await session.set_model(
            step.model or await _current_model(session),
            reasoning_effort=step.reasoning_effort,
            model_capabilities=(
                sdk_capabilities(step.model_capabilities) if step.model_capabilities else None
            ),
        )
    elif step.reasoning_effort is not None:
        request = ModelSetReasoningEffortRequest(reasoning_effort=step.reasoning_effort)
        await session.rpc.model.set_reasoning_effort(request)
    if step.mode is not None:
        await session.rpc.mode.set(ModeSetRequest(mode=SessionMode(step.mode)))


async def _current_model(session: CopilotSession) -> str:
    current = await session.rpc.model.get_current()
    if current.model_id is None:
        problem = RuntimeError("the session has no model to give model_capabilities to")
        raise ExternalFailure(problem, transient=False)
    return current.model_id


def _prompt(index: int, step: StepSpec) -> str:
    """A step's prompt, with the request for JSON when it has an output_schema."""
    if index == 0 or step.output_schema is None:
        return step.prompt
    return f"{step.prompt}\n\n{output_instructions(step.output_schema)}"


def _sdk(attachments: Sequence[AttachmentSpec]) -> list[Attachment] | None:
    """The SDK's shapes of the attachments; ``None`` (the SDK's default) for none."""
    return [_sdk_attachment(attachment) for attachment in attachments] or None


def _sdk_attachment(attachment: AttachmentSpec) -> Attachment:
    path, name = str(attachment.path), attachment.display_name
    sent: Attachment
    match attachment.kind:
        case "file":
            sent = FileAttachment(type="file", path=path, displayName=name)
            if attachment.lines is not None:
                # Not in the SDK's Python shape, but the CLI takes it (the SDK's own tests
                # send it): the agent is told which lines, and reads them itself.
                first, last = attachment.lines
                cast(dict[str, Any], sent)["lineRange"] = {"start": first, "end": last}
        case "directory":
            sent = DirectoryAttachment(type="directory", path=path, displayName=name)
        case "selection":
            return _selection(attachment)
        case "blob":
            sent = BlobAttachment(
                type="blob",
                data=_base64(attachment),
                mimeType=attachment.mime_type or "application/octet-stream",
                displayName=name,
            )
    return sent


def _base64(attachment: AttachmentSpec) -> str:
    """A blob's bytes, read now (bounded): its size was checked when the job was loaded."""
    try:
        data = read_blob(attachment)
    except OSError as exc:
        raise ExternalFailure(exc, transient=False) from None
    return base64.b64encode(data).decode("ascii")


def _selection(attachment: AttachmentSpec) -> SelectionAttachment:
    """Lines of a file: the SDK counts lines from 0 and ends at the last line's end."""
    assert attachment.lines is not None and attachment.text is not None
    first, last = attachment.lines
    last_line = attachment.text.split("\n")[-1]
    return SelectionAttachment(
        type="selection",
        filePath=str(attachment.path),
        displayName=attachment.display_name,
        text=attachment.text,
        selection={
            "start": {"line": first - 1, "character": 0},
            "end": {"line": last - 1, "character": len(last_line)},
        },
    )


def _copy(usage: Usage) -> Usage:
    return Usage(**vars(usage))


def _since(before: Usage, after: Usage) -> Usage:
    return Usage(**{key: getattr(after, key) - value for key, value in vars(before).items()})
