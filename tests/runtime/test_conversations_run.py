"""Conversations through the real CLI: a task's follow-up steps in one session (answers,
usage and output per step, a failed step ending the task, a step's timeout), and its
attachments; and recordings of the SDK's own tests replayed through job files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from copilot_batch import TaskStatus
from copilot_batch.runtime.structured_output import output_instructions
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import (
    read_events,
    read_task_result,
    run_at_scripted_model,
    run_job,
    write_script,
)

pytestmark = [pytest.mark.anyio, pytest.mark.cli]


def exchange(*turns: tuple[str, str]) -> dict[str, Any]:
    """A scripted conversation of user prompts and the assistant's plain answers."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "${system}"}]
    for prompt, answer in turns:
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


async def test_steps_run_in_order_in_one_session_each_with_its_answer_usage_and_output(
    tmp_path: Path,
) -> None:
    schema = {"type": "object", "required": ["fixed"]}
    summary = f"Summarise as JSON.\n\n{output_instructions(schema)}"  # as the step sends it
    turns = [
        ("Find the bug.", "The bug is in parse()."),
        ("Fix it.", "Fixed."),
        (summary, '```json\n{"fixed": true}\n```'),
    ]
    # Each request must carry the earlier turns: one conversation, prefixes of it matching.
    script = write_script(tmp_path, [exchange(*turns)])
    (tmp_path / "summary.txt").write_text("Summarise as JSON.")
    result = await run_job(
        tmp_path,
        """
        version: 1
        defaults:
          model: gpt-4.1
          provider: {type: openai, base_url: "http://127.0.0.1:1", api_key: x}
        tasks:
          - id: chat
            prompt: Find the bug.
            steps:
              - prompt: Fix it.
              - prompt_file: summary.txt
                output_schema: {type: object, required: [fixed]}
        """,
        replay=(script,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    record = read_task_result(result, "chat")
    assert record["final_message"] == turns[2][1]
    assert record["output"] == {"fixed": True}
    steps = record["steps"]
    assert [step["step"] for step in steps] == [0, 1, 2]
    assert [step["final_message"] for step in steps] == [answer for _, answer in turns]
    assert [step["output"] for step in steps] == [None, None, {"fixed": True}]
    assert all(step["status"] == "ok" and step["usage"]["total_tokens"] > 0 for step in steps)
    assert sum(step["usage"]["total_tokens"] for step in steps) == record["usage"]["total_tokens"]
    sent = [
        line["event"]["data"]["content"]
        for line in read_events(result, "chat")
        if line["event"]["type"] == "user.message"
    ]
    assert sent == ["Find the bug.", "Fix it.", summary]


async def test_a_failing_step_ends_the_task_and_later_steps_never_run(tmp_path: Path) -> None:
    # The script knows no answer to the second step: the model fails that turn.
    script = write_script(tmp_path, [exchange(("One.", "First answer."))])
    async with ScriptedModel(load_scripts([script])) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - id: chat
                prompt: One.
                steps:
                  - prompt: Two.
                  - prompt: Three.
            """,
        )
    [task] = result.results
    assert task.status is TaskStatus.FAILED
    record = read_task_result(result, "chat")
    assert [(step["step"], step["status"]) for step in record["steps"]] == [
        (0, "ok"),
        (1, "failed"),
    ]
    assert record["steps"][1]["error"] == record["error"]
    prompts = [line["event"]["data"]["content"] for line in read_events(result, "chat")
               if line["event"]["type"] == "user.message"]  # fmt: skip
    assert prompts == ["One.", "Two."]


async def test_a_step_that_outlasts_its_timeout_ends_the_task_timeout(tmp_path: Path) -> None:
    script = write_script(
        tmp_path, [exchange(("One.", "First answer."), ("Two.", "Too late."))]
    )
    # The second turn's request (the session's second) is held and never answered.
    hang = Fault("hang", prompt_contains="One.", after=1)
    async with ScriptedModel(load_scripts([script]), faults=[hang]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - id: chat
                prompt: One.
                timeout: 10m
                steps:
                  - prompt: Two.
                    timeout: 2s
            """,
        )
    [task] = result.results
    assert task.status is TaskStatus.TIMEOUT
    assert task.error is not None and task.error.startswith("steps[0].timeout of 2s expired")
    record = read_task_result(result, "chat")
    assert [step["status"] for step in record["steps"]] == ["ok", "timeout"]
