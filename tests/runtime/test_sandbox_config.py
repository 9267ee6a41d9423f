"""The SDK's sandbox settings from a task's policy, the features a machine must have for
them, and the blocked accesses found in a session's events (pure; the real CLI runs in
test_sandbox_run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from copilot import SessionEvent
from copilot.generated.rpc import SandboxHostSupport

from copilot_batch.jobfile import SandboxPolicy
from copilot_batch.records import SandboxDenial
from copilot_batch.runtime.sandbox import (
    SandboxWatch,
    missing_features,
    needed_features,
    sandbox_config,
)

WORK, HOME = Path("/work/repo"), Path("/home/ada")


def test_sandbox_true_is_the_workspace_the_home_secrets_denied_and_no_network() -> None:
    config = sandbox_config(SandboxPolicy(), WORK, HOME, Path("/runs/r/copilot-home"))
    assert config.to_dict() == {
        "enabled": True,
        "addCurrentWorkingDirectory": True,
        "allowBypass": False,
        "sandboxMcpServers": True,
        "userPolicy": {
            "filesystem": {
                "deniedPaths": [
                    "/home/ada/.ssh",
                    "/home/ada/.config",
                    "/home/ada/.aws",
                    "/home/ada/.copilot",
                    "/runs/r/copilot-home",
                ]
            },
            "network": {"allowLocalNetwork": False, "allowOutbound": False},
        },
    }


def test_policy_paths_are_relative_to_the_working_directory_or_home() -> None:
    policy = SandboxPolicy(
        read_only=("../shared", "/opt/tools"),
        read_write=("build",),
        denied=("~/.netrc", "~"),
        outbound=True,
        allowed_hosts=("pypi.org",),
        blocked_hosts=("evil.example",),
    )
    user_policy = sandbox_config(policy, WORK, HOME).to_dict()["userPolicy"]
    assert user_policy["filesystem"] == {
        "deniedPaths": [*(f"/home/ada/{name}" for name in (".ssh", ".config", ".aws", ".copilot")),
                        "/home/ada/.netrc", "/home/ada"],
        "readonlyPaths": ["/work/repo/../shared", "/opt/tools"],
        "readwritePaths": ["/work/repo/build"],
    }  # fmt: skip
    assert user_policy["network"] == {
        "allowLocalNetwork": False,
        "allowOutbound": True,
        "allowedHosts": ["pypi.org"],
        "blockedHosts": ["evil.example"],
    }


def support(supported: bool, **features: bool) -> SandboxHostSupport:
    return SandboxHostSupport.from_dict(
        {
            "supported": supported,
            "reason": None if supported else "Bubblewrap (bwrap) is unavailable.",
            "capabilities": [
                {"name": name, "supported": ok, "reason": None if ok else f"no {name}"}
                for name, ok in features.items()
            ],
        }
    )


def test_missing_features_are_those_the_policies_use() -> None:
    closed = needed_features([SandboxPolicy()])
    assert closed == {"shell", "denied_paths"}
    open_ = needed_features([SandboxPolicy(), SandboxPolicy(outbound=True, blocked_hosts=("x",))])
    assert open_ == {"shell", "denied_paths", "network", "network_filtering"}
    host = support(True, shell=True, denied_paths=True, network=False, network_filtering=False)
    assert missing_features(host, closed) == []
    assert missing_features(host, open_) == [
        ("network", "no network"),
        ("network_filtering", "no network_filtering"),
    ]
    assert missing_features(support(False), closed) == [
        ("sandbox", "Bubblewrap (bwrap) is unavailable.")
    ]


def event(kind: str, data: dict[str, Any]) -> SessionEvent:
    return SessionEvent.from_dict(
        {
            "id": "00000000-0000-0000-0000-000000000000",
            "timestamp": "2026-01-01T00:00:00Z",
            "type": kind,
            "data": data,
        }
    )


def start(call: str, command: str) -> SessionEvent:
    arguments = {"command": command}
    return event(
        "tool.execution_start", {"toolCallId": call, "toolName": "bash", "arguments": arguments}
    )


def complete(call: str, output: str) -> SessionEvent:
    return event(
        "tool.execution_complete",
        {"toolCallId": call, "success": True, "sandboxed": True, "result": {"content": output}},
    )


def denied(call: str, denial: str) -> SessionEvent:
    return event(
        "sandbox.decision",
        {
            "control": "network",
            "enforcementPoint": "shell",
            "kind": "access_denied",
            "outcome": "denied",
            "platform": "linux",
            "confidence": "sandbox_reported",
            "denialClass": denial,
            "toolCallId": call,
        },
    )


def test_the_watch_reports_the_clis_denials_and_finds_the_ones_it_does_not() -> None:
    found: list[SandboxDenial] = []
    watch = SandboxWatch(["/home/ada/.ssh"], found.append)
    for each in (
        start("1", "curl http://127.0.0.1:8000"),
        denied("1", "network_local"),
        complete("1", "curl: (7) Failed to connect\n<sandbox is active and blocked this>"),
        start("2", "echo x > /etc/x"),
        complete("2", "bash: /etc/x: Read-only file system"),
        start("3", "cat ~/.ssh/id_rsa"),
        complete("3", "cat: /home/ada/.ssh/id_rsa: No such file or directory"),
        start("4", "cat missing.txt"),
        complete("4", "cat: missing.txt: No such file or directory"),
    ):
        watch(each)
    assert [(d.tool_call_id, d.command, d.denial, d.confidence, d.reported_by) for d in found] == [
        ("1", "curl http://127.0.0.1:8000", "network_local", "sandbox_reported", "cli"),
        ("2", "echo x > /etc/x", "filesystem_write", "output_classified", "copilot-batch"),
        ("3", "cat ~/.ssh/id_rsa", "filesystem_read", "policy_corroborated", "copilot-batch"),
    ]
