"""A permission policy answering the real CLI's requests: each kind allowed and denied by a
rule, paths outside the working directory refused, and every decision audited."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot_batch import TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import one_tool_conversation, read_events, read_json, run_job

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

MCP_SERVER = Path(__file__).resolve().parents[1] / "data" / "mcp_echo_server.py"
REJECTED = "The user rejected this tool call. User feedback: denied by the job's permission policy"

POLICY = """
permissions:
  default: deny
  rules:
    - {kind: read, paths: [notes.txt], action: allow}
    - {kind: read, action: deny}
    - {kind: write, paths: ["docs/**"], action: allow}
    - {kind: write, action: deny}
    - {kind: shell, commands: ["echo *"], action: allow}
    - {kind: shell, action: deny}
    - {kind: url, hosts: ["127.0.0.1"], action: allow}
    - {kind: url, action: deny}
    - {kind: custom-tool, tools: [shout], action: allow}
    - {kind: custom-tool, action: deny}
    - {kind: mcp, servers: [echo], tools: [echo], action: allow}
    - {kind: mcp, action: deny}
"""

BLOCKED_FETCH = (
    "Failed to fetch http://127.0.0.1:1/page: WebFetchBlockedUrlError: web_fetch URL "
    '"http://127.0.0.1:1/page" resolves to blocked address 127.0.0.1. URLs must not target '
    "loopback, private, or link-local addresses."
)

# task id: (tool, arguments, what the CLI tells the model, expected (kind, decision, rule))
CASES: dict[str, tuple[str, dict[str, Any], str, tuple[str, str, str]]] = {
    "read-allowed": (
        "view", {"path": "${workdir}/notes.txt"}, "hello notes\n", ("read", "allow", "rules[0]"),
    ),
    "read-denied": (
        "view", {"path": "${workdir}/secret.txt"}, f"{REJECTED} (rules[1])",
        ("read", "deny", "rules[1]"),
    ),
    "read-outside": (
        "view", {"path": "${workdir}/../outside.txt"},
        f"{REJECTED} (outside-working-directory)",
        ("read", "deny", "outside-working-directory"),
    ),
    "read-symlink-out": (
        "view", {"path": "${workdir}/docs/link.txt"}, f"{REJECTED} (outside-working-directory)",
        ("read", "deny", "outside-working-directory"),
    ),
    "write-allowed": (
        "create", {"path": "${workdir}/docs/new.md", "file_text": "new\n"},
        "Created file ${workdir}/docs/new.md with 4 characters", ("write", "allow", "rules[2]"),
    ),
    "write-denied": (
        "create", {"path": "${workdir}/top.md", "file_text": "top\n"}, f"{REJECTED} (rules[3])",
        ("write", "deny", "rules[3]"),
    ),
    "write-outside": (
        "create", {"path": "${workdir}/../escape.md", "file_text": "x\n"},
        f"{REJECTED} (outside-working-directory)",
        ("write", "deny", "outside-working-directory"),
    ),
    "shell-allowed": (
        "bash", {"command": "echo hi", "description": "greet"},
        "hi\n<shellId: 0 completed with exit code 0>", ("shell", "allow", "rules[4]"),
    ),
    "shell-denied": (
        "bash", {"command": "echo hi && rm notes.txt", "description": "greet, then delete"},
        f"{REJECTED} (rules[5])", ("shell", "deny", "rules[5]"),
    ),
    "url-allowed": (
        "web_fetch", {"url": "http://127.0.0.1:1/page"}, BLOCKED_FETCH,
        ("url", "allow", "rules[6]"),
    ),
    "url-denied": (
        "web_fetch", {"url": "https://example.org/"}, f"{REJECTED} (rules[7])",
        ("url", "deny", "rules[7]"),
    ),
    "custom-allowed": ("shout", {"text": "hey"}, "HEY", ("custom-tool", "allow", "rules[8]")),
    "custom-denied": (
        "whisper", {"text": "hey"}, f"{REJECTED} (rules[9])", ("custom-tool", "deny", "rules[9]"),
    ),
    "mcp-allowed": (
        "echo-echo", {"text": "hey"}, "echo: hey", ("mcp", "allow", "rules[10]"),
    ),
    "mcp-denied": (
        "mirror-echo", {"text": "hey"}, f"{REJECTED} (rules[11])", ("mcp", "deny", "rules[11]"),
    ),
}  # fmt: skip

TOOLS_MODULE = """
from copilot import define_tool
from pydantic import BaseModel

