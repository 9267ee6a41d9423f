"""Prefix matching of requests against conversations, and the diagnosis when none matches."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from copilot_batch.scripted_model import Diagnosis, Match, Script, find_reply, parse_script
from copilot_batch.scripted_model.normalize import normalize_messages

SCRIPT = """
    models: [gpt-4.1]
    conversations:
      - messages:
          - {role: system, content: "${system}"}
          - {role: user, content: Read notes.txt}
          - role: assistant
            content: Reading it.
          - role: assistant
            tool_calls:
              - id: toolcall_0
                type: function
                function: {name: view, arguments: '{"path":"${workdir}/notes.txt"}'}
          - {role: tool, tool_call_id: toolcall_0, content: "draft"}
          - {role: assistant, content: It says draft.}
      - messages:
          - {role: system, content: "${system}"}
          - {role: user, content: Read notes.txt}
          - role: assistant
            content: Reading it.
            tool_calls:
              - id: toolcall_0
                type: function
                function: {name: view, arguments: '{"path":"${workdir}/notes.txt"}'}
          - {role: tool, tool_call_id: toolcall_0, content: "final"}
          - {role: assistant, content: It says final.}
      - messages:
          - {role: system, content: "${system}"}
          - {role: user, content: Then stop.}
          - {role: user, content: Now.}
    """


def script(tmp_path: Path) -> Script:
    return parse_script(textwrap.dedent(SCRIPT), tmp_path / "notes.yaml")


def request(*messages: dict[str, Any]) -> Any:
    system = {"role": "system", "content": "Be good.\n* Current working directory: /w"}
    raw = [system, *messages]
    return normalize_messages(raw, "/w")


PROMPT = {"role": "user", "content": "<current_datetime>x</current_datetime>\n\nRead notes.txt"}
CALL = {
    "role": "assistant",
    "content": "Reading it.",
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "view", "arguments": '{"path": "/w/notes.txt"}'},
        }
    ],
}


def test_first_request_gets_the_coalesced_reply_of_the_first_conversation(
    tmp_path: Path,
) -> None:
    found = find_reply([script(tmp_path)], request(PROMPT))
    assert isinstance(found, Match)
    assert (found.script.name, found.conversation, found.position) == ("notes.yaml", 0, 2)
    assert found.reply.content == "Reading it."
    assert [c.arguments for c in found.reply.tool_calls] == ['{"path":"${workdir}/notes.txt"}']


def test_tool_result_selects_between_conversations(tmp_path: Path) -> None:
    final = {"role": "tool", "tool_call_id": "call_1", "content": "final"}
    found = find_reply([script(tmp_path)], request(PROMPT, CALL, final))
    assert isinstance(found, Match)
    assert (found.conversation, found.reply.content) == (1, "It says final.")


def test_later_scripts_are_tried_after_earlier_ones(tmp_path: Path) -> None:
    other = parse_script(
        "conversations:\n  - messages:\n"
        "      - {role: system, content: x}\n      - {role: user, content: Hi}\n"
        "      - {role: assistant, content: Hey}\n",
        tmp_path / "other.yaml",
    )
    found = find_reply([script(tmp_path), other], request({"role": "user", "content": "Hi"}))
    assert isinstance(found, Match) and found.script.name == "other.yaml"


def test_no_match_names_the_closest_conversation_and_first_difference(tmp_path: Path) -> None:
    other = {"role": "tool", "tool_call_id": "call_1", "content": "something else"}
    found = find_reply([script(tmp_path)], request(PROMPT, CALL, other))
    assert isinstance(found, Diagnosis)
    assert (found.conversation, found.matching) == (0, 3)
    assert found.difference is not None
    assert (found.difference.index, found.difference.role) == (3, "tool")
    assert str(found) == (
        "no scripted reply for this request (4 normalised messages); closest: "
        f"{tmp_path / 'notes.yaml'} conversation 0 (3 leading messages match); "
        "first difference at message 3 (tool): request "
        '{"content":"something else","role":"tool","tool_call_id":"toolcall_0"} vs script '
        '{"content":"draft","role":"tool","tool_call_id":"toolcall_0"}'
        "\n\nthe script expected next (YAML):\n"
        "- role: tool\n  content: draft\n  tool_call_id: toolcall_0"
        "\n\nthe request's last message:\n"
        "- role: tool\n  content: something else\n  tool_call_id: toolcall_0"
    )


def test_long_messages_are_shortened_in_the_diagnosis(tmp_path: Path) -> None:
    found = find_reply([script(tmp_path)], request({"role": "user", "content": "x" * 1000}))
    assert isinstance(found, Diagnosis) and found.difference is not None
    assert len(found.difference.requested) == 300
    assert found.difference.requested.endswith("…")


def test_request_that_runs_past_the_script_is_explained(tmp_path: Path) -> None:
    done = {"role": "tool", "tool_call_id": "call_1", "content": "final"}
    answer = {"role": "assistant", "content": "It says final."}
    more = {"role": "user", "content": "And then?"}
    found = find_reply([script(tmp_path)], request(PROMPT, CALL, done, answer, more))
    assert isinstance(found, Diagnosis)
    assert (found.conversation, found.matching, found.difference) == (1, 5, None)
    assert found.note == "the request goes on after the script's last message (4)"


def test_conversation_without_a_reply_next_is_explained(tmp_path: Path) -> None:
    # Two user messages coalesce into one, after which the script has nothing to say.
    found = find_reply(
        [script(tmp_path)], request({"role": "user", "content": "Then stop.\n\n\nNow."})
    )
    assert isinstance(found, Diagnosis)
    assert (found.conversation, found.note) == (
        2,
        "the script ends where the request ends, with no reply",
    )
    assert "with no reply\n\nthe request's last message:\n- role: user\n" in str(found)


def test_no_scripts_at_all() -> None:
    found = find_reply([], request(PROMPT))
    assert isinstance(found, Diagnosis)
    assert str(found) == (
        "no scripted reply for this request (2 normalised messages); no script has a conversation"
        "\n\nthe request's last message:\n- role: user\n  content: Read notes.txt"
    )


def test_request_past_the_script_gets_its_extra_messages_as_yaml_to_add(tmp_path: Path) -> None:
    done = {"role": "tool", "tool_call_id": "call_1", "content": "final"}
    answer = {"role": "assistant", "content": "It says final."}
    more = {"role": "user", "content": "And then?"}
    found = find_reply([script(tmp_path)], request(PROMPT, CALL, done, answer, more))
    assert str(found).endswith(
        "(4)\n\nto add at the conversation's end, then an assistant reply (YAML):\n"
        "- role: user\n  content: And then?"
        "\n\nthe request's last message:\n- role: user\n  content: And then?"
    )


def test_a_very_long_expected_message_is_cut(tmp_path: Path) -> None:
    long = {"role": "user", "content": "x" * 10_000}
    found = find_reply(
        [script(tmp_path)],
        request(
            PROMPT,
            CALL,
            {"role": "tool", "tool_call_id": "call_1", "content": "final"},
            {"role": "assistant", "content": "It says final."},
            long,
        ),
    )
    assert isinstance(found, Diagnosis)
    assert str(found).count("… (cut)") == 2
    assert len(str(found)) < 9_000
