"""One task's session, driven directly on the real CLI."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest
import structlog
from run_helpers import SCRIPTS

from copilot_batch import TaskStatus, load_jobs
from copilot_batch.run_folder.events import EventSink
from copilot_batch.runtime.clients import CliProcess, open_client
from copilot_batch.runtime.session import SessionSettings, TaskSession
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import write_job

pytestmark = [pytest.mark.anyio, pytest.mark.cli]


async def test_a_cancelled_session_leaves_saying_why_to_its_caller(
    copilot_cli: Path, tmp_path: Path
) -> None:
    """The session knows it was cancelled, not whether the run was interrupted, timed out or
    stopped: the result it leaves says only ``cancelled`` (task_runs words the reason)."""
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

    hang = Fault(kind="hang")
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:
        [task] = load_jobs([job], environ={"MODEL_URL": model.base_url})[0].tasks
        events, _unread = anyio.create_memory_object_stream[object](math.inf)
        sink = EventSink(task.id, events)
        async with open_client(CliProcess(copilot_cli, home, github_login=False)) as client:
            settings = SessionSettings(copilot_home=home)
            session = TaskSession(client, task, sink, structlog.get_logger(), settings)
            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(session.run)
                    await model.wait_for(lambda requests: any(r.fault for r in requests))
                    group.cancel_scope.cancel()
    result = session.result
    assert result.finished_at is not None
    assert (result.status, result.error) == (TaskStatus.CANCELLED, None)
