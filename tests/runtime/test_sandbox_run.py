"""The OS sandbox through the real CLI and real Bubblewrap: a sandboxed task's shell command
cannot read a planted secret outside its workspace, write outside it or reach a loopback
server, while the same command in the same task without the sandbox can; what it blocked is
recorded; a machine that cannot sandbox stops the run before any task starts."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot_batch import RunStatus, SandboxUnavailableError, TaskStatus
from copilot_batch.testing import (
    one_tool_conversation,
    read_events,
    read_json,
    run_job,
    write_script,
)

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

REQUIRED = os.environ.get("COPILOT_BATCH_REQUIRE_SANDBOX") == "1"
if shutil.which("bwrap") is None and not REQUIRED:
    pytestmark.append(
        pytest.mark.skip(reason="Bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    )

SECRET = "PLANTED-SECRET"
# What the CLI appends to the output of a command it saw the sandbox block.
READ_NOTE = (
    "<this failure may be caused by the active sandbox policy. Do not attempt workarounds. If "
    "you suspect the sandbox blocked this, ask the user to review their sandbox policy.>"
)
NETWORK_NOTE = (
    "<sandbox is active and blocked this command's network access. Do not attempt "
    "workarounds. If this command needs outbound access, ask the user to allow it in their "
    "sandbox policy, naming the host it blocked; for a blocked loopback or local address, ask "
    "the user to enable local network access or to review the allowed and blocked host rules; "
    "if policy permits the destination but the Windows host-loopback capability is "
    "unsupported, update Windows to a supported version; a refusal no policy edit can lift "
    "needs the sandbox bypassed or turned off.>"
)


# Files each variant writes beside its own working directory (work-sandboxed, work-control).
OUTSIDE = '../outside-"$(basename "$PWD")".txt'
READ_ONLY = "../read-only.txt"


def exited(code: int) -> str:
    return f"<exited with exit code {code}>"


# case: (sandbox option, command, output sandboxed, output unsandboxed)
def cases(port: int) -> dict[str, tuple[Any, str, str, str]]:
    connect = f"/dev/tcp/127.0.0.1/{port}"
    return {
        "read-home-secret": (
            True, "cd ~/.ssh && cat id_rsa",
            f"cat: id_rsa: No such file or directory\n{exited(1)}", f"{SECRET}\n{exited(0)}",
        ),
        "read-denied-file": (
            {"filesystem": {"denied": ["../secret.txt"]}}, "cat ../secret.txt",
            f"cat: ../secret.txt: Permission denied\n{exited(1)}\n{READ_NOTE}",
            f"{SECRET}\n{exited(0)}",
        ),
        "write-outside": (
            True, f"echo written > {OUTSIDE} && cat {OUTSIDE}",
            f"written\n{exited(0)}", f"written\n{exited(0)}",
        ),
        "write-read-only": (
            {"filesystem": {"read_only": [".."]}}, f"echo written > {READ_ONLY}",
            f"/bin/bash: line 1: {READ_ONLY}: Read-only file system\n{exited(1)}", exited(0),
        ),
        "reach-loopback": (
            True, f"exec 3<>{connect} && echo reached",
            f"/bin/bash: connect: Connection refused\n/bin/bash: line 1: {connect}: Connection "
            f"refused\n{exited(1)}\n{NETWORK_NOTE}",
            f"reached\n{exited(0)}",
        ),
    }  # fmt: skip


@pytest.fixture
def loopback_port() -> Iterator[int]:
    """A TCP server on loopback that accepts every connection."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Returns the folder of the job file, its working directories and the secrets.
    """A home directory with a key in ~/.ssh and a secret beside the workspace; the
    temporary directory (which the CLI's base policy leaves writable) elsewhere."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"{SECRET}\n")
    (tmp_path / "secret.txt").write_text(f"{SECRET}\n")
    for folder in ("tmp", "work-sandboxed", "work-control"):
        (tmp_path / folder).mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    return tmp_path


def job_and_script(folder: Path, port: int) -> tuple[str, Path]:
    tasks, conversations = [], []
    for case, (sandbox, command, blocked, allowed) in cases(port).items():
        for variant, output in (("sandboxed", blocked), ("control", allowed)):
            task_id = f"{case}-{variant}"
            option = sandbox if variant == "sandboxed" else False
            tasks.append(
                {
                    "id": task_id,
                    "prompt": f"Run {task_id}.",
                    "sandbox": option,
                    "working_directory": f"work-{variant}",
                }
            )
            arguments = {"command": command, "description": case}
            conversations.append(
                one_tool_conversation(f"Run {task_id}.", "bash", arguments, output, "done")
            )
    job = {
        "version": 1,
        "defaults": {"model": "gpt-4.1", "permissions": "approve-all"},
        "tasks": tasks,
    }
    script = folder / "script.yaml"
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": conversations}))
    return yaml.safe_dump(job, sort_keys=False), script


async def test_sandboxed_commands_are_confined_and_recorded_the_same_unsandboxed_are_not(
    planted: Path, loopback_port: int
) -> None:
    job, script = job_and_script(planted, loopback_port)
    result = await run_job(planted, job, replay=(script,), concurrency=10)

    # Every command's output was the one its script expects, sandboxed or not.
    statuses = {task.task.id: (task.status, task.error) for task in result.results}
    assert statuses == {task_id: (TaskStatus.OK, None) for task_id in statuses}
    # The sandboxed write went to the sandbox's own layer, never to the disk.
    assert not (planted / "outside-work-sandboxed.txt").exists()
    assert (planted / "outside-work-control.txt").read_text() == "written\n"

    record = read_json(result.folder / "run.json")
    denials = {
        task["id"]: task["sandbox_denials"] for task in record["tasks"] if task["sandbox_denials"]
    }
    assert denials == {
        "read-denied-file-sandboxed": 1,
        "write-read-only-sandboxed": 1,
        "reach-loopback-sandboxed": 1,
    }
    assert record["totals"]["sandbox_denials"] == 3
    result_json = read_json(result.folder / "tasks" / "reach-loopback-sandboxed" / "result.json")
    [entry] = result_json["sandbox_audit"]
    assert (entry["denial"], entry["reported_by"], entry["command"]) == (
        "network_outbound",
        "cli",
        f"exec 3<>/dev/tcp/127.0.0.1/{loopback_port} && echo reached",
    )
    events = read_events(result, "write-read-only-sandboxed")
    [logged] = [e["event"]["data"] for e in events if e["event"]["type"].endswith("denial")]
    assert (logged["denial"], logged["reported_by"]) == ("filesystem_write", "copilot-batch")
    assert "Blocked by the sandbox" in (result.folder / "summary.md").read_text()


async def test_a_machine_without_bubblewrap_stops_the_run_before_any_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI looks for bwrap on PATH; give it a PATH without.
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    job = "version: 1\ndefaults: {model: gpt-4.1, sandbox: true}\ntasks: [{id: t, prompt: Hi.}]\n"
    script = write_script(tmp_path, [one_tool_conversation("Hi.", "bash", {}, "", "done")])

    with pytest.raises(SandboxUnavailableError) as raised:
        await run_job(tmp_path, job, replay=(script,), run_id="r")

    assert raised.value.missing[0][0] == "sandbox"
    assert "Bubblewrap" in str(raised.value) and "apt-get install bubblewrap" in str(raised.value)
    run = read_json(tmp_path / "runs" / "r" / "run.json")
    assert run["state"] == RunStatus.FAILED
    assert [task["status"] for task in run["tasks"]] == ["cancelled"]


@pytest.mark.skipif(shutil.which("slirp4netns") is not None, reason="slirp4netns is installed")
async def test_network_access_without_slirp4netns_stops_the_run_naming_it(
    tmp_path: Path,
) -> None:
    job = (
        "version: 1\ndefaults: {model: gpt-4.1, sandbox: {network: {outbound: true}}}\n"
        "tasks: [{id: t, prompt: Hi.}]\n"
    )
    script = write_script(tmp_path, [one_tool_conversation("Hi.", "bash", {}, "", "done")])

    with pytest.raises(SandboxUnavailableError) as raised:
        await run_job(tmp_path, job, replay=(script,))

    assert [part for part, _reason in raised.value.missing] == ["network"]
    assert "slirp4netns" in str(raised.value)


MCP_READER = """
import json, sys
for line in sys.stdin:
    message = json.loads(line) if line.strip() else {}
    method, message_id = message.get("method"), message.get("id")
    if message_id is None:
        continue
    if method == "initialize":
        result = {"protocolVersion": message["params"]["protocolVersion"],
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "reader", "version": "1"}}
    elif method == "tools/list":
        schema = {"type": "object", "properties": {"path": {"type": "string"}}}
        result = {"tools": [{"name": "read", "description": "Read a file", "inputSchema": schema}]}
    elif method == "tools/call":
        try:
            with open(message["params"]["arguments"]["path"]) as file:
                text = file.read().strip()
        except OSError as error:
            text = type(error).__name__
        result = {"content": [{"type": "text", "text": text}]}
    else:
        result = {}
    print(json.dumps({"jsonrpc": "2.0", "id": message_id, "result": result}), flush=True)
