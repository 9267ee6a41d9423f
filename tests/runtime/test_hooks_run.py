"""Hooks, ask_user and permission feedback through the real CLI against the scripted model:
a post_tool_use hook that changes a result, the two hooks copilot_batch.hooks ships, a
hook that raises, a deny rule's feedback, and ask_user offered only when answered."""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot_batch import TaskStatus
from copilot_batch.runtime import RunResult
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import (
    one_tool_conversation,
    read_events,
    read_task_result,
    run_job,
    scripted_job_head,
)

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

SECRET = "s3cr3t-value-123"
REJECTED = "The user rejected this tool call. User feedback: "

HOOKS = """
from copilot import define_tool
from pydantic import BaseModel


class Value(BaseModel):
    value: str


@define_tool(description="Echoes the supplied value")
def echo_value(params: Value) -> str:
    return params.value


def replace_result(hook_input, invocation):
    if hook_input["toolName"] == "echo_value":
        return {"modifiedResult": {"textResultForLlm": "replaced by hook", "resultType": "success"}}
    return None


def broken(hook_input, invocation):
    raise RuntimeError("the guard is broken")
"""

# task id: (tool, arguments, what the CLI must send back to the model)
CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "post-modify": ("echo_value", {"value": "original"}, "replaced by hook"),
    "redact": ("echo_value", {"value": f"the key is {SECRET}."}, "the key is ***."),
    "audit": ("echo_value", {"value": "logged"}, "logged"),
    "feedback": ("view", {"path": "${workdir}/notes.txt"}, f"{REJECTED}Reading is off today."),
    "raises": (
        "echo_value",
        {"value": "x"},
        "Denied by preToolUse hook: a hook of the job file failed (job_hooks:broken)",
    ),
}

JOB = """
  tools: {custom: [job_hooks:echo_value]}
  permissions: approve-all
tasks:
  - id: post-modify
    prompt: Task post-modify.
    hooks: {post_tool_use: [job_hooks:replace_result]}
  - id: redact
    prompt: Task redact.
    hooks:
      post_tool_use:
        - {use: copilot_batch.hooks:redact_secrets, with: {env: [JOB_SECRET]}}
  - id: audit
    prompt: Task audit.
    hooks:
      pre_tool_use: [{use: copilot_batch.hooks:audit_log, with: {path: audit.jsonl}}]
      post_tool_use: [{use: copilot_batch.hooks:audit_log, with: {path: audit.jsonl}}]
  - id: feedback
    prompt: Task feedback.
    permissions:
      rules: [{kind: read, action: deny, feedback: Reading is off today.}]
  - id: raises
    prompt: Task raises.
    hooks: {pre_tool_use: [job_hooks:broken]}
  - id: asks
    prompt: Task asks.
    ask_user: {answer: "yes, {{ 'go' }} on"}
  - id: no-asking
    prompt: Task no-asking.
"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def run(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[RunResult, Path, ScriptedModel]]:
    folder = tmp_path_factory.mktemp("hooks")
    (folder / "job_hooks.py").write_text(textwrap.dedent(HOOKS))
    (folder / "notes.txt").write_text("notes\n")
    conversations = [
        one_tool_conversation(f"Task {task}.", tool, arguments, sent, f"{task} done.")
        for task, (tool, arguments, sent) in CASES.items()
    ]
    conversations.append(
        one_tool_conversation(
            "Task asks.", "ask_user", {"question": "Go on?"}, "User responded: yes, go on",
            "asks done.",
        )
    )  # fmt: skip
    conversations.append({"messages": [
        {"role": "system", "content": "${system}"},
        {"role": "user", "content": "Task no-asking."},
        {"role": "assistant", "content": "no-asking done."},
    ]})  # fmt: skip
    script = folder / "script.yaml"
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": conversations}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOB_SECRET", SECRET)
        async with ScriptedModel(load_scripts([script])) as model:
            job = scripted_job_head() + JOB.lstrip("\n")
            result = await run_job(folder, job, {"MODEL_URL": model.base_url}, concurrency=8)
            yield result, folder, model


def ended(result: RunResult) -> dict[str, tuple[TaskStatus, str | None, str | None]]:
    return {task.task.id: (task.status, task.final_message, task.error) for task in result.results}


async def test_a_post_tool_use_hook_changes_the_result_the_model_reads(run: Any) -> None:
    result, _, _ = run
    assert ended(result)["post-modify"] == (TaskStatus.OK, "post-modify done.", None)
    record = read_task_result(result, "post-modify")
    assert [(e["hook"], e["decision"], e["tool"]) for e in record["hook_audit"]] == [
        ("post_tool_use", "modify_result", "echo_value")
    ]


async def test_redact_secrets_masks_the_value_for_the_model_and_every_file(run: Any) -> None:
    result, _, _ = run
    assert ended(result)["redact"] == (TaskStatus.OK, "redact done.", None)
    record = read_task_result(result, "redact")
    assert [e["decision"] for e in record["hook_audit"]] == ["modify_result"]
    assert record["hook_audit"][0]["handler"] == "copilot_batch.hooks:redact_secrets"
    written = [path for path in result.folder.rglob("*") if path.is_file()]
    assert written and not [path for path in written if SECRET in path.read_text(errors="replace")]


async def test_audit_log_appends_a_line_per_hook_call(run: Any) -> None:
    result, folder, _ = run
    assert ended(result)["audit"] == (TaskStatus.OK, "audit done.", None)
    lines = [json.loads(line) for line in (folder / "audit.jsonl").read_text().splitlines()]
    assert [(line["hook"], line["tool"], line["arguments"]) for line in lines] == [
        ("pre_tool_use", "echo_value", {"value": "logged"}),
        ("post_tool_use", "echo_value", {"value": "logged"}),
    ]
    assert lines[1]["toolResult"]["textResultForLlm"] == "logged"
    # The audit log changes nothing: nothing to record.
    assert read_task_result(result, "audit")["hook_audit"] == []


async def test_a_deny_rule_tells_the_agent_its_feedback(run: Any) -> None:
    result, _, _ = run
    assert ended(result)["feedback"] == (TaskStatus.OK, "feedback done.", None)
    [entry] = read_task_result(result, "feedback")["permission_audit"]
    assert (entry["decision"], entry["feedback"]) == ("deny", "Reading is off today.")


async def test_a_hook_that_raises_denies_the_call_and_fails_the_task(run: Any) -> None:
    result, _, _ = run
    status, answer, error = ended(result)["raises"]
    assert (status, answer) == (TaskStatus.FAILED, "raises done.")
    assert error == "hook pre_tool_use job_hooks:broken raised RuntimeError: the guard is broken"
    record = read_task_result(result, "raises")
    assert record["error_type"] == "HookFailed"
    [entry] = record["hook_audit"]
    assert (entry["decision"], entry["reason"]) == ("raised", "RuntimeError: the guard is broken")
    hook_lines = [
        line["event"]["data"]
        for line in read_events(result, "raises")
        if line["event"]["type"] == "copilot_batch.hook"
    ]
    assert hook_lines == [entry]


async def test_ask_user_is_offered_only_with_an_answer(run: Any) -> None:
    result, _, model = run
    assert ended(result)["asks"] == (TaskStatus.OK, "asks done.", None)
    [asked] = read_task_result(result, "asks")["question_audit"]
    assert (asked["question"], asked["choices"], asked["answer"]) == ("Go on?", [], "yes, go on")
    offered = {record.prompt: record.tools for record in model.requests}
    assert "ask_user" in offered["Task asks."]
    assert "ask_user" not in offered["Task no-asking."]
    assert "view" in offered["Task no-asking."]