class Text(BaseModel):
    text: str

@define_tool(description="Upper-case the text")
def shout(params: Text) -> str:
    return params.text.upper()

@define_tool(description="Lower-case the text")
def whisper(params: Text) -> str:
    return params.text.lower()
"""


def conversation(task_id: str) -> dict[str, Any]:
    tool, arguments, result, _ = CASES[task_id]
    return one_tool_conversation(f"Task {task_id}.", tool, arguments, result, f"{task_id} done.")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "docs").mkdir(parents=True)
    (work / "notes.txt").write_text("hello notes\n")
    (work / "secret.txt").write_text("secret\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    (work / "docs" / "link.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "job_tools.py").write_text(textwrap.dedent(TOOLS_MODULE))
    return work


async def test_each_kind_is_allowed_and_denied_by_its_rule(tmp_path: Path, workspace: Path) -> None:
    script = tmp_path / "permissions.yaml"
    script.write_text(
        yaml.safe_dump(
            {"models": ["gpt-4.1"], "conversations": [conversation(task) for task in CASES]}
        )
    )
    servers = {
        name: {"command": sys.executable, "args": [str(MCP_SERVER)]} for name in ("echo", "mirror")
    }
    # Not --replay: it puts the CLI in offline mode, which has no web_fetch tool.
    async with ScriptedModel(load_scripts([script])) as model:
        job = {
            "version": 1,
            "defaults": {
                "model": "gpt-4.1",
                "provider": {"type": "openai", "base_url": model.base_url, "api_key": "unused"},
                "working_directory": "work",
                "tools": {"custom": ["job_tools:shout", "job_tools:whisper"]},
                "mcp_servers": servers,
                **yaml.safe_load(POLICY),
            },
            "tasks": [{"id": task, "prompt": f"Task {task}."} for task in CASES],
        }
        result = await run_job(tmp_path, yaml.safe_dump(job), concurrency=8)

    by_id = {task.task.id: task for task in result.results}
    for task_id, (_, _, _, expected) in CASES.items():
        task = by_id[task_id]
        # The final answer comes only after the tool result the script expects.
        assert (task.status, task.final_message) == (TaskStatus.OK, f"{task_id} done."), (
            task_id,
            task.error,
        )
        audit = read_json(result.folder / "tasks" / task_id / "result.json")["permission_audit"]
        assert [(e["kind"], e["decision"], e["rule"]) for e in audit] == [expected], task_id
        [event] = [
            line["event"]["data"]
            for line in read_events(result, task_id)
            if line["event"]["type"] == "copilot_batch.permission"
        ]
        assert event == audit[0]

    assert (workspace / "docs" / "new.md").read_text() == "new\n"
    assert not (workspace / "top.md").exists()
    assert not (tmp_path / "escape.md").exists()
    assert (workspace / "notes.txt").exists()
    denials = sum(1 for (_, _, _, (_, decision, _)) in CASES.values() if decision == "deny")
    assert result.record["totals"]["permission_denials"] == denials

    shell_audit = read_json(result.folder / "tasks" / "shell-denied" / "result.json")
    assert shell_audit["permission_audit"][0]["target"] == "echo hi && rm notes.txt"
    outside = read_json(result.folder / "tasks" / "read-symlink-out" / "result.json")
    assert outside["permission_audit"][0]["resolved_path"] == str(
        (tmp_path / "outside.txt").resolve()
    )