"""


async def test_an_mcp_server_the_session_starts_is_confined_too(planted: Path) -> None:
    # The server runs inside the sandbox, so its Python and its script must be readable
    # there: granted read-only (a virtual environment's Python and its base may be anywhere).
    reader = planted / "reader.py"
    reader.write_text(MCP_READER)
    python = {"filesystem": {"read_only": sorted({sys.prefix, sys.base_prefix, str(reader)})}}
    key = str(planted / "home" / ".ssh" / "id_rsa")
    conversations, tasks = [], []
    for variant, answer in (("sandboxed", "FileNotFoundError"), ("control", SECRET)):
        prompt = f"Read the key, {variant}."
        conversations.append(
            one_tool_conversation(prompt, "reader-read", {"path": key}, answer, "done")
        )
        tasks.append(
            {
                "id": variant,
                "prompt": prompt,
                "sandbox": python if variant == "sandboxed" else False,
                "working_directory": f"work-{variant}",
            }
        )
    server = {"command": sys.executable, "args": [str(reader)]}
    job = {
        "version": 1,
        "defaults": {
            "model": "gpt-4.1",
            "permissions": "approve-all",
            "mcp_servers": {"reader": server},
        },
        "tasks": tasks,
    }
    script = write_script(planted, conversations)

    result = await run_job(planted, yaml.safe_dump(job), replay=(script,))

    statuses = {task.task.id: (task.status, task.error) for task in result.results}
    assert statuses == {"sandboxed": (TaskStatus.OK, None), "control": (TaskStatus.OK, None)}
