"""The normal form shared by live requests and stored scripts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_batch.scripted_model import Message, ToolCall, coalesce, expand_reply
from copilot_batch.scripted_model.normalize import (
    normalize_arguments,
    normalize_messages,
    normalize_tool_result,
    normalize_user_text,
    strip_line_numbers,
    working_directory,
)

WORKDIR = "/tmp/work dir"
SYSTEM = f"You are Copilot.\n* Current working directory: {WORKDIR}\n* Other: x"


def call(id: str, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, indent=2)
    return {"id": id, "type": "function", "function": {"name": name, "arguments": text}}


def test_working_directory_is_read_from_the_system_prompt() -> None:
    assert working_directory([{"role": "system", "content": SYSTEM}]) == WORKDIR
    assert working_directory([{"role": "user", "content": SYSTEM}]) is None
    assert working_directory([{"role": "system", "content": "no such line"}]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<current_datetime>2026-11-23T21:56:06.920+00:00</current_datetime>\n\nSay hi", "Say hi"),
        ("Say hi\n<reminder>\nsomething\n</reminder>", "Say hi"),
        ("<system_reminder>a\nb</system_reminder>Say hi", "Say hi"),
        ("<agent_instructions>do x</agent_instructions>\n Say hi \n", "Say hi"),
        (
            "Please create a detailed summary of the conversation so far. "
            "The history is being compacted so that ...\nmore",
            "${compaction_prompt}",
        ),
    ],
)
def test_user_text_loses_what_the_cli_adds(text: str, expected: str) -> None:
    assert normalize_user_text(text) == expected


def test_skill_context_is_reduced_to_the_skills_name() -> None:
    with_front_matter = (
        '<skill-context name="s">\nBase directory for this skill: /w/.skills/s\n\n'
        "---\nname: s\ndescription: d\n---\n\n# Body\n</skill-context>"
    )
    without = (
        '<skill-context name="s">\nBase directory for this skill: /elsewhere/s\n\n'
        "# Body\n</skill-context>"
    )
    expected = '<skill-context name="s">${skill_context}</skill-context>'
    assert normalize_user_text(with_front_matter) == expected
    assert normalize_user_text(without) == expected
    assert normalize_user_text(expected) == expected


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ('{"resultType": "success", "textResultForLlm": "HELLO"}', "HELLO"),
        ('{"resultType": "success", "textResultForLlm": {"b": 1, "a": 2}}', '{"a":2,"b":1}'),
        ('{"z": [1, 2], "a": "é"}', '{"a":"é","z":[1,2]}'),
        (
            '{"resultType": "failure", "textResultForLlm": "x"}',
            '{"resultType":"failure","textResultForLlm":"x"}',
        ),
        ("  text with spaces \n", "text with spaces"),
        ("out\n<shellId: 3 completed with exit code 2>", "out\n<exited with exit code 2>"),
        (
            "Failed to execute `bash` tool with arguments: {} due to error: Error: Session aborted",
            "The execution of this tool, or a previous tool was interrupted.",
        ),
        (
            "Tool 'report_intent' does not exist. Available tools that can be called are "
            "bash, view.",
            "Tool 'report_intent' does not exist.",
        ),
        (
            "Saved to /home/u/.copilot/session-state/temp/"
            "1774637043987-copilot-tool-output-tk7puw.txt",
            "Saved to /session-state/temp/PLACEHOLDER-copilot-tool-output-PLACEHOLDER",
        ),
    ],
)
def test_tool_results_are_made_stable(result: str, expected: str) -> None:
    assert normalize_tool_result(result) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{ "b": 1,\n "a": "x" }', '{"b":1,"a":"x"}'),
        ("", "{}"),
        ("  ", "{}"),
        ("not json", "not json"),
    ],
)
def test_arguments_are_reserialised_compactly_in_their_own_order(
    arguments: str, expected: str
) -> None:
    assert normalize_arguments(arguments) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1. # ELIZA", "# ELIZA"),
        ("# ELIZA", "# ELIZA"),
        ("7. a\n8.\n9. b", "a\n\nb"),
        ("1. a\n3. b", "1. a\n3. b"),  # not counting up: real text
        ("1. a\nplain", "1. a\nplain"),
    ],
)
def test_view_line_numbers_are_dropped_only_when_every_line_has_one(
    text: str, expected: str
) -> None:
    assert strip_line_numbers(text) == expected


def test_a_live_request_and_its_recording_have_one_normal_form() -> None:
    live: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "<current_datetime>now</current_datetime>\n\nList files"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call("call_Zx9", "bash", {"command": f"ls {WORKDIR}"}),
                call("call_Ab1", "view", {"path": f"{WORKDIR}/README.md"}),
            ],
        },
        # Parallel tools can report in any order.
        {"role": "tool", "tool_call_id": "call_Ab1", "content": "1. hello"},
        {"role": "tool", "tool_call_id": "call_Zx9", "content": f"{WORKDIR}/README.md\n"},
        {"role": "assistant", "content": "Done."},
    ]
    recorded: list[dict[str, Any]] = [
        {"role": "system", "content": "${system}"},
        {"role": "user", "content": "List files"},
        {
            "role": "assistant",
            "tool_calls": [call("toolcall_0", "${shell}", '{"command":"ls ${workdir}"}')],
        },
        {
            "role": "assistant",
            "tool_calls": [call("toolcall_1", "view", '{"path":"${workdir}/README.md"}')],
        },
        {"role": "tool", "tool_call_id": "toolcall_0", "content": "${workdir}/README.md"},
        {"role": "tool", "tool_call_id": "toolcall_1", "content": "hello"},
        {"role": "assistant", "content": "Done."},
    ]
    normal = normalize_messages(live, working_directory(live))
    assert normal == normalize_messages(recorded)
    assert [m.role for m in normal] == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert normal[2].tool_calls == (
        ToolCall("toolcall_0", "${shell}", '{"command":"ls ${workdir}"}'),
        ToolCall("toolcall_1", "view", '{"path":"${workdir}/README.md"}'),
    )


def test_workdir_is_replaced_wherever_it_occurs_so_replies_round_trip() -> None:
    messages = [
        {"role": "system", "content": "* Current working directory: /tmp/w"},
        {"role": "assistant", "content": "Wrote /tmp/w/a and /tmp/w."},
    ]
    [_, assistant] = normalize_messages(messages, "/tmp/w")
    assert assistant.content == "Wrote ${workdir}/a and ${workdir}."
    assert expand_reply(assistant, "/tmp/w").content == messages[1]["content"]


def test_workdir_is_replaced_json_escaped_in_arguments() -> None:
    workdir = 'C:\\Users\\me "x"'
    messages = [{"role": "assistant", "tool_calls": [call("c", "view", {"path": workdir + "\\f"})]}]
    [assistant] = normalize_messages(messages, workdir)
    assert assistant.tool_calls[0].arguments == '{"path":"${workdir}\\\\f"}'
    [expanded] = [expand_reply(assistant, workdir)]
    assert json.loads(expanded.tool_calls[0].arguments) == {"path": workdir + "\\f"}


def test_coalesce_merges_a_split_reply_and_adjacent_prompts() -> None:
    view = ToolCall("toolcall_0", "view", "{}")
    merged = coalesce(
        [
            Message("user", "a"),
            Message("user", "b"),
            Message("assistant", "Let me look."),
            Message("assistant", tool_calls=(view,)),
            Message("tool", "x", tool_call_id="toolcall_0"),
            Message("tool", "y", tool_call_id="toolcall_1"),
        ]
    )
    assert merged == [
        Message("user", "a\n\n\nb"),
        Message("assistant", "Let me look.", (view,)),
        Message("tool", "x", tool_call_id="toolcall_0"),
        Message("tool", "y", tool_call_id="toolcall_1"),
    ]


def test_multimodal_user_content_keeps_text_and_marks_images() -> None:
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]
    [user] = normalize_messages([{"role": "user", "content": content}])
    assert user.content == "look\n[image]"


def test_expand_reply_restores_workdir_and_shell_names() -> None:
    reply = Message(
        "assistant",
        "Wrote ${workdir}/a.txt",
        (ToolCall("toolcall_3", "${shell}", '{"command":"cat ${workdir}/a.txt"}'),),
    )
    expanded = expand_reply(reply, "/w")
    assert expanded.content == "Wrote /w/a.txt"
    assert expanded.tool_calls == (ToolCall("toolcall_3", "bash", '{"command":"cat /w/a.txt"}'),)


def test_canonical_form_sorts_keys_and_omits_empty_fields() -> None:
    message = Message("tool", "ok", tool_call_id="toolcall_0")
    assert message.canonical() == '{"content":"ok","role":"tool","tool_call_id":"toolcall_0"}'
    assert Message("assistant").to_json() == {"role": "assistant"}


def test_background_agents_are_named_as_their_task_calls_named_them() -> None:
    from copilot_batch.scripted_model.normalize import background_agent_ids, expand_reply

    started = (
        "Agent started in background with agent_id: agent-7f3a. You'll be notified when it "
        "completes. Tell the user you're waiting and end your response, or continue unrelated "
        "work until notified. (extra)"
    )

    def call(name: str, arguments: str, number: int) -> dict[str, object]:
        function = {"name": name, "arguments": arguments}
        return {"role": "assistant", "tool_calls": [{"id": f"c{number}", "function": function}]}

    raw = [
        {"role": "user", "content": "go"},
        call("task", '{"name": "scout", "prompt": "look"}', 1),
        {"role": "tool", "tool_call_id": "c1", "content": started},
        call("read_agent", '{"agent_id": "agent-7f3a"}', 2),
        {"role": "tool", "tool_call_id": "c2", "content": "agent-7f3a: done, elapsed: 12.5s"},
    ]
    messages = normalize_messages(raw)
    assert messages[2].content is not None and "agent_id: scout." in messages[2].content
    assert messages[2].content.endswith("until notified.")
    assert messages[3].tool_calls[0].arguments == '{"agent_id":"scout"}'
    assert messages[4].content == "scout: done, elapsed: 0s"
    ids = background_agent_ids(raw)
    assert ids == {"scout": "agent-7f3a"}
    reply = expand_reply(messages[3], None, ids)
    assert reply.tool_calls[0].arguments == '{"agent_id":"agent-7f3a"}'


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("[[PLAN]] Make a plan.", "Make a plan."),
        (
            'Agent "scout" (agent-1) has finished processing and is now idle. Use read_agent '
            'with agent_id "agent-1" to read the results, or write_agent to send follow-up '
            "messages.",
            'Agent "scout" (agent-1) has completed successfully. Use read_agent with agent_id '
            '"scout" to retrieve the full results.',
        ),
    ],
)
def test_user_messages_lose_the_plan_prefix_and_one_notice_wording(text: str, normal: str) -> None:
    from copilot_batch.scripted_model.normalize import normalize_user_text

    assert normalize_user_text(text) == normal


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        (
            "To get started with GitHub CLI, please run:  gh auth login\n"
            "Alternatively, populate the GH_TOKEN environment variable with a GitHub API "
            "authentication token.\n<exited with exit code 4>",
            "${gh_auth_required}\n<exited with exit code 4>",
        ),
        (
            "HTTP 401: Requires authentication (https://api.github.com/graphql)\nmore\n"
            "<exited with exit code 1>",
            "${gh_auth_required}\n<exited with exit code 4>",
        ),
        (
            "Agent is idle (waiting for messages). agent_id: a, total_turns: 3",
            "Agent completed. agent_id: a, total_turns: 0, duration: 0s",
        ),
    ],
)
def test_sign_in_messages_and_read_agent_reports_normalise(text: str, normal: str) -> None:
    from copilot_batch.scripted_model.normalize import normalize_tool_result

    assert normalize_tool_result(text) == normal
