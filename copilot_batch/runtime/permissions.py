"""Answering the CLI's permission requests for a session nobody is watching.

A request becomes a :class:`PermissionTarget` (what it wants to touch), the task's policy
decides (:func:`decide`, pure), and the handler answers the CLI and reports an
:class:`AuditEntry` for the event log and ``result.json``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from copilot import PermissionRequest
from copilot.generated.rpc import PermissionDecisionApproveOnce, PermissionDecisionReject
from copilot.session import PermissionInvocation, PermissionRequestResult
from wcmatch import glob

from ..jobfile.model import NO_FEEDBACK, PermissionPolicy, PermissionRule
from ..records import AuditEntry, Decision, PermissionTarget

PermissionCallback = Callable[[PermissionRequest, PermissionInvocation], PermissionRequestResult]

# The rule name an audit entry gives when a path outside the working directory was refused.
OUTSIDE_WORKING_DIRECTORY = "outside-working-directory"
_PATH_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB


def target_of(request: PermissionRequest) -> PermissionTarget:
    """The fields of a CLI permission request that rules look at."""
    kind = request.kind
    tool_call_id = getattr(request, "tool_call_id", None)
    match kind:
        case "read":
            path = str(request.path)  # type: ignore[union-attr]
            return PermissionTarget(kind, path, path=path, tool_call_id=tool_call_id)
        case "write":
            path = str(request.file_name)  # type: ignore[union-attr]
            return PermissionTarget(kind, path, path=path, tool_call_id=tool_call_id)
        case "shell":
            text = str(request.full_command_text)  # type: ignore[union-attr]
            segments = getattr(request, "command_segments", None) or []
            texts = tuple(segment.full_command_text for segment in segments) or (text,)
            return PermissionTarget(kind, text, segments=texts, tool_call_id=tool_call_id)
        case "url":
            url = str(request.url)  # type: ignore[union-attr]
            host = urlsplit(url).hostname or ""
            return PermissionTarget(kind, url, host=host, tool_call_id=tool_call_id)
        case "mcp":
            server, tool = str(request.server_name), str(request.tool_name)  # type: ignore[union-attr]
            # CLI 1.0.102 names MCP tools "<server>-<tool>"; rules name the server's own name.
            tool = tool.removeprefix(f"{server}-")
            return PermissionTarget(
                kind, f"{server}/{tool}", tool=tool, server=server, tool_call_id=tool_call_id
            )
        case "custom-tool" | "hook":
            tool = str(request.tool_name)  # type: ignore[union-attr]
            return PermissionTarget(kind, tool, tool=tool, tool_call_id=tool_call_id)
        case "memory":
            subject = getattr(request, "subject", None) or getattr(request, "fact", "")
            return PermissionTarget(kind, str(subject), tool_call_id=tool_call_id)
    return PermissionTarget(str(kind), str(kind), tool_call_id=tool_call_id)


def decide(policy: PermissionPolicy, target: PermissionTarget, working_directory: Path) -> Decision:
    """The first rule of the target's kind that matches decides; else the default.

    A read or write outside the working directory (after ``..`` and symlinks are resolved)
    is matched only by rules naming absolute paths, and is refused when none does.
    """
    resolved: str | None = None
    inside: str | None = None
    if target.path is not None:
        root = os.path.realpath(working_directory)
        resolved = os.path.realpath(os.path.join(root, target.path))
        if resolved == root or resolved.startswith(root + os.sep):
            inside = os.path.relpath(resolved, root)
    for rule in policy.rules:
        if rule.kind == target.kind and _matches(rule, target, resolved, inside):
            return Decision(rule.action, rule.name, resolved, rule.feedback)
    if resolved is not None and inside is None:
        return Decision("deny", OUTSIDE_WORKING_DIRECTORY, resolved)
    return Decision(policy.default, policy.shorthand or "default", resolved)


def _matches(
    rule: PermissionRule, target: PermissionTarget, resolved: str | None, inside: str | None
) -> bool:
    if resolved is not None:
        if not rule.paths:
            return inside is not None
        return any(
            glob.globmatch(resolved, pattern, flags=_PATH_GLOB_FLAGS)
            if os.path.isabs(pattern)
            else inside is not None and glob.globmatch(inside, pattern, flags=_PATH_GLOB_FLAGS)
            for pattern in rule.paths
        )
    if target.kind == "shell":
        return not rule.commands or all(
            _any_glob(segment.strip(), rule.commands) for segment in target.segments
        )
    if target.kind == "url":
        return not rule.hosts or _any_glob((target.host or "").lower(), rule.hosts, fold=True)
    if rule.servers and not _any_glob(target.server or "", rule.servers):
        return False
    names = [target.tool or ""]
    if target.server is not None:
        names.append(f"{target.server}-{target.tool}")  # the name the model sees
    return not rule.tools or any(_any_glob(name, rule.tools) for name in names)


def _any_glob(value: str, patterns: Sequence[str], *, fold: bool = False) -> bool:
    return any(
        fnmatch.fnmatchcase(value, pattern.lower() if fold else pattern) for pattern in patterns
    )


def permission_handler(
    policy: PermissionPolicy, working_directory: Path, on_decision: Callable[[AuditEntry], Any]
) -> PermissionCallback:
    """The ``on_permission_request`` callback for a task; reports each decision.

    ``on_decision`` is called once per request, before the answer is sent.
    """

    def answer(
        request: PermissionRequest, invocation: PermissionInvocation
    ) -> PermissionRequestResult:
        target = target_of(request)
        decision = decide(policy, target, working_directory)
        on_decision(AuditEntry(datetime.now(UTC), target, decision))
        if decision.action == "allow":
            return PermissionDecisionApproveOnce()
        return PermissionDecisionReject(feedback=denial_feedback(decision))

    return answer


def denial_feedback(decision: Decision) -> str | None:
    """What the agent is told of a denial: the rule's ``feedback``, none for a plain
    reject (which ends its turn), else the default words naming the rule."""
    if decision.feedback == NO_FEEDBACK:
        return None
    if decision.feedback is not None:
        return decision.feedback
    return f"denied by the job's permission policy ({decision.rule})"
