"""Faults from the scripted model through the real CLI: transient failures retried in fresh
sessions, permanent ones not, and a silent model stopped by idle_timeout."""

from __future__ import annotations

import io
import json
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest
from rich.console import Console
from run_helpers import SCRIPTS

from copilot_batch import RunOptions, TaskStatus
from copilot_batch.errors import CliCrashedError, RunLockedError
from copilot_batch.redact import Redactor
from copilot_batch.run_folder.layout import RunFolder
from copilot_batch.runtime.cli_binary import find_cli
from copilot_batch.runtime.resume import resume_run
from copilot_batch.runtime.task_runs import retry_delay
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.terminal.live import PlainProgress
from copilot_batch.testing import (
    children_running,
    read_events,
    read_json,
    run_at_scripted_model,
)


def test_retry_delays_grow_exponentially_with_full_jitter() -> None:
    for attempt, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (7, 60.0)):
        delays = [retry_delay(attempt, 2.0, 60.0) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not a fixed wait


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_rate_limited_task_is_retried_in_a_fresh_session(tmp_path: Path) -> None:
    # The CLI makes 6 requests (5 retries of its own) before it reports the 429.
    limited = Fault(kind="rate_limit", prompt_contains="Say hello", times=6, retry_after=1)
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[limited]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - {id: hello, prompt: Say hello., retries: 2, retry_backoff: {initial: 100ms}}
              - {id: unknown, prompt: Nobody scripted this., retries: 2}
            """,
        )
    by_id = {task.task.id: task for task in result.results}
    hello = by_id["hello"]
    assert (hello.status, hello.final_message, hello.attempt) == (TaskStatus.OK, "Hello!", 2)
    record = read_json(result.folder / "tasks" / "hello" / "result.json")
    first, second = record["attempts"]
    assert (first["attempt"], first["status"], first["status_code"]) == (1, "failed", 429)
    assert (second["attempt"], second["status"]) == (2, "ok")
    assert first["session_id"] != second["session_id"]
    attempts_in_log = {line["attempt"] for line in read_events(result, "hello")}
    assert attempts_in_log == {1, 2}
    # A request no script answers is a 400: not transient, so not retried.
    unknown = by_id["unknown"]
    assert (unknown.status, unknown.attempt, unknown.status_code) == (TaskStatus.FAILED, 1, 400)
    assert len(read_json(result.folder / "tasks" / "unknown" / "result.json")["attempts"]) == 1
    assert_nothing_lost(result.folder, {"hello", "unknown"})


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_silent_model_is_stopped_by_idle_timeout(tmp_path: Path) -> None:
    hang = Fault(kind="hang", prompt_contains="Take your time")
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - {id: slow, prompt: Take your time., idle_timeout: 2s, timeout: 10m}
            """,
        )
    [slow] = result.results
    assert slow.status is TaskStatus.TIMEOUT
    assert slow.error == "idle_timeout of 2s expired; the session was aborted"
    assert_nothing_lost(result.folder, {"slow"})


