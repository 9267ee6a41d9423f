"""One task's session, driven directly on the real CLI."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest
import structlog
from run_helpers import SCRIPTS

from copilot_batch import TaskResult, TaskStatus, load_jobs
from copilot_batch.run_folder.events import EventSink
from copilot_batch.runtime.clients import CliProcess, open_client
from copilot_batch.runtime.session import run_task_session
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import write_job

pytestmark = [pytest.mark.anyio, pytest.mark.cli]


async def test_a_cancelled_session_leaves_saying_why_to_its_caller(
    copilot_cli: Path, tmp_path: Path
) -> None:
    """The session knows it was cancelled, not whether the run was interrupted, timed out or
    stopped: the record it hands over says only ``cancelled`` (task_runs words the reason)."""
    job = write_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: wait
            prompt: Take your time.
            model: gpt-4.1
            provider: {type: openai, base_url: "${MODEL_URL}", api_key: not-a-secret}
        """,
    )
    home = tmp_path / "copilot-home"
    recorded: list[TaskResult] = []

    async def record(result: TaskResult) -> None:
        recorded.append(result)

    hang = Fault(kind="hang")
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:
        [task] = load_jobs([job], environ={"MODEL_URL": model.base_url})[0].tasks
        events, _unread = anyio.create_memory_object_stream[object](math.inf)
        sink = EventSink(task.id, events)
        async with open_client(CliProcess(copilot_cli, home, github_login=False)) as client:
            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(
                        lambda: run_task_session(
                            client, task, sink, structlog.get_logger(), record, copilot_home=home
                        )
                    )
                    await model.wait_for(lambda requests: any(r.fault for r in requests))
                    group.cancel_scope.cancel()
    [result] = recorded
    assert (result.status, result.error) == (TaskStatus.CANCELLED, None)
