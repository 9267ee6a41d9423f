"""CLI processes recycled after a number of sessions (``--recycle-after``), against the real
CLI and the scripted model."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import pytest
import structlog
from run_helpers import SCRIPTS

from copilot_batch import RunResult, TaskStatus
from copilot_batch.runtime.cli_binary import find_cli
from copilot_batch.runtime.clients import CliServer, SupervisedClient, due_for_recycling
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import (
    children_running,
    read_json,
    read_task_result,
    run_at_scripted_model,
)
from copilot_batch.testing.processes import read_proc, stat_fields

pytestmark = pytest.mark.anyio

TASKS = """
matrix: {n: [%s]}
tasks:
  - {id: "hello-{{ n }}", prompt: Say hello.}
"""


def hello_tasks(count: int) -> str:
    return TASKS % ", ".join(str(n) for n in range(1, count + 1))


def test_a_cli_process_is_due_once_it_has_served_its_sessions() -> None:
    assert [due_for_recycling(served, 3) for served in (0, 2, 3, 4)] == [False, False, True, True]
    assert not due_for_recycling(10_000, 0)  # 0: never


def test_a_cli_server_is_never_recycled() -> None:
    server = SupervisedClient(CliServer("127.0.0.1:1"), 0, structlog.get_logger(), 3)
    assert server.recycle_after == 0


def assert_every_task_ok_at_its_first_attempt(result: RunResult, count: int) -> None:
    assert [task.status for task in result.results] == [TaskStatus.OK] * count
    for n in range(1, count + 1):
        record = read_task_result(result, f"hello-{n}")
        assert (record["attempt"], len(record["attempts"])) == (1, 1)


@pytest.mark.cli
async def test_cli_processes_are_recycled_without_failing_or_retrying_a_task(
    tmp_path: Path,
) -> None:
    # One client, three sessions a process: twelve tasks take four processes in turn.
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"])) as model:
        with anyio.fail_after(180):
            result = await run_at_scripted_model(
                tmp_path, model, hello_tasks(12), concurrency=4, clients=1, recycle_after=3
            )
    assert_every_task_ok_at_its_first_attempt(result, 12)
    run = read_json(result.folder / "run.json")
    assert (run["cli_recycled"], run["cli_restarts"]) == (3, 0)
    assert run["options"]["recycle_after"] == 3
    # Each CLI process leaves its own log: four of them served the sessions.
    assert len(list((result.folder / "cli-logs").glob("*.log"))) == 4


@pytest.mark.cli
async def test_a_cli_process_recycled_with_sessions_in_flight_lets_them_finish(
    tmp_path: Path,
) -> None:
    # No reply leaves the model until four requests are open: the first three sessions are
    # mid-turn on the first process when the fourth makes it recycle and starts on the next.
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), barrier=4) as model:
        with anyio.fail_after(120):
            result = await run_at_scripted_model(
                tmp_path, model, hello_tasks(4), concurrency=4, clients=1, recycle_after=3
            )
    assert model.barrier_reached
    assert_every_task_ok_at_its_first_attempt(result, 4)
    assert read_json(result.folder / "run.json")["cli_recycled"] == 1
    assert len(list((result.folder / "cli-logs").glob("*.log"))) == 2


@pytest.mark.cli
async def test_recycling_off_keeps_one_process(tmp_path: Path) -> None:
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"])) as model:
        with anyio.fail_after(120):
            result = await run_at_scripted_model(
                tmp_path, model, hello_tasks(4), concurrency=2, clients=1, recycle_after=0
            )
    assert_every_task_ok_at_its_first_attempt(result, 4)
    assert read_json(result.folder / "run.json")["cli_recycled"] == 0
    assert len(list((result.folder / "cli-logs").glob("*.log"))) == 1


def started_first(pids: list[int]) -> int:
    """The pid that started first (``/proc/PID/stat`` field 22, its start time)."""
    return min(pids, key=lambda pid: int(stat_fields(read_proc(f"/proc/{pid}/stat") or "")[19]))


@pytest.mark.cli
async def test_a_recycled_cli_that_dies_has_its_sessions_run_again_on_the_live_one(
    tmp_path: Path,
) -> None:
    # The first three requests hang on the first process, which the fourth task recycles;
    # once the fourth request reached the model (from the fresh process), the old one dies.
    hang = Fault(kind="hang", prompt_contains="Say hello", times=3)
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:

        async def kill_the_recycled_cli() -> None:
            await model.wait_for(lambda requests: len(requests) >= 4)
            os.kill(started_first(children_running(find_cli())), signal.SIGKILL)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                group.start_soon(kill_the_recycled_cli)
                result = await run_at_scripted_model(
                    tmp_path, model, hello_tasks(4), concurrency=4, clients=1, recycle_after=3
                )
    assert [task.status for task in result.results] == [TaskStatus.OK] * 4
    run = read_json(result.folder / "run.json")
    # Not a restart: the fresh process was there already. Its fourth session recycled it.
    assert (run["cli_restarts"], run["cli_recycled"]) == (0, 2)
    cut_short = [
        record
        for record in (read_task_result(result, f"hello-{n}") for n in range(1, 5))
        if record["attempt"] == 2
    ]
    assert len(cut_short) == 3
    for record in cut_short:
        first, second = record["attempts"]
        assert (first["status"], first["error_type"]) == ("error", "CliProcessExited")
        assert second["status"] == "ok"