@pytest.mark.cli
@pytest.mark.anyio
async def test_run_timeout_cancels_what_is_left_and_keeps_what_finished(tmp_path: Path) -> None:
    hang = Fault(kind="hang", prompt_contains="Take your time")
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - {id: quick, prompt: Say hello.}
              - {id: slow, prompt: Take your time.}
              - {id: waiting, prompt: Say hello.}
            """,
            concurrency=1,
            run_timeout=4.0,
        )
    run = read_json(result.folder / "run.json")
    assert run["state"] == "timed_out"
    by_id = {task["id"]: task for task in run["tasks"]}
    assert by_id["quick"]["status"] == "ok"
    assert by_id["slow"]["status"] == by_id["waiting"]["status"] == "cancelled"
    assert by_id["slow"]["error"] == "the run's run_timeout of 4s expired before the task finished"
    assert (
        by_id["waiting"]["error"] == "the run's run_timeout of 4s expired before the task started"
    )
    assert read_json(result.folder / "tasks" / "quick" / "result.json")["final_message"] == "Hello!"
    assert result.exit_code == 1
    assert_nothing_lost(result.folder, {"quick", "slow", "waiting"})


@pytest.mark.cli
@pytest.mark.anyio
async def test_resume_reruns_failed_and_changed_tasks_and_keeps_the_rest(tmp_path: Path) -> None:
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"])) as model:
        body = """
            tasks:
              - {id: same, prompt: Say hello.}
              - {id: changed, prompt: Take your time.}
              - {id: failed, prompt: Nobody scripted this.}
            """
        first = await run_at_scripted_model(tmp_path, model, body)
        assert [task.status for task in first.results] == [
            TaskStatus.OK, TaskStatus.OK, TaskStatus.FAILED,
        ]  # fmt: skip
        kept_before = read_json(first.folder / "tasks" / "same" / "result.json")
        job_file = tmp_path / "job.yaml"
        job_file.write_text(
            job_file.read_text()
            .replace("prompt: Take your time.", "prompt: Say hello.")
            .replace("prompt: Nobody scripted this.", "prompt: Take your time.")
        )
        # As if the first run had begun a day ago: the gap is not the run's wall time.
        run_json = first.folder / "run.json"
        before = read_json(run_json)
        day_earlier = datetime.fromisoformat(before["started_at"]) - timedelta(days=1)
        run_json.write_text(json.dumps({**before, "started_at": day_earlier.isoformat()}))
        progress = PlainProgress(Console(file=io.StringIO()))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MODEL_URL", model.base_url)  # the job file reads it again
            resumed = await resume_run(first.folder, RunOptions(), progress)

    assert sorted(task.task.id for task in resumed.results) == ["changed", "failed"]
    # The progress counted the kept task as done, the two run again as this run's.
    assert progress.totals().startswith("3/3 done (1 kept, 2 ok), 0 running")
    run = read_json(first.folder / "run.json")
    assert [(t["id"], t["status"]) for t in run["tasks"]] == [
        ("same", "ok"), ("changed", "ok"), ("failed", "ok"),
    ]  # fmt: skip
    assert run["totals"]["ok"] == 3 and len(run["resumed_at"]) == 1
    assert run["started_at"] == day_earlier.isoformat()
    span = datetime.fromisoformat(run["finished_at"]) - day_earlier
    assert before["duration_seconds"] < run["duration_seconds"] < span.total_seconds() / 2
    assert read_json(first.folder / "tasks" / "same" / "result.json") == kept_before
    failed = read_json(first.folder / "tasks" / "failed" / "result.json")
    assert [(a["attempt"], a["status"]) for a in failed["attempts"]] == [(1, "failed"), (2, "ok")]
    assert failed["final_message"] == "This reply never arrives in time."


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_run_folder_in_use_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"])) as model:
        first = await run_at_scripted_model(
            tmp_path, model, "tasks: [{id: a, prompt: Say hello.}]\n"
        )
        monkeypatch.setenv("MODEL_URL", model.base_url)
    folder = RunFolder(first.folder, Redactor([]))
    with folder.locked(), pytest.raises(RunLockedError, match="in use by another"):
        await resume_run(first.folder, RunOptions())


def assert_nothing_lost(result_folder: Path, expected_ids: set[str]) -> None:
    """The invariant after any fault: every task in run.json with a terminal status, and
    every ok task's result on disk."""
    run = read_json(result_folder / "run.json")
    assert run["state"] != "running"
    assert {task["id"] for task in run["tasks"]} == expected_ids
    for task in run["tasks"]:
        assert task["status"] in ("ok", "failed", "timeout", "cancelled", "error"), task
        if task["status"] == "ok":
            record = read_json(result_folder / "tasks" / task["id"] / "result.json")
            assert record["status"] == "ok" and record["final_message"]


