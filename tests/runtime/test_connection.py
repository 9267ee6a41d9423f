"""How a run reaches the CLI: a server already running (--cli-url), and sign-in checks."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_helpers import SCRIPTS

from copilot_batch import (
    CliConnectError,
    ConflictingCliUrlsError,
    NoAuthError,
    RunOptions,
    TaskStatus,
    load_jobs,
    run_batch,
)
from copilot_batch.redact import SECRET_VARIABLES
from copilot_batch.testing import read_json, run_job, write_job

pytestmark = pytest.mark.anyio

CONNECTION_TOKEN = "connection-token-canary-7f3e"


@pytest.fixture
def cli_server(copilot_cli: Path, tmp_path: Path) -> Iterator[str]:
    """The real CLI in server mode on a loopback port it chose (port 0: no other process
    can take it between choosing and binding), requiring a connection token."""
    environment = {
        **os.environ,
        "COPILOT_HOME": str(tmp_path / "server-home"),
        "COPILOT_CONNECTION_TOKEN": CONNECTION_TOKEN,
    }
    server = subprocess.Popen(
        [str(copilot_cli), "--headless", "--no-auto-update", "--port", "0"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        first_line = server.stdout.readline()
        listening = re.search(r"listening on port (\d+)", first_line)
        assert listening, first_line
        yield f"127.0.0.1:{listening[1]}"
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.cli
async def test_a_job_runs_through_a_cli_server_already_running(
    tmp_path: Path, cli_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPILOT_CONNECTION_TOKEN", CONNECTION_TOKEN)
    result = await run_job(
        tmp_path,
        f"""
        version: 1
        cli_url: "{cli_server}"
        tasks:
          - {{id: hello, prompt: Say hello.}}
        """,
        replay=(SCRIPTS / "greetings.yaml",),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message == "Hello!"
    run = read_json(result.folder / "run.json")
    assert run["environment"]["cli_url"] == cli_server
    assert run["environment"]["cli_path"] is None
    # The server keeps its own state; the run folder gets no copilot-home of its own.
    assert not (result.folder / "copilot-home").exists()
    for path in result.folder.rglob("*"):
        if path.is_file():
            assert CONNECTION_TOKEN not in path.read_text(errors="replace"), path


@pytest.mark.cli
async def test_a_wrong_connection_token_is_a_setup_error(
    tmp_path: Path, cli_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPILOT_CONNECTION_TOKEN", "not-the-token")
    with pytest.raises(CliConnectError) as caught:
        await run_job(
            tmp_path,
            "version: 1\ntasks: [{id: hello, prompt: Say hello.}]\n",
            replay=(SCRIPTS / "greetings.yaml",),
            cli_url=cli_server,
        )
    assert caught.value.url == cli_server
    assert caught.value.exit_code == 2
    [run_folder] = (tmp_path / "runs").iterdir()
    run = read_json(run_folder / "run.json")
    assert run["state"] == "failed"
    assert [task["status"] for task in run["tasks"]] == ["cancelled"]


async def test_nothing_listening_at_the_cli_url_is_a_setup_error(tmp_path: Path) -> None:
    # A port held by a socket that does not listen: connections to it are refused, and no
    # other process can start listening there while the test runs.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"127.0.0.1:{held.getsockname()[1]}"
        with pytest.raises(
            CliConnectError, match=f"cannot connect to the Copilot CLI server at {url}"
        ):
            await run_job(
                tmp_path,
                "version: 1\ntasks: [{id: hello, prompt: Say hello.}]\n",
                replay=(SCRIPTS / "greetings.yaml",),
                cli_url=url,
            )


async def test_job_files_naming_different_servers_are_refused(tmp_path: Path) -> None:
    first = write_job(
        tmp_path, "version: 1\ncli_url: '1111'\ntasks: [{id: a, prompt: x}]\n", "a.yaml"
    )
    second = write_job(
        tmp_path, "version: 1\ncli_url: '2222'\ntasks: [{id: b, prompt: x}]\n", "b.yaml"
    )
    jobs = load_jobs([first, second], environ={})
    with pytest.raises(ConflictingCliUrlsError) as caught:
        await run_batch(jobs, RunOptions(out_dir=tmp_path / "runs"))
    assert caught.value.urls == {first: "1111", second: "2222"}
    assert caught.value.exit_code == 2
    assert not (tmp_path / "runs").exists()


@pytest.mark.cli
async def test_tasks_without_a_provider_need_a_signed_in_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NoAuthError) as caught:
        await run_job(
            tmp_path,
            """
            version: 1
            tasks:
              - {id: copilot-api, prompt: Say hello.}
              - id: byok
                prompt: Say hello.
                provider: {type: openai, base_url: "http://127.0.0.1:9/v1"}
            """,
        )
    assert caught.value.task_ids == ("copilot-api",)
    message = str(caught.value)
    for option in ("COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN", "copilot login", "provider"):
        assert option in message
    [run_folder] = (tmp_path / "runs").iterdir()
    run = json.loads((run_folder / "run.json").read_text())
    assert run["state"] == "failed"
    assert run["failure"] == message
    assert {task["status"] for task in run["tasks"]} == {"cancelled"}
    assert {task["error"] for task in run["tasks"]} == {
        f"the run stopped ({message}) before the task started"
    }
