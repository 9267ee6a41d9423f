"""The OS sandbox the Copilot CLI puts around a task's shell commands and MCP servers: the
SDK's ``SandboxConfig`` from a task's policy, the check that this machine can run it, and
the commands it blocked, found in the session's events."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from copilot import CopilotClient, SessionEvent
from copilot.generated.rpc import (
    SandboxConfig,
    SandboxConfigUserPolicy,
    SandboxConfigUserPolicyFilesystem,
    SandboxConfigUserPolicyNetwork,
    SandboxHostSupport,
)
from copilot.generated.session_events import (
    SandboxDecisionData,
    SandboxDecisionDataKind,
    ToolExecutionCompleteData,
    ToolExecutionStartData,
)

from ..errors import SandboxUnavailableError
from ..jobfile import SandboxPolicy, TaskSpec
from ..records import SandboxDenial

# What every sandboxed task is denied, under the home directory: keys and cloud and tool
# credentials, and the CLI's own state (its tokens and settings).
HOME_SECRETS = (".ssh", ".config", ".aws", ".copilot")
# How a denial found in a command's output (not reported by the CLI) is recorded.
REPORTED_BY_CLI, REPORTED_BY_US = "cli", "copilot-batch"
# strerror(EROFS): the sandbox mounts what a command may not write read-only.
_READ_ONLY = "Read-only file system"
# A denied folder is replaced by an empty one, so what was in it is not there.
_NOT_THERE = re.compile(r"No such file or directory|Permission denied")


def sandbox_config(
    policy: SandboxPolicy, working_directory: Path, home: Path, cli_state: Path | None = None
) -> SandboxConfig:
    """The SDK's sandbox settings for a task: the working directory read-write, the
    policy's paths (relative to it, or under ``home`` for ``~/``) granted or denied,
    ``HOME_SECRETS`` and ``cli_state`` (the CLI process's state directory) denied, the
    network as the policy says (none by default). MCP servers the session starts are
    confined too; the agent may not ask to run a command outside the sandbox."""
    denied = [*(home / name for name in HOME_SECRETS), *([cli_state] if cli_state else [])]
    filesystem = SandboxConfigUserPolicyFilesystem(
        denied_paths=[*map(str, denied), *_paths(policy.denied, working_directory, home)],
        readonly_paths=_paths(policy.read_only, working_directory, home) or None,
        readwrite_paths=_paths(policy.read_write, working_directory, home) or None,
    )
    # Both network switches are always given: left out, CLI 1.0.102 plans a private
    # network for the sandbox, which needs slirp4netns, and refuses every command without it.
    network = SandboxConfigUserPolicyNetwork(
        allow_outbound=policy.outbound,
        allow_local_network=policy.local_network,
        allowed_hosts=list(policy.allowed_hosts) or None,
        blocked_hosts=list(policy.blocked_hosts) or None,
    )
    return SandboxConfig(
        enabled=True,
        add_current_working_directory=True,
        allow_bypass=False,
        sandbox_mcp_servers=True,
        user_policy=SandboxConfigUserPolicy(filesystem=filesystem, network=network),
    )


def _paths(paths: Iterable[str], working_directory: Path, home: Path) -> list[str]:
    """Absolute paths: ``~/x`` under ``home``, relative ones under the working directory."""
    absolute = []
    for path in paths:
        if path == "~" or path.startswith("~/"):
            absolute.append(home / path[2:])
        else:
            absolute.append(working_directory / path)
    return [str(path) for path in absolute]


def needed_features(policies: Iterable[SandboxPolicy]) -> set[str]:
    """The CLI's names of the sandbox features the policies use."""
    needed = {"shell", "denied_paths"}
    for policy in policies:
        if policy.outbound or policy.local_network:
            needed.add("network")
        if policy.allowed_hosts or policy.blocked_hosts:
            needed.add("network_filtering")
    return needed


def missing_features(support: SandboxHostSupport, needed: set[str]) -> list[tuple[str, str]]:
    """What the machine lacks of ``needed``, each with the CLI's reason; ``sandbox`` when it
    has no sandbox at all."""
    if not support.supported:
        return [("sandbox", support.reason or "no sandbox backend")]
    return [
        (feature.name, feature.reason or "unsupported")
        for feature in support.capabilities
        if feature.name in needed and not feature.supported
    ]


async def check_sandbox_support(client: CopilotClient, tasks: Sequence[TaskSpec]) -> None:
    """Fail before any task starts if tasks ask for the sandbox and the CLI says this
    machine cannot run it, or not every feature their policies use."""
    sandboxed = [task for task in tasks if task.sandbox is not None]
    if not sandboxed:
        return
    support = await client.rpc.sandbox.get_host_support()
    missing = missing_features(support, needed_features(t.sandbox for t in sandboxed if t.sandbox))
    if missing:
        raise SandboxUnavailableError([task.id for task in sandboxed], missing)


class SandboxWatch:
    """Finds, in a session's events, every access the sandbox refused a command.

    The CLI reports some itself: a ``sandbox.decision`` event of kind ``access_denied``
    (a read of a denied file, a connection). Two it does not report are found in the
    output of a sandboxed command: a write to a read-only path ("Read-only file system"),
    and a read under a denied folder, which the sandbox shows empty ("No such file or
    directory" naming a ``denied`` path). Those two are looked for only in a command the CLI
    reported nothing for, and reported once per command."""

    def __init__(self, denied: Sequence[str], on_denial: Callable[[SandboxDenial], None]) -> None:
        self._denied = tuple(denied)
        self._on_denial = on_denial
        self._commands: dict[str, str] = {}
        self._reported: set[str] = set()

    def __call__(self, event: SessionEvent) -> None:
        data = event.data
        if isinstance(data, ToolExecutionStartData) and isinstance(data.arguments, dict):
            command = data.arguments.get("command")
            if isinstance(command, str):
                self._commands[data.tool_call_id] = command
        elif isinstance(data, SandboxDecisionData):
            if data.kind is SandboxDecisionDataKind.ACCESS_DENIED:
                denial = data.denial_class.value if data.denial_class else "other_access"
                confidence = data.confidence.value if data.confidence else "unknown"
                self._report(data.tool_call_id, denial, confidence, REPORTED_BY_CLI)
        elif isinstance(data, ToolExecutionCompleteData) and data.sandboxed:
            self._check_output(data)

    def _check_output(self, data: ToolExecutionCompleteData) -> None:
        """A denial the CLI did not report, found in a sandboxed command's output."""
        if data.tool_call_id in self._reported:
            return
        output = data.result.content if data.result is not None else ""
        if _READ_ONLY in output:
            self._report(data.tool_call_id, "filesystem_write", "output_classified", REPORTED_BY_US)
        elif self._names_denied_path(output):
            read = "filesystem_read"
            self._report(data.tool_call_id, read, "policy_corroborated", REPORTED_BY_US)

    def _names_denied_path(self, output: str) -> bool:
        return any(
            path in line and _NOT_THERE.search(line)
            for line in output.splitlines()
            for path in self._denied
        )

    def _report(self, tool_call_id: str | None, denial: str, confidence: str, by: str) -> None:
        if tool_call_id is not None:
            self._reported.add(tool_call_id)
        command = self._commands.get(tool_call_id) if tool_call_id else None
        self._on_denial(
            SandboxDenial(datetime.now(UTC), denial, confidence, by, tool_call_id, command)
        )
