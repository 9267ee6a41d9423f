"""Rebuilding a task's conversation from its event log, for ``copilot-batch script``.

The CLI's ``model.messages_snapshot`` event holds the messages of the session's last
model request and the reply, exactly as sent: that is the script. A log without one (a
task cut short, an older CLI) is rebuilt from the prompt, reply and tool events, which
lack what the CLI adds between them; each such gap is named in ``notes``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .normalize import Message, normalize_messages, working_directory

_SNAPSHOT = "model.messages_snapshot"
FROM_EVENTS = (
    "rebuilt from the task's events, not the CLI's message snapshot: text the CLI adds to "
    "prompts and tool results (notices, truncation, failure wording) and reasoning may differ"
)


@dataclass(frozen=True)
class Rebuilt:
    """One task's conversation in normal form, its models, and what may differ from it."""

    messages: tuple[Message, ...]
    models: tuple[str, ...]
    notes: tuple[str, ...]


def rebuild_conversation(logged: Sequence[Mapping[str, Any]]) -> Rebuilt | None:
    """The conversation of the task's last attempt, from its events.jsonl lines; ``None``
    when they hold no prompt."""
    events = _last_attempt(logged)
    raw, notes = _snapshot(events), []
    if raw is None:
        raw, notes = _from_events(events), [FROM_EVENTS]
    if not any(message.get("role") == "user" for message in raw):
        return None
    messages = normalize_messages(raw, working_directory(raw))
    notes += _gaps(logged, events, messages)
    models = dict.fromkeys(str(data["model"]) for _, data in events if data.get("model"))
    return Rebuilt(messages, tuple(models), tuple(notes))


Event = tuple[str, Mapping[str, Any]]


def _last_attempt(logged: Sequence[Mapping[str, Any]]) -> list[Event]:
    last = max((line.get("attempt", 1) for line in logged), default=1)
    return [event for line in logged if line.get("attempt", 1) == last for event in _event(line)]


def _event(line: Mapping[str, Any]) -> Iterator[Event]:
    event = line.get("event")
    if isinstance(event, Mapping) and isinstance(event.get("data"), Mapping):
        yield str(event.get("type")), event["data"]


def _snapshot(events: Sequence[Event]) -> list[Mapping[str, Any]] | None:
    """The last snapshot's messages, if no reply came after it."""
    for kind, data in reversed(events):
        if kind == "assistant.message" and not data.get("parentToolCallId"):
            return None
        if kind == _SNAPSHOT and isinstance(data.get("messages"), list):
            return [m for m in data["messages"] if isinstance(m, Mapping)]
    return None


def _from_events(events: Sequence[Event]) -> list[Mapping[str, Any]]:
    """Messages from system, prompt, reply and tool-result events (a sub-agent's skipped)."""
    raw: list[Mapping[str, Any]] = []
    for kind, data in events:
        if data.get("parentToolCallId"):
            continue
        if kind == "system.message":
            raw.append({"role": "system", "content": data.get("content")})
        elif kind == "user.message":
            raw.append(
                {"role": "user", "content": data.get("transformedContent") or data.get("content")}
            )
        elif kind == "assistant.message":
            raw.append(_assistant(data))
        elif kind == "tool.execution_complete":
            raw.append(
                {"role": "tool", "tool_call_id": data.get("toolCallId"), "content": _result(data)}
            )
    return raw


def _assistant(data: Mapping[str, Any]) -> dict[str, Any]:
    requests = data.get("toolRequests")
    calls = [
        {
            "id": request.get("toolCallId"),
            "type": "function",
            "function": {
                "name": request.get("name"),
                "arguments": json.dumps(request.get("arguments") or {}),
            },
        }
        for request in (requests if isinstance(requests, list) else ())
        if isinstance(request, Mapping)
    ]
    return {"role": "assistant", "content": data.get("content") or None, "tool_calls": calls}


def _result(data: Mapping[str, Any]) -> str:
    for key in ("result", "error"):
        part = data.get(key)
        if isinstance(part, Mapping) and isinstance(
            part.get("content" if key == "result" else "message"), str
        ):
            return str(part.get("content" if key == "result" else "message"))
    return ""


def _gaps(
    logged: Sequence[Mapping[str, Any]], events: Sequence[Event], messages: Sequence[Message]
) -> list[str]:
    """What the rebuilt conversation may not reproduce."""
    notes = []
    attempts = max((line.get("attempt", 1) for line in logged), default=1)
    if attempts != 1:
        notes.append(f"the task ran {attempts} attempts; this is the conversation of the last")
    if any("compaction" in kind for kind, _ in events):
        notes.append("the session compacted its history: requests before that may not match")
    if messages and messages[-1].role != "assistant":
        notes.append(
            f"the conversation ends with a {messages[-1].role} message, not the model's reply: "
            "a replay stops there with no scripted reply"
        )
    return notes