@pytest.mark.cli
@pytest.mark.anyio
async def test_broken_model_replies_are_retried_until_they_succeed(tmp_path: Path) -> None:
    # Each fault lasts through the CLI's own retries (6 requests), so the session fails
    # and copilot-batch's retry, in a fresh session, meets a healthy model.
    faults = [
        Fault(kind="server_error", prompt_contains="Say hello", times=6),
        Fault(kind="disconnect", prompt_contains="Take your time", times=6),
        Fault(kind="malformed", prompt_contains="Say goodbye", times=6),
    ]
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=faults) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - {id: server-error, prompt: Say hello., retries: 1, retry_backoff: {initial: 100ms}}
              - {id: dropped, prompt: Take your time., retries: 1, retry_backoff: {initial: 100ms}}
              - id: garbled
                prompt: Say goodbye.
                streaming: true
                retries: 1
                retry_backoff: {initial: 100ms}
            """,
        )
    by_id = {task.task.id: task for task in result.results}
    assert by_id["server-error"].status is TaskStatus.OK
    assert by_id["dropped"].status is TaskStatus.OK
    server_error = read_json(result.folder / "tasks" / "server-error" / "result.json")
    assert [(a["status"], a["status_code"]) for a in server_error["attempts"]] == [
        ("failed", 500), ("ok", None),
    ]  # fmt: skip
    dropped = read_json(result.folder / "tasks" / "dropped" / "result.json")
    assert [a["status"] for a in dropped["attempts"]] == ["failed", "ok"]
    assert "Failed to get response from the AI model" in dropped["attempts"][0]["error"]
    garbled = read_json(result.folder / "tasks" / "garbled" / "result.json")
    assert [a["status"] for a in garbled["attempts"]] == ["failed", "ok"]
    assert_nothing_lost(result.folder, {"server-error", "dropped", "garbled"})


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_run_lowers_its_concurrency_when_the_model_rate_limits(tmp_path: Path) -> None:
    limited = Fault(kind="rate_limit", prompt_contains="Say hello", times=1, retry_after=1)
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[limited]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            matrix: {n: [1, 2, 3, 4]}
            tasks:
              - {id: "hello-{{ n }}", prompt: Say hello.}
            """,
            concurrency=4,
        )
    assert [task.status for task in result.results] == [TaskStatus.OK] * 4
    run = read_json(result.folder / "run.json")
    lines = [json.loads(line) for line in (result.folder / "run.log").read_text().splitlines()]
    changes = [(line["previous"], line["now"]) for line in lines if "previous" in line]
    # Halved once. Only a run slow enough to outlast a quiet period (30 s) raised it again.
    assert changes == [(4, 2), *((n, n + 1) for n in range(2, 2 + len(changes) - 1))]
    assert run["concurrency"] == {"maximum": 4, "lowest": 2, "final": changes[-1][1]}


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_killed_cli_is_replaced_and_its_tasks_run_again(tmp_path: Path) -> None:
    # The first two model calls hang, so two sessions are mid-turn when the CLI is killed.
    hang = Fault(kind="hang", prompt_contains="Say hello", times=2)
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:

        async def kill_the_cli_mid_run() -> None:
            await model.wait_for(lambda requests: len(requests) >= 2)
            [pid] = children_running(find_cli())
            os.kill(pid, signal.SIGKILL)

        async with anyio.create_task_group() as group:
            group.start_soon(kill_the_cli_mid_run)
            result = await run_at_scripted_model(
                tmp_path,
                model,
                """
                matrix: {n: [1, 2, 3]}
                tasks:
                  - {id: "hello-{{ n }}", prompt: Say hello.}
                """,
                concurrency=2,
            )
    assert [task.status for task in result.results] == [TaskStatus.OK] * 3
    run = read_json(result.folder / "run.json")
    assert run["cli_restarts"] == 1
    assert_nothing_lost(result.folder, {"hello-1", "hello-2", "hello-3"})
    cut_short = [
        record
        for record in (
            read_json(result.folder / "tasks" / f"hello-{n}" / "result.json") for n in (1, 2, 3)
        )
        if len(record["attempts"]) == 2
    ]
    assert len(cut_short) == 2
    for record in cut_short:
        first, second = record["attempts"]
        assert (first["status"], first["error_type"]) == ("error", "CliProcessExited")
        assert second["status"] == "ok"


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_cli_that_dies_once_too_often_stops_the_run_with_every_task_recorded(
    tmp_path: Path,
) -> None:
    hang = Fault(kind="hang", prompt_contains="Say hello", times=None)
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"]), faults=[hang]) as model:

        async def kill_the_cli_mid_run() -> None:
            await model.wait_for(lambda requests: len(requests) >= 1)
            [pid] = children_running(find_cli())
            os.kill(pid, signal.SIGKILL)

        stopped: list[CliCrashedError] = []
        async with anyio.create_task_group() as group:
            group.start_soon(kill_the_cli_mid_run)
            try:
                await run_at_scripted_model(
                    tmp_path,
                    model,
                    """
                    matrix: {n: [1, 2]}
                    tasks:
                      - {id: "hello-{{ n }}", prompt: Say hello.}
                    """,
                    concurrency=1,
                    max_cli_restarts=0,
                )
            except CliCrashedError as error:
                stopped.append(error)
    [error] = stopped
    assert (error.restarts, error.exit_code) == (0, 2)
    [folder] = (tmp_path / "runs").iterdir()
    run = read_json(folder / "run.json")
    assert run["state"] == "failed" and "died after 0 restart" in run["failure"]
    statuses = {task["id"]: (task["status"], task["error"]) for task in run["tasks"]}
    assert statuses["hello-1"] == ("error", "the Copilot CLI process exited during the task")
    assert statuses["hello-2"][0] == "cancelled"
    assert_nothing_lost(folder, {"hello-1", "hello-2"})
