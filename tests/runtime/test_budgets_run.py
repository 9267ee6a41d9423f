"""Budgets through the real CLI at the scripted model: a task over one of its limits ends
``limit``; a run over its token budget starts nothing more, ends ``budget_exhausted`` and is
finished by a resume with a larger budget."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from run_helpers import SCRIPTS

from copilot_batch import RunOptions, TaskStatus
from copilot_batch.runtime.resume import resume_run
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import (
    read_events,
    read_json,
    read_task_result,
    run_at_scripted_model,
    run_job,
    write_script,
)

GREET_TOOLS = Path(__file__).resolve().parents[1] / "data" / "greet_tools.py"


def _call(call_id: str, name: str) -> dict[str, Any]:
    arguments = json.dumps({"name": name}, separators=(",", ":"))
    function = {"name": "greet", "arguments": arguments}
    return {
        "role": "assistant",
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def _two_greetings(prompt: str) -> dict[str, Any]:
    """Three turns: greet Ada, greet Bob, answer."""
    return {
        "messages": [
            {"role": "system", "content": "${system}"},
            {"role": "user", "content": prompt},
            _call("toolcall_0", "Ada"),
            {"role": "tool", "tool_call_id": "toolcall_0", "content": "Hello, Ada!"},
            _call("toolcall_1", "Bob"),
            {"role": "tool", "tool_call_id": "toolcall_1", "content": "Hello, Bob!"},
            {"role": "assistant", "content": "I greeted Ada and Bob."},
        ]
    }


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_task_over_one_of_its_limits_ends_limit(tmp_path: Path) -> None:
    shutil.copy(GREET_TOOLS, tmp_path / "greet_tools.py")
    prompts = {
        task: f"Greet Ada and Bob ({task})." for task in ("tokens", "tool_calls", "turns", "within")
    }
    script = write_script(tmp_path, [_two_greetings(prompt) for prompt in prompts.values()])
    result = await run_job(
        tmp_path,
        f"""
        version: 1
        defaults:
          model: gpt-4.1
          permissions: approve-all
          tools: {{custom: ["greet_tools:greet"]}}
        tasks:
          - {{id: tokens, prompt: "{prompts["tokens"]}", limits: {{tokens: 1000}}}}
          - {{id: tool_calls, prompt: "{prompts["tool_calls"]}", limits: {{tool_calls: 1}}}}
          - {{id: turns, prompt: "{prompts["turns"]}", limits: {{turns: 2}}, retries: 2}}
          - id: within
            prompt: "{prompts["within"]}"
            limits: {{tool_calls: 2, turns: 3, tokens: 1000000, ai_credits: 30}}
        """,
        replay=(script,),
    )
    by_id = {task.task.id: task for task in result.results}
    for task_id in ("tokens", "tool_calls", "turns"):
        assert by_id[task_id].status is TaskStatus.LIMIT, by_id[task_id].error
        assert by_id[task_id].error_type == "LimitExceeded"
        assert by_id[task_id].attempt == 1  # a limit is not retried
    assert str(by_id["tool_calls"].error) == (
        "limits.tool_calls of 1 crossed (2); the session was aborted"
    )
    assert by_id["tool_calls"].tool_calls == 2
    assert by_id["turns"].error == "limits.turns of 2 crossed (3); the session was aborted"
    assert by_id["turns"].turns == 3
    assert str(by_id["tokens"].error).startswith("limits.tokens of 1000 crossed (")
    assert by_id["tokens"].usage.total_tokens > 1000
    # Within every limit (ai_credits included: this BYOK model reports none) it ends ok.
    within = by_id["within"]
    assert (within.status, within.final_message) == (TaskStatus.OK, "I greeted Ada and Bob.")
    record = read_task_result(result, "within")
    assert (record["turns"], record["tool_calls"]) == (3, 2)
    assert list(record["usage_by_model"]) == ["gpt-4.1"]
    assert record["usage_by_model"]["gpt-4.1"] == record["usage"]
    assert record["premium_requests"] == 0  # a BYOK call's cost
    assert record["ai_credits"] is None
    run = read_json(result.folder / "run.json")
    assert run["totals"]["limit"] == 3 and result.exit_code == 1
    # The crossed limit aborted the session: its event log says so.
    types = [line["event"]["type"] for line in read_events(result, "turns")]
    assert "abort" in types or "session.shutdown" in types
    assert "limit" in (result.folder / "summary.md").read_text()


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_run_over_its_token_budget_starts_nothing_more_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two sessions at once (the barrier holds both replies until both asked), a third
    # waiting for a slot: the first two spend the budget, so the third never starts.
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts, barrier=2) as model:
        first = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - {id: a, prompt: Say hello.}
              - {id: b, prompt: Say goodbye.}
              - {id: c, prompt: Say hello.}
            """,
            concurrency=2,
            max_tokens=100,
        )
        assert sorted(request.prompt for request in model.requests) == [
            "Say goodbye.", "Say hello.",
        ]  # fmt: skip
        run = read_json(first.folder / "run.json")
        assert run["state"] == "budget_exhausted"
        assert run["options"]["max_tokens"] == run["options"]["token_budget"] == 100
        statuses = {task["id"]: task["status"] for task in run["tasks"]}
        assert statuses == {"a": "ok", "b": "ok", "c": "cancelled"}
        assert run["tasks"][2]["error"] == (
            "the run's token budget of 100 was spent before the task started"
        )
        assert first.exit_code == 1
        assert not (first.folder / "tasks" / "c" / "events.jsonl").exists()
        assert [t["id"] for t in run["cost"]["most_expensive"]] in (["a", "b"], ["b", "a"])
        summary = (first.folder / "summary.md").read_text()
        assert "(budget_exhausted)" in summary and "## Cost" in summary

        monkeypatch.setenv("MODEL_URL", model.base_url)  # the job file reads it again
        resumed = await resume_run(first.folder, RunOptions(max_tokens=1_000_000))
    assert [(task.task.id, task.status) for task in resumed.results] == [("c", TaskStatus.OK)]
    run = read_json(first.folder / "run.json")
    assert run["state"] == "finished" and run["totals"]["ok"] == 3
    assert resumed.exit_code == 0
