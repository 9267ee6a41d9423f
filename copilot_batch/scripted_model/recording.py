"""Turning captured model exchanges into a script the scripted model replays.

Each exchange is one chat-completions request (its messages) and the reply the upstream
gave. Every exchange becomes request + reply in the normal form of :mod:`.normalize`, so
the file holds exactly what :func:`.script.load_script` reads and the matcher compares;
an exchange that a later one continues is dropped, as the later one answers it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml

from .normalize import Message, normalize_messages, working_directory


@dataclass(frozen=True)
class Exchange:
    """One request's model and raw messages, and the raw assistant message it got."""

    model: str | None
    messages: tuple[Mapping[str, Any], ...]
    reply: Mapping[str, Any]


class HoldsSecret(Exception):
    """A request sent to the model holds a secret: replaying would need it in the file."""


def reply_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The assistant message of a non-streaming ``chat.completion``."""
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    return {"role": "assistant", **{k: v for k, v in message.items() if k != "role"}}


def reply_from_stream(data: bytes) -> dict[str, Any]:
    """The assistant message a stream of ``chat.completion.chunk`` events adds up to."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        payload = line.removeprefix("data:").strip() if line.startswith("data:") else ""
        if not payload or payload == "[DONE]":
            continue
        for choice in json.loads(payload).get("choices") or ():
            delta = choice.get("delta") or {}
            content.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or ():
                _add_call_delta(calls.setdefault(int(call.get("index", 0)), {}), call)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message


def _add_call_delta(call: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Merge one streamed piece of a tool call: its id and name once, its arguments added."""
    function = call.setdefault("function", {"name": "", "arguments": ""})
    call.setdefault("type", "function")
    if delta.get("id"):
        call["id"] = delta["id"]
    piece = delta.get("function") or {}
    function["name"] += piece.get("name") or ""
    function["arguments"] += piece.get("arguments") or ""


def conversations(
    exchanges: Sequence[Exchange], redact: Callable[[str], str]
) -> list[tuple[Message, ...]]:
    """Each exchange in normal form, those a later one continues left out. ``redact``
    masks secrets in replies; a request holding one raises :class:`HoldsSecret`."""
    found: list[tuple[Message, ...]] = []
    for exchange in exchanges:
        raw = [*exchange.messages, exchange.reply]
        normal = normalize_messages(raw, working_directory(exchange.messages))
        for message in normal[:-1]:
            if redact(message.canonical()) != message.canonical():
                raise HoldsSecret(message.role)
        reply = normal[-1]
        found.append((*normal[:-1], _redacted(reply, redact)))
    return [c for c in found if not any(len(o) > len(c) and o[: len(c)] == c for o in found)]


def _redacted(message: Message, redact: Callable[[str], str]) -> Message:
    calls = tuple(replace(c, arguments=redact(c.arguments)) for c in message.tool_calls)
    content = redact(message.content) if message.content is not None else None
    return replace(message, content=content, tool_calls=calls)


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so a recorded file reads like a hand-written one."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def script_text(exchanges: Sequence[Exchange], redact: Callable[[str], str], title: str) -> str:
    """The script file for one task's exchanges, headed by a ``title`` comment."""
    models = sorted({e.model for e in exchanges if e.model})
    data = {
        "models": models,
        "conversations": [
            {"messages": [m.to_json() for m in conversation]}
            for conversation in conversations(exchanges, redact)
        ],
    }
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"# {title}\n{body}"
