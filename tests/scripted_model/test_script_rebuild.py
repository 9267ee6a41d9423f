"""Rebuilding a conversation from a task's events, and writing it as script YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from copilot_batch.scripted_model import dump_script, parse_script, rebuild_conversation
from copilot_batch.scripted_model.normalize import normalize_messages
from copilot_batch.scripted_model.rebuild import FROM_EVENTS

SYSTEM = "You are Copilot.\n* Current working directory: /home/me/work\n"
ARGUMENTS = {"path": "/home/me/work/notes.txt", "old_str": "draft", "new_str": "final"}
CALL = {"id": "call_x", "type": "function", "function": {"name": "edit", "arguments": ""}}
SNAPSHOT = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "<current_datetime>now</current_datetime>\n\nEdit notes."},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_x", "content": "File /home/me/work/notes.txt updated."},
    {"role": "assistant", "content": "Done."},
]
CALL["function"]["arguments"] = (
    '{"path":"/home/me/work/notes.txt","old_str":"draft","new_str":"final"}'
)


def logged(kind: str, data: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
    return {"attempt": attempt, "event": {"type": kind, "data": data}}


EVENTS = [
    logged("system.message", {"content": SYSTEM}),
    logged(
        "user.message", {"content": "Edit notes.", "transformedContent": SNAPSHOT[1]["content"]}
    ),
    logged(
        "assistant.message",
        {
            "content": "",
            "model": "gpt-4.1",
            "toolRequests": [{"toolCallId": "call_x", "name": "edit", "arguments": ARGUMENTS}],
        },
    ),
    logged(
        "tool.execution_complete",
        {"toolCallId": "call_x", "result": {"content": SNAPSHOT[3]["content"]}},
    ),
    logged("assistant.message", {"content": "Done.", "model": "gpt-4.1"}),
]


def test_the_snapshot_is_the_conversation_with_the_working_directory_as_placeholder() -> None:
    rebuilt = rebuild_conversation(
        [*EVENTS, logged("model.messages_snapshot", {"messages": SNAPSHOT})]
    )
    assert rebuilt is not None
    assert (rebuilt.models, rebuilt.notes) == (("gpt-4.1",), ())
    assert rebuilt.messages[2].tool_calls[0].id == "toolcall_0"
    assert "${workdir}/notes.txt" in rebuilt.messages[2].tool_calls[0].arguments
    assert rebuilt.messages[3].content == "File ${workdir}/notes.txt updated."


def test_without_a_snapshot_the_events_give_the_same_messages_and_say_so() -> None:
    from_snapshot = rebuild_conversation(
        [logged("model.messages_snapshot", {"messages": SNAPSHOT})]
    )
    rebuilt = rebuild_conversation(EVENTS)
    assert rebuilt is not None and from_snapshot is not None
    assert rebuilt.messages == from_snapshot.messages
    assert rebuilt.notes == (FROM_EVENTS,)


def test_a_snapshot_older_than_the_last_reply_is_not_used() -> None:
    stale = logged("model.messages_snapshot", {"messages": SNAPSHOT[:2]})
    rebuilt = rebuild_conversation([EVENTS[0], EVENTS[1], stale, *EVENTS[2:]])
    assert rebuilt is not None and len(rebuilt.messages) == 5


def test_only_the_last_attempt_is_rebuilt_and_the_gaps_are_named() -> None:
    failed = [logged("user.message", {"content": "Old."}), logged("session.compaction_start", {})]
    second = [{**line, "attempt": 2} for line in EVENTS[:2]]
    rebuilt = rebuild_conversation([*failed, *second])
    assert rebuilt is not None
    assert [m.content for m in rebuilt.messages] == ["${system}", "Edit notes."]
    assert rebuilt.notes[1:] == (
        "the task ran 2 attempts; this is the conversation of the last",
        "the conversation ends with a user message, not the model's reply: "
        "a replay stops there with no scripted reply",
    )


def test_a_sub_agents_messages_are_left_out() -> None:
    inner = logged("assistant.message", {"content": "inner", "parentToolCallId": "call_x"})
    rebuilt = rebuild_conversation([*EVENTS[:4], inner, EVENTS[4]])
    assert rebuilt is not None and "inner" not in [m.content for m in rebuilt.messages]


def test_events_without_a_prompt_rebuild_nothing() -> None:
    assert rebuild_conversation([EVENTS[0], EVENTS[4]]) is None
    assert rebuild_conversation([]) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KINDS = st.sampled_from(
    [
        "user.message",
        "assistant.message",
        "tool.execution_complete",
        "system.message",
        "model.messages_snapshot",
        "x",
    ]
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "attempt": st.integers(1, 3),
                "event": st.fixed_dictionaries(
                    {
                        "type": KINDS,
                        "data": st.dictionaries(
                            st.sampled_from(
                                [
                                    "content",
                                    "transformedContent",
                                    "toolRequests",
                                    "result",
                                    "error",
                                    "messages",
                                    "toolCallId",
                                    "model",
                                ]
                            ),
                            JSON,
                        ),
                    }
                ),
            }
        ),
        max_size=6,
    )
)
def test_malformed_events_never_break_the_rebuild(lines: list[dict[str, Any]]) -> None:
    rebuilt = rebuild_conversation(lines)
    if rebuilt is not None:
        dump_script(rebuilt.messages, rebuilt.models, rebuilt.notes)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
RAW = st.one_of(
    st.builds(lambda t: {"role": "user", "content": t}, TEXT),
    st.builds(lambda t: {"role": "assistant", "content": t}, TEXT),
    st.builds(
        lambda name, args: {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": name, "arguments": args}}
            ],
        },
        TEXT,
        TEXT,
    ),
    st.builds(lambda t: {"role": "tool", "tool_call_id": "c", "content": t}, TEXT),
)


@given(st.lists(RAW, min_size=1, max_size=5), st.lists(TEXT, max_size=2))
def test_a_dumped_script_loads_back_to_the_same_messages(
    raw: list[dict[str, Any]], notes: list[str]
) -> None:
    messages = normalize_messages([{"role": "system", "content": "x"}, *raw])
    script = parse_script(dump_script(messages, ["m"], notes), Path("s.yaml"))
    assert script.conversations[0].messages == messages
