"""Captured exchanges → a script: replies rebuilt from streams, the file in normal form."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from copilot_batch.redact import Redactor
from copilot_batch.scripted_model import (
    Match,
    Message,
    ToolCall,
    find_reply,
    normalize_messages,
    parse_script,
)
from copilot_batch.scripted_model.recording import (
    Exchange,
    conversations,
    reply_from_body,
    reply_from_stream,
    script_text,
)
from copilot_batch.scripted_model.server import completion_body, completion_chunks

WORKDIR = "/home/ada/work-7f3e"
SYSTEM = {"role": "system", "content": f"You are Copilot.\n* Current working directory: {WORKDIR}"}
ASK = {
    "role": "user",
    "content": "<current_datetime>2026-12-02T07:22:05Z</current_datetime>\nRead notes.txt.",
}
CALL = {
    "id": "call_Zx81kQ",
    "type": "function",
    "function": {"name": "view", "arguments": json.dumps({"path": f"{WORKDIR}/notes.txt"})},
}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call_Zx81kQ", "content": "hello"}
FIRST = Exchange("gpt-4.1", (SYSTEM, ASK), {"role": "assistant", "tool_calls": [CALL]})
SECOND = Exchange(
    "gpt-4.1",
    (SYSTEM, ASK, {"role": "assistant", "tool_calls": [CALL]}, TOOL_RESULT),
    {"role": "assistant", "content": "It says hello; the key is s3cret-value."},
)


def _sse(message: Message) -> bytes:
    chunks = completion_chunks(message, "gpt-4.1", "chatcmpl-1", {"prompt_tokens": 1})
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=200)
calls = st.builds(
    ToolCall,
    id=st.from_regex(r"call_[A-Za-z0-9]{1,8}", fullmatch=True),
    name=st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
    arguments=texts,
)


@given(content=st.none() | texts.filter(bool), tool_calls=st.lists(calls, max_size=3))
def test_a_streamed_reply_adds_up_to_the_message_streamed(
    content: str | None, tool_calls: list[ToolCall]
) -> None:
    message = Message("assistant", content, tuple(tool_calls))
    rebuilt = reply_from_stream(_sse(message))
    assert rebuilt == message.to_json() | {"content": content}
    body = completion_body(message, "gpt-4.1", "chatcmpl-1", {})
    assert reply_from_body(body)["tool_calls" if tool_calls else "role"] == (
        message.to_json()["tool_calls"] if tool_calls else "assistant"
    )


def test_a_recorded_script_loads_as_the_conversations_it_was_written_from() -> None:
    redact = Redactor(["s3cret-value"]).text
    text = script_text([FIRST, SECOND], redact, "task t")
    script = parse_script(text, Path("t.yaml"))
    assert [c.messages for c in script.conversations] == conversations([FIRST, SECOND], redact)
    # The first exchange is a prefix of the second: one conversation answers both.
    assert len(script.conversations) == 1
    assert WORKDIR not in text and "call_Zx81kQ" not in text and "2026-12-02" not in text
    assert "s3cret-value" not in text and "the key is ***." in text
    assert script.models == ("gpt-4.1",)
    for exchange in (FIRST, SECOND):
        match = find_reply([script], normalize_messages(exchange.messages, WORKDIR))
        assert isinstance(match, Match), str(match)
        assert match.reply == conversations([exchange], redact)[0][-1]
