"""Answering the CLI's permission requests for a session nobody is watching."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from copilot import PermissionRequest
from copilot.generated.rpc import PermissionDecisionApproveOnce, PermissionDecisionReject
from copilot.session import PermissionInvocation, PermissionRequestResult

from ..spec.model import PermissionMode

PermissionCallback = Callable[[PermissionRequest, PermissionInvocation], PermissionRequestResult]


def permission_handler(
    mode: PermissionMode, on_decision: Callable[[str, bool], Any]
) -> PermissionCallback:
    """The ``on_permission_request`` callback for a policy; reports each decision.

    ``on_decision(kind, allowed)`` is called once per request, before the answer is sent.
    """
    allowed = mode == "approve-all"

    def decide(
        request: PermissionRequest, invocation: PermissionInvocation
    ) -> PermissionRequestResult:
        on_decision(request.kind, allowed)
        if allowed:
            return PermissionDecisionApproveOnce()
        return PermissionDecisionReject(feedback=f"denied by the job's permission policy ({mode})")

    return decide
