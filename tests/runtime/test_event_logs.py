"""Every task's events.jsonl holds its session's events from the first one on."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from run_helpers import SCRIPTS

from copilot_batch import TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import read_events, run_at_scripted_model

pytestmark = pytest.mark.anyio

TASKS = 6


@pytest.mark.cli
@pytest.mark.parametrize("streaming", [False, True])
async def test_every_event_log_starts_with_its_session_start(
    tmp_path: Path, streaming: bool
) -> None:
    # The barrier holds every reply until all sessions are open, so the sessions are
    # created side by side on one CLI, as in a busy run.
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), barrier=TASKS) as model:
        with anyio.fail_after(120):
            result = await run_at_scripted_model(
                tmp_path,
                model,
                f"matrix: {{n: {list(range(1, TASKS + 1))}}}\n"
                + "tasks:\n"
                + '  - {id: "hello-{{ n }}", prompt: Say hello., '
                + f"streaming: {str(streaming).lower()}}}\n",
                concurrency=TASKS,
                clients=1,
            )
    assert [task.status for task in result.results] == [TaskStatus.OK] * TASKS
    for task in result.results:
        first = read_events(result, task.task.id)[0]["event"]
        assert first["type"] == "session.start", task.task.id
        assert first["data"]["sessionId"] == task.session_id
