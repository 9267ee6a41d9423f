"""A task's ``hooks`` as the SDK's session hooks: each kind's functions called in order,
every decision that changes something reported, and a hook that raises made safe.

Functions of one kind form a chain: each sees the arguments, result or prompt the one
before it made (``modifiedArgs``, ``modifiedResult``, ``modifiedPrompt``), and a denial or
a block ends the chain. A function that raises is reported as ``raised``; a tool call it
was asked about is denied (``pre_tool_use``) or its result withheld from the model
(``post_tool_use``), and :attr:`TaskHooks.failure` holds it so the task ends failed.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import HookFailed
from ..jobfile import HookRef
from ..records import HookDecision

HookOutput = dict[str, Any] | None
SdkHook = Callable[[dict[str, Any], dict[str, str]], Awaitable[HookOutput]]

# The SDK's name of each hook kind (create_session's ``hooks`` keys).
SDK_NAMES = {
    "pre_tool_use": "on_pre_tool_use",
    "post_tool_use": "on_post_tool_use",
    "post_tool_use_failure": "on_post_tool_use_failure",
    "user_prompt_submitted": "on_user_prompt_submitted",
    "session_start": "on_session_start",
    "session_end": "on_session_end",
    "error_occurred": "on_error_occurred",
    "agent_stop": "on_agent_stop",
}
# An output key whose value the next function of the chain gets as this input key.
_CHAINED = {"modifiedArgs": "toolArgs", "modifiedResult": "toolResult", "modifiedPrompt": "prompt"}
# Output keys that change something, and the decision an audit entry names for each.
_CHANGES = {
    "modifiedArgs": "modify_arguments",
    "modifiedResult": "modify_result",
    "modifiedPrompt": "modify_prompt",
    "additionalContext": "add_context",
    "errorHandling": "error_handling",
    "modifiedConfig": "modify_config",
}
_REASONS = ("permissionDecisionReason", "reason", "userNotification")
# What the model is told in place of a result a failing post_tool_use hook did not vet.
WITHHELD = "The tool's result was withheld: a hook of the job file failed on it."


class TaskHooks:
    """The SDK hooks for one attempt's session; ``on_decision`` hears of every change."""

    def __init__(
        self, refs: Sequence[HookRef], on_decision: Callable[[HookDecision], None]
    ) -> None:
        self._refs = refs
        self._on_decision = on_decision
        self.failure: HookFailed | None = None

    def session_hooks(self) -> dict[str, SdkHook]:
        """``create_session``'s ``hooks``: one SDK hook per kind the task has."""
        kinds = dict.fromkeys(ref.kind for ref in self._refs)
        return {
            SDK_NAMES[kind]: self._chain([ref for ref in self._refs if ref.kind == kind])
            for kind in kinds
        }

    def raise_failure(self) -> None:
        """Raise the first hook failure of the attempt, if one raised."""
        if self.failure is not None:
            raise self.failure

    def _chain(self, refs: Sequence[HookRef]) -> SdkHook:
        async def run(hook_input: dict[str, Any], invocation: dict[str, str]) -> HookOutput:
            current, merged = dict(hook_input), dict[str, Any]()
            for ref in refs:
                try:
                    output = await _called(ref.handler, dict(current), invocation)
                except Exception as exc:
                    return self._raised(ref, current, exc)
                if not output:
                    continue
                self._report(ref, current, output)
                merged = _merged(merged, output)
                for key, input_key in _CHAINED.items():
                    if key in output:
                        current[input_key] = output[key]
                if output.get("permissionDecision") == "deny" or output.get("decision") == "block":
                    break
            return merged or None

        return run

    def _report(self, ref: HookRef, hook_input: dict[str, Any], output: dict[str, Any]) -> None:
        reason = next((str(output[key]) for key in _REASONS if output.get(key)), None)
        decisions = [_CHANGES[key] for key in _CHANGES if output.get(key) is not None]
        for key in ("permissionDecision", "decision"):
            if output.get(key) in ("allow", "deny", "block"):
                decisions.insert(0, str(output[key]))
        if output.get("suppressOutput"):
            decisions.append("suppress_output")
        for decision in decisions:
            self._record(ref, hook_input, decision, reason)

    def _raised(self, ref: HookRef, hook_input: dict[str, Any], exc: Exception) -> HookOutput:
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        self._record(ref, hook_input, "raised", error)
        if self.failure is None:
            self.failure = HookFailed(ref.kind, ref.import_path, error)
        if ref.kind == "pre_tool_use":
            reason = f"a hook of the job file failed ({ref.import_path})"
            return {"permissionDecision": "deny", "permissionDecisionReason": reason}
        if ref.kind == "post_tool_use":
            return {"modifiedResult": {"textResultForLlm": WITHHELD, "resultType": "failure"}}
        return None

    def _record(
        self, ref: HookRef, hook_input: dict[str, Any], decision: str, reason: str | None
    ) -> None:
        tool = hook_input.get("toolName")
        self._on_decision(
            HookDecision(
                at=datetime.now(UTC),
                hook=ref.kind,
                handler=ref.import_path,
                decision=decision,
                tool=str(tool) if tool is not None else None,
                reason=reason,
            )
        )


async def _called(
    function: Callable[..., Any], hook_input: dict[str, Any], invocation: dict[str, str]
) -> HookOutput:
    output = function(hook_input, invocation)
    if inspect.isawaitable(output):
        output = await output
    if output is not None and not isinstance(output, dict):
        raise TypeError(f"a hook returns a dict or None, not {type(output).__name__}")
    return output


def _merged(merged: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    """Two outputs of one chain as one: later values win, contexts are joined."""
    joined = {**merged, **output}
    contexts = [merged.get("additionalContext"), output.get("additionalContext")]
    if all(contexts):
        joined["additionalContext"] = "\n\n".join(str(part) for part in contexts)
    return joined
