"""Runs through the real Copilot CLI and the real SDK against the scripted model on loopback."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import anyio
import pytest
from run_helpers import SCRIPTS

from copilot_batch import TaskStatus
from copilot_batch.runtime.cli_binary import find_cli
from copilot_batch.runtime.clients import default_client_count
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import read_events, read_json, run_at_scripted_model, run_job

pytestmark = pytest.mark.anyio


@pytest.mark.cli
async def test_custom_tool_call_replayed_from_recording(
    tmp_path: Path, snapshots_dir: Path
) -> None:
    (tmp_path / "encryption_tools.py").write_text(
        textwrap.dedent(
            """
            from copilot import define_tool
            from pydantic import BaseModel

            class EncryptParams(BaseModel):
                input: str

            @define_tool(description="Encrypts a string")
            def encrypt_string(params: EncryptParams) -> str:
                return params.input.upper()
            """
        )
    )
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: encrypt
            prompt: "Use encrypt_string to encrypt this string: Hello"
            permissions: approve-all
            tools: {custom: ["encryption_tools:encrypt_string"]}
        """,
        replay=(snapshots_dir / "tools" / "invokes_custom_tool.yaml",),
    )

    assert result.exit_code == 0
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message is not None and "**HELLO**" in task.final_message
    assert task.tool_calls == 1
    assert task.usage.output_tokens > 0

    events = read_events(result, "encrypt")
    types = [line["event"]["type"] for line in events]
    # The turn ends idle; teardown (disconnect, delete) adds the shutdown event after it.
    assert types.index("session.idle") < types.index("session.shutdown")
    assert all("received_at" in line for line in events)
    [tool_start] = [e["event"] for e in events if e["event"]["type"] == "tool.execution_start"]
    assert tool_start["data"]["toolName"] == "encrypt_string"
    completions = [e["event"] for e in events if e["event"]["type"] == "tool.execution_complete"]
    assert completions[0]["data"]["success"] is True

    run = read_json(result.folder / "run.json")
    assert (run["run_id"], run["state"]) == (result.run_id, "finished")
    job_file = tmp_path / "job.yaml"
    assert run["job_files"] == [
        {
            "path": str(job_file),
            "name": "job",
            "sha256": hashlib.sha256(job_file.read_bytes()).hexdigest(),
            "tasks": 1,
        }
    ]
    assert run["options"]["replay"] == [str(snapshots_dir / "tools" / "invokes_custom_tool.yaml")]
    assert run["totals"]["ok"] == run["totals"]["tasks"] == 1
    assert run["totals"]["tool_calls"] == 1
    assert [(t["id"], t["status"], t["tool_calls"]) for t in run["tasks"]] == [("encrypt", "ok", 1)]
    assert run["tasks"][0]["final_message"] == task.final_message

    record = read_json(result.folder / "tasks" / "encrypt" / "result.json")
    assert record["status"] == "ok"
    assert record["prompt"] == "Use encrypt_string to encrypt this string: Hello"
    assert record["matrix"] == {}
    assert record["options"]["custom_tools"] == ["encryption_tools:encrypt_string"]
    assert record["usage"]["output_tokens"] == task.usage.output_tokens
    assert len(record["spec_hash"]) == 16


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """work/notes.txt, the file the edit_notes script asks the agent to change."""
    (tmp_path / "work").mkdir()
    path = tmp_path / "work" / "notes.txt"
    path.write_text("status: draft\n")
    return path


