"""The hooks copilot_batch.hooks ships, and how a task's hooks chain, report and fail
(runtime/hooks.py), called as the SDK calls them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch.errors import HookFailed
from copilot_batch.hooks import audit_log, redact_secrets
from copilot_batch.jobfile import HookRef
from copilot_batch.records import HookDecision
from copilot_batch.runtime.hooks import WITHHELD, TaskHooks

SECRET = "hunter2-is-long"
INVOCATION = {"session_id": "s-1"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def with_secret(value: Any, text: str) -> Any:
    return {"textResultForLlm": f"{text}{SECRET}{text}", "other": value}


@given(json_values, st.text(max_size=10))
def test_redact_secrets_leaves_no_secret_in_any_result(value: Any, text: str) -> None:
    hook = redact_secrets(values=[SECRET], tokens=False)
    output = hook({"toolName": "t", "toolArgs": {}, "toolResult": with_secret(value, text)}, {})
    assert output is not None
    assert SECRET not in json.dumps(output["modifiedResult"])


def test_redact_secrets_changes_nothing_without_a_secret_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    hook = redact_secrets(env=["HOOK_SECRET"], tokens=False)
    assert hook({"toolResult": {"textResultForLlm": "clean"}}, INVOCATION) is None
    output = hook({"toolResult": {"textResultForLlm": f"x {SECRET}"}}, INVOCATION)
    assert output == {"modifiedResult": {"textResultForLlm": "x ***"}}
    assert hook.secrets == (SECRET,)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"env": ["UNSET_HOOK_VARIABLE"]}, "environment variable(s) not set: UNSET_HOOK_VARIABLE"),
        ({"values": ["short"]}, "a secret is shorter than 6 characters"),
        ({"values": "a-string-not-a-list"}, "env and values are lists"),
        ({"tokens": False}, "no secret to redact"),
    ],
)
def test_redact_secrets_refuses_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        redact_secrets(**options)


def test_audit_log_appends_a_line_per_call(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        audit_log("logs/audit.jsonl", working_directory=tmp_path)
    hook = audit_log("audit.jsonl", working_directory=tmp_path)
    assert hook({"toolName": "view", "toolArgs": {"path": "a"}}, INVOCATION) is None
    hook({"toolName": "view", "toolArgs": {"path": "a"}, "error": "no such file"}, INVOCATION)
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(line["hook"], line["session_id"], line.get("error")) for line in lines] == [
        ("pre_tool_use", "s-1", None),
        ("post_tool_use_failure", "s-1", "no such file"),
    ]


def hooks_of(*handlers: tuple[str, Any]) -> tuple[TaskHooks, list[HookDecision]]:
    decisions: list[HookDecision] = []
    refs = [HookRef(kind, f"m:{index}", handler) for index, (kind, handler) in enumerate(handlers)]
    return TaskHooks(refs, decisions.append), decisions


@pytest.mark.anyio
async def test_a_chain_passes_changes_on_and_stops_at_a_denial() -> None:
    seen: list[Any] = []

    def rewrite(hook_input: dict[str, Any], _: Any) -> dict[str, Any]:
        return {"modifiedArgs": {"n": hook_input["toolArgs"]["n"] + 1}, "additionalContext": "a"}

    async def deny(hook_input: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.append(hook_input["toolArgs"])
        return {
            "permissionDecision": "deny",
            "permissionDecisionReason": "no",
            "additionalContext": "b",
        }

    def never(hook_input: dict[str, Any], _: Any) -> None:
        raise AssertionError("called after a denial")

    hooks, decisions = hooks_of(
        ("pre_tool_use", rewrite), ("pre_tool_use", deny), ("pre_tool_use", never)
    )
    [chain] = hooks.session_hooks().values()
    output = await chain({"toolName": "t", "toolArgs": {"n": 1}}, INVOCATION)
    assert seen == [{"n": 2}]
    assert output == {
        "modifiedArgs": {"n": 2},
        "permissionDecision": "deny",
        "permissionDecisionReason": "no",
        "additionalContext": "a\n\nb",
    }
    assert [(d.handler, d.decision, d.reason) for d in decisions] == [
        ("m:0", "modify_arguments", None),
        ("m:0", "add_context", None),
        ("m:1", "deny", "no"),
        ("m:1", "add_context", "no"),
    ]
    hooks.raise_failure()  # nothing raised


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("pre_tool_use", {"permissionDecision": "deny",
                          "permissionDecisionReason": "a hook of the job file failed (m:0)"}),
        ("post_tool_use", {"modifiedResult": {"textResultForLlm": WITHHELD,
                                              "resultType": "failure"}}),
        ("session_start", None),
    ],
)  # fmt: skip
async def test_a_hook_that_raises_is_made_safe_and_fails_the_task(
    kind: str, expected: dict[str, Any] | None
) -> None:
    def broken(hook_input: dict[str, Any], _: Any) -> None:
        raise KeyError("toolArgs")

    hooks, decisions = hooks_of((kind, broken))
    [chain] = hooks.session_hooks().values()
    assert await chain({"toolName": "t"}, INVOCATION) == expected
    assert [(d.decision, d.reason) for d in decisions] == [("raised", "KeyError: 'toolArgs'")]
    with pytest.raises(HookFailed, match=r"hook .* m:0 raised KeyError"):
        hooks.raise_failure()


@pytest.mark.anyio
async def test_a_hook_returning_something_else_than_a_dict_fails() -> None:
    hooks, decisions = hooks_of(("agent_stop", lambda hook_input, invocation: "block"))
    [chain] = hooks.session_hooks().values()
    assert await chain({}, INVOCATION) is None
    assert decisions[0].reason == "TypeError: a hook returns a dict or None, not str"
