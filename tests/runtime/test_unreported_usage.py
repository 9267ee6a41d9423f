"""A provider that reports no usage (the scripted model leaving it out of streamed replies,
as llama-cpp-python does), through the real CLI: the usage is recorded as not reported,
never as 0; its estimate is counted toward the task's limits and the run's budget."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from run_helpers import SCRIPTS

from copilot_batch import RunResult, TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import read_events, read_json, read_task_result, run_at_scripted_model

pytestmark = [pytest.mark.anyio, pytest.mark.cli]


def expected_estimate(result: RunResult, task_id: str) -> int:
    """A token per four bytes of each request the CLI sent (as its assistant.usage events
    say) and per four characters of each reply."""
    events = [line["event"] for line in read_events(result, task_id)]
    sent = [e["data"]["requestBodyBytes"] for e in events if e["type"] == "assistant.usage"]
    replies = [e["data"]["content"] for e in events if e["type"] == "assistant.message"]
    return sum(math.ceil(size / 4) for size in sent) + sum(math.ceil(len(r) / 4) for r in replies)


async def run_without_usage(tmp_path: Path, body: str, **options: Any) -> RunResult:
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts, stream_usage=False) as model:
        return await run_at_scripted_model(tmp_path, model, body, **options)


async def test_usage_the_provider_did_not_report_is_unknown_and_estimated(
    tmp_path: Path,
) -> None:
    # Streamed replies come without usage; plain ones carry it.
    result = await run_without_usage(
        tmp_path,
        """
        tasks:
          - {id: streamed, prompt: Say hello., streaming: true}
          - {id: plain, prompt: Say goodbye.}
        """,
    )
    assert [task.status for task in result.results] == [TaskStatus.OK, TaskStatus.OK]
    streamed, plain = read_task_result(result, "streamed"), read_task_result(result, "plain")
    estimate = expected_estimate(result, "streamed")
    assert estimate > 0
    assert streamed["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "total_tokens": 0,
        "reported": False,
        "unreported_calls": 1,
        "estimated_tokens": estimate,
    }
    assert streamed["usage_by_model"] == {"gpt-4.1": streamed["usage"]}
    assert plain["usage"]["reported"] is True and plain["usage"]["total_tokens"] > 0
    assert plain["usage"]["estimated_tokens"] == 0

    totals = read_json(result.folder / "run.json")["totals"]
    assert (totals["tasks_without_usage"], totals["unreported_calls"]) == (1, 1)
    assert totals["estimated_tokens"] == estimate
    assert totals["total_tokens"] == plain["usage"]["total_tokens"]
    summary = (result.folder / "summary.md").read_text()
    assert f"≥ {totals['total_tokens']} tokens (1 task(s) without usage" in summary
    assert f"| ≥ 0 (~{estimate} est.) |" in summary
    lines = (result.folder / "results.jsonl").read_text().splitlines()
    by_id = {line["id"]: line for line in map(json.loads, lines)}
    assert (by_id["streamed"]["usage_reported"], by_id["plain"]["usage_reported"]) == (False, True)


async def test_a_token_limit_counts_the_estimate_of_unreported_usage(tmp_path: Path) -> None:
    result = await run_without_usage(
        tmp_path,
        """
        tasks:
          - {id: streamed, prompt: Say hello., streaming: true, limits: {tokens: 100}}
        """,
    )
    (task,) = result.results
    assert task.status is TaskStatus.LIMIT, task.error
    assert task.usage.total_tokens == 0 and task.usage.estimated_tokens > 100
    # Crossed by the estimate of the request alone, before the reply came.
    assert task.error is not None
    assert re.fullmatch(
        r"limits\.tokens of 100 crossed \((\d+), \1 of them estimated\); the session was aborted",
        task.error,
    ), task.error


async def test_a_run_budget_counts_the_estimate_of_unreported_usage(tmp_path: Path) -> None:
    # One session at a time: the first spends the budget by its estimate alone, so the
    # second never starts.
    result = await run_without_usage(
        tmp_path,
        """
        tasks:
          - {id: a, prompt: Say hello., streaming: true}
          - {id: b, prompt: Say goodbye., streaming: true}
        """,
        concurrency=1,
        max_tokens=100,
    )
    run = read_json(result.folder / "run.json")
    assert run["state"] == "budget_exhausted"
    assert [task["status"] for task in run["tasks"]] == ["ok", "cancelled"]
    estimate = read_task_result(result, "a")["usage"]["estimated_tokens"]
    assert run["tasks"][1]["error"] == (
        f"the run's token budget of 100 was spent (counting ~{estimate} tokens estimated for "
        "model calls without usage) before the task started"
    )