@pytest.mark.cli
async def test_builtin_tool_edits_file_in_working_directory(tmp_path: Path, notes: Path) -> None:
    result = await run_job(
        tmp_path,
        """
        version: 1
        defaults: {working_directory: work, permissions: approve-all}
        tasks:
          - {id: edit-notes, prompt: Change draft to final in notes.txt.}
        """,
        replay=(SCRIPTS / "edit_notes.yaml",),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert notes.read_text() == "status: final\n"
    assert task.final_message == "notes.txt now says final."
    assert (task.tool_calls, task.permission_denials) == (1, 0)


@pytest.mark.cli
async def test_deny_all_is_the_default_and_every_denial_is_recorded(
    tmp_path: Path, notes: Path
) -> None:
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - {id: edit-notes, prompt: Change draft to final in notes.txt., working_directory: work}
        """,
        replay=(SCRIPTS / "edit_notes.yaml",),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert notes.read_text() == "status: draft\n"
    assert task.final_message == "I was not allowed to edit notes.txt."
    assert task.permission_denials == 1
    assert result.record["totals"]["permission_denials"] == 1

    log_lines = [json.loads(line) for line in (result.folder / "run.log").read_text().splitlines()]
    [decision] = [line for line in log_lines if line["event"] == "permission"]
    assert decision["kind"] == "write"
    assert decision["decision"] == "deny"
    assert decision["task_id"] == "edit-notes"
    assert decision["run_id"] == result.run_id


@pytest.mark.cli
async def test_timeout_aborts_the_session_and_the_run_goes_on(tmp_path: Path) -> None:
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    hang = Fault(kind="hang", prompt_contains="Take your time")
    async with ScriptedModel(scripts, faults=[hang]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - {id: slow, prompt: Take your time., timeout: 3s}
              - {id: quick, prompt: Say hello.}
            """,
        )
    by_id = {task.task.id: task for task in result.results}
    assert by_id["slow"].status is TaskStatus.TIMEOUT
    assert by_id["slow"].error == "timeout of 3s expired; the session was aborted"
    assert by_id["quick"].status is TaskStatus.OK
    assert by_id["quick"].final_message == "Hello!"
    assert result.exit_code == 1
    assert result.record["totals"]["timeout"] == 1


@pytest.mark.cli
async def test_unmatched_request_fails_the_task_with_the_models_explanation(tmp_path: Path) -> None:
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - {id: unknown, prompt: Something no script expects.}
        """,
        replay=(SCRIPTS / "greetings.yaml",),
    )
    [task] = result.results
    assert task.status is TaskStatus.FAILED
    assert task.error is not None and "400" in task.error
    assert result.exit_code == 1


@pytest.mark.cli
async def test_tasks_run_concurrently_over_one_client(tmp_path: Path) -> None:
    # No reply leaves the model until all eight sessions have a request open at once: a run
    # that did not run its tasks side by side would wait for ever (fail_after ends it).
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts, barrier=8) as model:
        with anyio.fail_after(120):
            result = await run_at_scripted_model(
                tmp_path,
                model,
                """
                matrix: {n: [1, 2, 3, 4, 5, 6, 7, 8]}
                tasks:
                  - {id: "hello-{{ n }}", prompt: Say hello.}
                """,
                concurrency=8,
                clients=1,
            )
    assert [task.status for task in result.results] == [TaskStatus.OK] * 8
    assert model.barrier_reached and model.peak_in_flight == 8
    assert read_json(result.folder / "run.json")["environment"]["clients"] == 1


def test_default_client_count_follows_concurrency_within_the_cpus() -> None:
    assert [default_client_count(c, 2) for c in (1, 8, 25, 26, 50, 51, 100, 200)] == [
        1, 1, 1, 2, 2, 3, 4, 4,
    ]  # fmt: skip
    assert default_client_count(1000, 16) == 32


@pytest.mark.cli
async def test_sessions_spread_over_a_pool_of_cli_processes(tmp_path: Path) -> None:
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts, barrier=4) as model:
        with anyio.fail_after(120):
            result = await run_at_scripted_model(
                tmp_path,
                model,
                """
                matrix: {n: [1, 2, 3, 4]}
                tasks:
                  - {id: "hello-{{ n }}", prompt: Say hello.}
                """,
                concurrency=4,
                clients=2,
            )
    assert [task.status for task in result.results] == [TaskStatus.OK] * 4
    run = read_json(result.folder / "run.json")
    assert (run["environment"]["clients"], run["options"]["clients"]) == (2, 2)
    # Each CLI process leaves its own log; between them they had the four sessions at once.
    assert len(list((result.folder / "cli-logs").glob("*.log"))) == 2
    assert model.barrier_reached
    assert not list(result.folder.glob("copilot-home*"))


@pytest.mark.cli
async def test_cli_looks_for_no_github_login_when_every_task_names_a_provider(
    tmp_path: Path,
) -> None:
    """Without a login to find, the CLI would fork itself about once a second per session to
    look for ``gh``; copilot-batch starts it with --no-auto-login when no task needs one."""
    arguments = tmp_path / "cli-arguments.txt"
    wrapper = tmp_path / "copilot"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {arguments}\nexec "{find_cli()}" "$@"\n')
    wrapper.chmod(0o755)
    async with ScriptedModel(load_scripts([SCRIPTS / "greetings.yaml"])) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            "tasks: [{id: hello, prompt: Say hello.}]",
            cli_path=str(wrapper),
        )
    assert result.results[0].status is TaskStatus.OK
    assert "--no-auto-login" in arguments.read_text().split()
    assert read_json(result.folder / "run.json")["environment"]["github_login"] is False
