"""A runner killed with SIGKILL mid-run leaves no secret in clear: not in the run folder (whose
own files are masked) nor in the temporary folder the run used. The CLI kept each session's
state, every message included, in copilot-batch's memory, and logged errors only."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import anyio
import anyio.abc
import pytest

from copilot_batch.runtime.cli_binary import find_cli
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import children_running, executable_of

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

API_KEY = "canary-api-key-3b9d7e1f"
MCP_TOKEN = "canary-mcp-token-8c2a4d6e"
# One session is answered with the key and ends; the other is answered with the key and a
# tool call, and hangs on its second request: the runner is killed with it mid-turn.
SCRIPT = f"""
models: [gpt-4.1]
conversations:
  - messages:
      - {{role: system, content: "${{system}}"}}
      - {{role: user, content: Say the key.}}
      - {{role: assistant, content: "The key is {API_KEY}."}}
  - messages:
      - {{role: system, content: "${{system}}"}}
      - {{role: user, content: Say the key and look.}}
      - role: assistant
        content: "The key is {API_KEY}; now I look at notes.txt."
        tool_calls:
          - id: toolcall_0
            type: function
            function: {{name: view, arguments: '{{"path":"${{workdir}}/notes.txt"}}'}}
      - {{role: tool, tool_call_id: toolcall_0, content: never answered}}
      - {{role: assistant, content: Never sent.}}
"""
# An MCP server that prints its token as it fails: the CLI quotes that in its log at the
# default level.
JOB = f"""
version: 1
defaults:
  model: gpt-4.1
  provider: {{type: openai, base_url: "${{MODEL_URL}}", api_key: "${{CANARY_KEY}}"}}
  mcp_servers:
    failing:
      command: {sys.executable}
      args: [-c, "import os, sys; sys.exit('token ' + os.environ['SERVICE_TOKEN'])"]
      env: {{SERVICE_TOKEN: "${{CANARY_MCP}}"}}
tasks:
  - {{id: said, prompt: Say the key.}}
  - {{id: turns, prompt: Say the key and look.}}
"""


async def test_no_secret_is_left_in_clear_after_kill_9(tmp_path: Path) -> None:
    (tmp_path / "script.yaml").write_text(SCRIPT)
    (tmp_path / "job.yaml").write_text(textwrap.dedent(JOB))
    (tmp_path / "notes.txt").write_text("notes\n")
    temp, runs = tmp_path / "tmp", tmp_path / "runs"
    temp.mkdir()
    hang = Fault(kind="hang", prompt_contains="Say the key and look", after=1)
    async with ScriptedModel(load_scripts([tmp_path / "script.yaml"]), faults=[hang]) as model:
        env = {
            **os.environ,
            "MODEL_URL": model.base_url,
            "CANARY_KEY": API_KEY,
            "CANARY_MCP": MCP_TOKEN,
            "TMPDIR": str(temp),
        }
        command = [sys.executable, "-m", "copilot_batch", "run", str(tmp_path / "job.yaml")]
        command += ["--out", str(runs), "--run-id", "r"]
        async with await anyio.open_process(command, env=env) as runner:
            with anyio.fail_after(120):
                assert runner.stdout is not None
                await _read_until(runner.stdout, b" said ")  # its line: the task ended
                await model.wait_for(
                    lambda requests: any(request.fault == "hang" for request in requests)
                )
                clis = children_running(find_cli(), parent=runner.pid)
                assert clis, "the runner started no CLI"
                runner.kill()
                await runner.wait()
                try:  # without the runner, its CLI processes see their stdin close and exit
                    for pid in clis:
                        await _exited(pid)
                finally:
                    _kill_survivors(clis, find_cli())

    # The model said the key in both sessions (the run's own files show it masked) ...
    said = (runs / "r" / "tasks" / "said" / "result.json").read_text()
    assert "The key is ***." in said
    # ... and no file anywhere holds it, or the MCP server's token, in clear.
    holding = [
        (path, secret)
        for folder in (runs, temp)
        for path in folder.rglob("*")
        for secret in (API_KEY, MCP_TOKEN)
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert holding == []


async def _read_until(stream: anyio.abc.ByteReceiveStream, marker: bytes) -> None:
    seen = b""
    while marker not in seen:
        seen += await stream.receive()


async def _exited(pid: int) -> None:
    """Wait until ``pid`` (not our child) has exited: its pidfd becomes readable."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await anyio.wait_readable(pidfd)
    finally:
        os.close(pidfd)


def _kill_survivors(pids: list[int], executable: Path) -> None:
    """Leave no CLI behind, even when the test fails."""
    for pid in pids:
        if executable_of(pid) == os.path.realpath(executable):
            os.kill(pid, signal.SIGKILL)
