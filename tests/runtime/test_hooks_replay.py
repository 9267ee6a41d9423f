"""The SDK's recordings of hooks, ask_user and a plain permission reject, replayed through
job files: each test does what the SDK test that made the recording did."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from copilot_batch import TaskStatus
from copilot_batch.testing import read_events, read_task_result, run_job

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

DENY = "hooks/should_deny_tool_execution_when_pretooluse_returns_deny.yaml"
MODIFY = "hooks_extended/should_allow_pretooluse_to_return_modifiedargs_and_suppressoutput.yaml"
ASK = "ask_user/should_invoke_user_input_handler_when_model_uses_ask_user_tool.yaml"
REJECT = "permissions/should_deny_permission_when_handler_returns_denied.yaml"

HOOKS = """
from copilot import define_tool
from pydantic import BaseModel


def deny_everything(hook_input, invocation):
    return {"permissionDecision": "deny"}


def modify_echo(hook_input, invocation):
    if hook_input["toolName"] != "echo_value":
        return {"permissionDecision": "allow"}
    return {
        "permissionDecision": "allow",
        "modifiedArgs": {"value": "modified by hook"},
        "suppressOutput": False,
    }


class Value(BaseModel):
    value: str


@define_tool(description="Echoes the supplied value")
def echo_value(params: Value) -> str:
    return params.value
"""


@pytest.fixture
def hooks_module(tmp_path: Path) -> Path:
    (tmp_path / "job_hooks.py").write_text(textwrap.dedent(HOOKS))
    return tmp_path


def hook_events(result: object, task_id: str) -> list[dict[str, object]]:
    return [
        line["event"]["data"]
        for line in read_events(result, task_id)  # type: ignore[arg-type]
        if line["event"]["type"] == "copilot_batch.hook"
    ]


async def test_a_pre_tool_use_hook_that_denies(hooks_module: Path, snapshots_dir: Path) -> None:
    original = "Original content that should not be modified"
    (hooks_module / "protected.txt").write_text(original)
    result = await run_job(
        hooks_module,
        """
        version: 1
        tasks:
          - id: deny
            prompt: Edit protected.txt and replace 'Original' with 'Modified'
            permissions: approve-all
            hooks: {pre_tool_use: [job_hooks:deny_everything]}
        """,
        replay=(snapshots_dir / DENY,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message is not None and "denied by a security hook" in task.final_message
    assert (hooks_module / "protected.txt").read_text() == original
    record = read_task_result(result, "deny")
    decisions = [(e["hook"], e["decision"], e["tool"]) for e in record["hook_audit"]]
    assert decisions == [
        ("pre_tool_use", "deny", "report_intent"),
        ("pre_tool_use", "deny", "view"),
    ]
    assert hook_events(result, "deny") == record["hook_audit"]
    assert record["hook_decisions"] == 2
    assert result.record["totals"]["hook_decisions"] == 2


async def test_a_pre_tool_use_hook_that_modifies_arguments(
    hooks_module: Path, snapshots_dir: Path
) -> None:
    result = await run_job(
        hooks_module,
        """
        version: 1
        tasks:
          - id: modify
            prompt: Call echo_value with value 'original', then reply with the result.
            permissions: approve-all
            tools: {custom: [job_hooks:echo_value]}
            hooks: {pre_tool_use: [job_hooks:modify_echo]}
        """,
        replay=(snapshots_dir / MODIFY,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message is not None and "modified by hook" in task.final_message
    record = read_task_result(result, "modify")
    decisions = [(e["decision"], e["tool"]) for e in record["hook_audit"]]
    assert ("modify_arguments", "echo_value") in decisions
    assert ("allow", "report_intent") in decisions


async def test_ask_user_is_answered_and_recorded(tmp_path: Path, snapshots_dir: Path) -> None:
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: ask
            prompt: >-
              Ask me to choose between 'Option A' and 'Option B' using the ask_user tool.
              Wait for my response before continuing.
            ask_user: {answer: Option A}
        """,
        replay=(snapshots_dir / ASK,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message == "You selected **Option A**. What would you like me to do next?"
    record = read_task_result(result, "ask")
    [asked] = record["question_audit"]
    assert asked["question"] == "Please choose between the following options:"
    assert (asked["choices"], asked["answer"]) == (["Option A", "Option B"], "Option A")
    [event] = [
        line["event"]["data"]
        for line in read_events(result, "ask")
        if line["event"]["type"] == "copilot_batch.question"
    ]
    assert event == asked
    assert result.record["totals"]["questions"] == 1


async def test_a_plain_reject_ends_the_turn(tmp_path: Path, snapshots_dir: Path) -> None:
    (tmp_path / "protected.txt").write_text("protected content")
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: reject
            prompt: Edit protected.txt and replace 'protected' with 'hacked'.
            permissions:
              default: deny
              rules: [{kind: read, action: deny, feedback: none}]
        """,
        replay=(snapshots_dir / REJECT,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert (tmp_path / "protected.txt").read_text() == "protected content"
    events = [line["event"] for line in read_events(result, "reject")]
    [view] = [
        event["data"] for event in events
        if event["type"] == "tool.execution_complete" and not event["data"]["success"]
        and "user rejected" in event["data"]["error"]["message"].lower()
    ]  # fmt: skip
    assert "User feedback" not in view["error"]["message"]
    record = read_task_result(result, "reject")
    assert [(e["decision"], e["rule"], e.get("feedback")) for e in record["permission_audit"]] == [
        ("deny", "rules[0]", "none")
    ]
