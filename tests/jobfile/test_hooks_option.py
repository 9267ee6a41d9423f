"""``hooks``, ``ask_user`` and a permission rule's ``feedback`` in job files: what a task
gets, and each mistake at its line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.jobfile.loading import load, problems

HOOKS_MODULE = """
def deny(hook_input, invocation):
    return {"permissionDecision": "deny"}

def one_argument(hook_input):
    return None

NOT_A_FUNCTION = 42

def guard(prefix, working_directory, task_id):
    if not prefix:
        raise ValueError("prefix must not be empty")
    def check(hook_input, invocation):
        return None
    check.secrets = [prefix * 3]
    check.made_for = (working_directory, task_id)
    return check
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "job_hooks.py").write_text(textwrap.dedent(HOOKS_MODULE))
    return tmp_path


def job(options: str) -> str:
    body = textwrap.indent(textwrap.dedent(options).strip(), "    ")
    head = "version: 1\ntasks:\n  - id: t-{{ n }}\n    prompt: go\n    matrix: {n: [1, 2]}\n"
    return f"{head}{body}\n"


def test_hooks_are_imported_factories_called_and_their_secrets_kept(folder: Path) -> None:
    tasks = load(
        folder,
        job("""
            hooks:
              pre_tool_use: [job_hooks:deny, {use: job_hooks:guard, with: {prefix: "k{{ n }}"}}]
              session_end: [job_hooks:deny]
            ask_user: {answer: "answer {{ n }}"}
        """),
    )
    first = tasks[0]
    assert [(ref.kind, ref.import_path) for ref in first.hooks] == [
        ("pre_tool_use", "job_hooks:deny"),
        ("pre_tool_use", "job_hooks:guard"),
        ("session_end", "job_hooks:deny"),
    ]
    assert first.hooks[1].handler.made_for == (folder.resolve(), "t-1")  # type: ignore[attr-defined]
    assert "k1k1k1" in first.secrets
    assert [task.ask_user_answer for task in tasks] == ["answer 1", "answer 2"]
    assert first.describe()["hooks"] == {
        "pre_tool_use": ["job_hooks:deny", {"use": "job_hooks:guard", "with": {"prefix": "k1"}}],
        "session_end": ["job_hooks:deny"],
    }
    assert first.describe()["ask_user"] == {"answer": "answer 1"}


def test_without_hooks_or_ask_user_the_spec_says_nothing_of_them(folder: Path) -> None:
    [task, _] = load(folder, job("model: gpt-4.1"))
    assert task.hooks == () and task.ask_user_answer is None
    assert "hooks" not in task.describe() and "ask_user" not in task.describe()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            "hooks: {pre_tool_use: [job_hooks:missing]}",
            "6:28: $.tasks[0].hooks.pre_tool_use[0]: module 'job_hooks' has no attribute 'missing'",
        ),
        (
            "hooks: {pre_tool_use: [no_such_module:deny]}",
            "6:28: $.tasks[0].hooks.pre_tool_use[0]: cannot import module 'no_such_module': "
            "ModuleNotFoundError: No module named 'no_such_module'",
        ),
        (
            "hooks: {agent_stop: [job_hooks:NOT_A_FUNCTION]}",
            "6:26: $.tasks[0].hooks.agent_stop[0]: 'job_hooks:NOT_A_FUNCTION' is not a "
            "function (it is int)",
        ),
        (
            "hooks: {post_tool_use: [job_hooks:one_argument]}",
            "6:29: $.tasks[0].hooks.post_tool_use[0]: 'job_hooks:one_argument' cannot be called "
            "as a hook: it must take two arguments, the hook's input and the invocation "
            "(pass options with {use: ..., with: ...})",
        ),
        (
            'hooks: {pre_tool_use: [{use: job_hooks:guard, with: {prefix: ""}}]}',
            "6:28: $.tasks[0].hooks.pre_tool_use[0]: hook factory 'job_hooks:guard': prefix "
            "must not be empty",
        ),
        (
            "hooks: {pre_tool_use: [{use: copilot_batch.hooks:redact_secrets, "
            "with: {env: [NOPE_X]}}]}",
            "6:28: $.tasks[0].hooks.pre_tool_use[0]: hook factory "
            "'copilot_batch.hooks:redact_secrets': environment variable(s) not set: NOPE_X",
        ),
        (
            "ask_user: {answer: '{{ nope.x }}'}",
            "6:24: $.tasks[0].ask_user.answer: template error: 'nope' is undefined (variables: n)",
        ),
        (
            "permissions: {rules: [{kind: read, action: allow, feedback: why}]}",
            "6:55: $.tasks[0].permissions.rules[0].feedback: only a deny rule has feedback: it is "
            "what the agent is told on denial",
        ),
    ],
)
def test_each_mistake_is_named_at_its_place(folder: Path, options: str, expected: str) -> None:
    found = problems(folder, job(options))
    assert found[0] == expected, found


def test_the_schema_refuses_unknown_hook_kinds_and_empty_lists(folder: Path) -> None:
    [unknown] = problems(folder, job("hooks: {on_tool: [job_hooks:deny]}"))
    assert unknown.startswith("6:13: $.tasks[0].hooks.on_tool: unknown key 'on_tool'"), unknown
    [empty] = problems(folder, job("hooks: {pre_tool_use: []}"))
    assert empty.startswith("6:27: $.tasks[0].hooks.pre_tool_use"), empty


def test_a_deny_rule_keeps_its_feedback(folder: Path) -> None:
    [task, _] = load(
        folder,
        job("""
            permissions:
              rules:
                - {kind: read, action: deny, feedback: Not today.}
                - {kind: write, action: deny, feedback: none}
        """),
    )
    assert [rule.feedback for rule in task.permissions.rules] == ["Not today.", "none"]
    assert task.describe()["permissions"]["rules"][1] == {
        "kind": "write",
        "action": "deny",
        "feedback": "none",
    }
