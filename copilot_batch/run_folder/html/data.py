"""What report.html embeds: the run, its tasks, and each task's transcript, made smaller.

Only the events the page shows are kept (:data:`SHOWN_EVENTS`); the rest (streaming
deltas, the CLI's model.* telemetry, usage ticks, the session's bookkeeping) are dropped.
Of those kept, only the fields the page reads are; tool results and patches longer than
:data:`MAX_TEXT` are cut, with their full length kept as ``truncated_from``; texts that
many tasks repeat whole (the system message, a skill's instructions) are stored once in
``texts`` and referred to by index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..reader import StoredRun, StoredTask

# Tool results and patches longer than this are cut in the page.
MAX_TEXT = 20_000
# The fields each shown event keeps; an event of any other type is left out.
SHOWN_EVENTS: Mapping[str, tuple[str, ...]] = {
    "system.message": ("content",),
    "user.message": ("content", "attachments"),
    "assistant.message": ("content", "parentToolCallId"),
    "assistant.reasoning": ("content",),
    "assistant.turn_retry": ("reason", "message"),
    "tool.execution_start": ("toolCallId", "toolName", "arguments", "parentToolCallId"),
    "tool.execution_complete": ("toolCallId", "success", "result", "error"),
    "skill.invoked": ("name", "content"),
    "subagent.started": ("agentName", "agentDisplayName", "toolCallId"),
    "subagent.completed": ("agentName", "toolCallId"),
    "subagent.failed": ("agentName", "toolCallId", "error"),
    "session.error": ("errorType", "message", "statusCode"),
    "session.warning": ("warningType", "message"),
    "copilot_batch.permission": ("kind", "target", "decision", "rule", "tool_call_id"),
    "copilot_batch.hook": ("hook", "handler", "decision", "tool", "reason"),
    "copilot_batch.question": ("question", "answer", "choices"),
    "copilot_batch.sandbox_denial": ("denial", "command", "reported_by"),
    "copilot_batch.step": ("step", "model", "mode"),
}
# Texts stored once in ``texts``, however many tasks carry them.
_SHARED_TEXTS = {"system.message", "skill.invoked"}
# The fields of run.json the run view shows.
_RUN_FIELDS = (
    "run_id", "state", "failure", "started_at", "finished_at", "duration_seconds",
    "job_files", "options", "environment", "resumed_at", "concurrency", "cli_restarts",
    "totals", "cost", "merged_from",
)  # fmt: skip
# The fields of result.json the tasks and task views show.
_TASK_FIELDS = (
    "id", "job", "status", "matrix", "started_at", "finished_at", "duration_seconds",
    "attempt", "usage", "tool_calls", "permission_denials", "sandbox_denials",
    "hook_decisions", "changed_files", "error", "error_type", "status_code",
    "final_message", "output", "prompt", "permission_audit", "hook_audit", "sandbox_audit",
    "question_audit", "reused_from", "steps",
)  # fmt: skip


class SharedTexts:
    """Long texts stored once: each distinct text gets an index into ``texts``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.texts)
            self.texts.append(text)
        return self._index[text]


def report_data(
    run: StoredRun,
    tasks: Sequence[StoredTask],
    events_of: Callable[[str], list[dict[str, Any]]],
    patch_of: Callable[[StoredTask], str | None],
) -> dict[str, Any]:
    """The page's data: the run, each task with its attempts, events and patch."""
    shared = SharedTexts()
    entries = [
        {
            **{key: task.record[key] for key in _TASK_FIELDS if key in task.record},
            "attempts": attempt_spans(task),
            "events": shown_events(events_of(task.id), shared),
            "patch": cut_text(patch_of(task)),
        }
        for task in tasks
    ]
    record = run.record
    return {
        "run": {key: record[key] for key in _RUN_FIELDS if key in record},
        "concurrency_steps": concurrency_steps(run, tasks),
        "tasks": entries,
        "texts": shared.texts,
        "max_text": MAX_TEXT,
    }


def attempt_spans(task: StoredTask) -> list[dict[str, Any]]:
    """Every attempt of the task, oldest first: its number, status, times and error (the
    earlier ones from ``attempts``, the last from the task itself)."""
    record = task.record
    last = {
        "attempt": record.get("attempt", len(task.attempts) + 1),
        "status": record["status"],
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "error": record.get("error"),
    }
    earlier = [attempt for attempt in task.attempts if attempt.get("attempt") != last["attempt"]]
    return [*earlier, last] if last["started_at"] else earlier


def concurrency_steps(run: StoredRun, tasks: Iterable[StoredTask]) -> list[list[float]]:
    """Sessions running over the run, as ``[seconds since its start, running]`` points,
    one where the count changes, from every attempt's start and finish."""
    changes: list[tuple[float, int]] = []
    for task in tasks:
        for span in attempt_spans(task):
            start, finish = span.get("started_at"), span.get("finished_at")
            if start and finish:
                changes += [(_seconds(run, start), 1), (_seconds(run, finish), -1)]
    steps, running = [[0.0, 0.0]], 0
    for at, change in sorted(changes):  # a finish (-1) sorts before a start at the same time
        running += change
        if steps[-1][0] == at:
            steps[-1][1] = running
        else:
            steps.append([at, running])
    return steps


def _seconds(run: StoredRun, moment: str) -> float:
    return round((datetime.fromisoformat(moment) - run.started_at).total_seconds(), 3)


def shown_events(events: Iterable[Mapping[str, Any]], shared: SharedTexts) -> list[Any]:
    """The events the page shows, each ``{"type", "attempt", "data"}`` with the fields it
    reads, long results cut and shared texts by reference; each attempt's system message
    first (the CLI sends it after the prompt)."""
    shown = []
    for line in events:
        event = line.get("event")
        if not isinstance(event, dict) or event.get("type") not in SHOWN_EVENTS:
            continue
        kind: str = event["type"]
        data = event["data"] if isinstance(event.get("data"), dict) else {}
        kept = {key: data[key] for key in SHOWN_EVENTS[kind] if key in data}
        if kind == "tool.execution_complete" and isinstance(kept.get("result"), dict):
            kept["result"] = _cut_result(kept["result"])
        if kind in _SHARED_TEXTS and isinstance(kept.get("content"), str):
            kept["content"] = {"ref": shared.ref(kept["content"])}
        attempt = line.get("attempt")
        attempt = attempt if isinstance(attempt, int) else 1
        shown.append({"type": kind, "attempt": attempt, "data": kept})
    return sorted(shown, key=lambda event: (event["attempt"], event["type"] != "system.message"))


def _cut_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A tool result's text (its ``detailedContent`` when richer), cut to MAX_TEXT."""
    text = result.get("detailedContent") or result.get("content")
    return cut_text(text if isinstance(text, str) else None) or {"text": ""}


def cut_text(text: str | None) -> dict[str, Any] | None:
    """``{"text"}``, with ``truncated_from`` (the full length) when cut to MAX_TEXT."""
    if text is None:
        return None
    if len(text) <= MAX_TEXT:
        return {"text": text}
    return {"text": text[:MAX_TEXT], "truncated_from": len(text)}
