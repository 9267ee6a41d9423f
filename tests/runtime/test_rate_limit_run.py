"""A run at a provider that admits one request a second, 12 sessions at once: with default
settings every task ends ok (the CLI's own retries alone leave some failed), and run.json
counts the 429s the model answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_helpers import SCRIPTS

from copilot_batch import TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import read_json, read_task_result, run_at_scripted_model

TASKS = 12


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_rate_limited_run_ends_with_every_task_ok_and_counts_the_429s(
    tmp_path: Path,
) -> None:
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), rate=1) as model:
        tasks = "".join(f"  - {{id: t{n}, prompt: Say hello.}}\n" for n in range(TASKS))
        result = await run_at_scripted_model(tmp_path, model, "tasks:\n" + tasks, concurrency=TASKS)
        refused = sum(1 for request in model.requests if request.status == 429)
    assert [task.status for task in result.results] == [TaskStatus.OK] * TASKS
    assert refused > 0
    run = read_json(result.folder / "run.json")
    assert run["totals"]["rate_limited"] == refused
    per_task = [read_task_result(result, f"t{n}")["rate_limited"] for n in range(TASKS)]
    assert sum(per_task) == refused
