"""The ``sandbox`` task option: its policy, and which tasks may run shell commands without
one (``run`` warns of those)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import JobSpec, PermissionPolicy, SandboxPolicy, TaskSpec
from .problems import Problems, Where

SHELL_TOOL = "bash"


def sandbox_option(
    rendered: bool | Mapping[str, Any] | None, where: Where, problems: Problems
) -> SandboxPolicy | None:
    """The task's sandbox policy from its schema-valid, rendered ``sandbox`` value; ``None``
    when it has none (or ``false``)."""
    if rendered is None or rendered is False:
        return None
    if rendered is True:
        return SandboxPolicy()
    filesystem = rendered.get("filesystem", {})
    network = rendered.get("network", {})
    policy = SandboxPolicy(
        read_only=tuple(filesystem.get("read_only", ())),
        read_write=tuple(filesystem.get("read_write", ())),
        denied=tuple(filesystem.get("denied", ())),
        outbound=bool(network.get("outbound", False)),
        local_network=bool(network.get("local_network", False)),
        allowed_hosts=tuple(network.get("allowed_hosts", ())),
        blocked_hosts=tuple(network.get("blocked_hosts", ())),
    )
    for key in ("allowed_hosts", "blocked_hosts"):
        if getattr(policy, key) and not (policy.outbound or policy.local_network):
            problems.add(
                (*where, "network", key),
                f"{key} apply to connections the sandbox lets through; with neither outbound "
                "nor local_network true there are none (set outbound: true)",
            )
    return policy


def may_run_shell(task: TaskSpec) -> bool:
    """Whether the task offers the shell tool and its permission policy allows some command."""
    offered = task.available_tools is None or SHELL_TOOL in task.available_tools
    if not offered or SHELL_TOOL in (task.excluded_tools or ()):
        return False
    return _policy_allows_shell(task.permissions)


def _policy_allows_shell(policy: PermissionPolicy) -> bool:
    """Whether some shell request gets ``allow``: a shell rule allows, or the default does
    and no shell rule without patterns (matching every command) denies first."""
    for rule in policy.rules:
        if rule.kind != "shell":
            continue
        if rule.action == "allow":
            return True
        if not rule.commands:
            return False
    return policy.default == "allow"


def unsandboxed_shell_tasks(job: JobSpec) -> list[TaskSpec]:
    """The job's tasks that may run shell commands with no sandbox around them."""
    return [task for task in job.tasks if task.sandbox is None and may_run_shell(task)]
