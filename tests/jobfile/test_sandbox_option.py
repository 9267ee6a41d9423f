"""The sandbox task option: true, false or a policy (templates over the matrix), checked
when the job file is loaded; which tasks may run shell commands without a sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading import load, problems

from copilot_batch import TaskSpec, load_jobs
from copilot_batch.cli import main
from copilot_batch.jobfile import SandboxPolicy, may_run_shell, unsandboxed_shell_tasks


def test_true_a_policy_and_false_and_the_default_replaced(tmp_path: Path) -> None:
    tasks = load(
        tmp_path,
        "version: 1\n"
        "defaults: {sandbox: true}\n"
        "matrix: {lib: [a, b]}\n"
        "tasks:\n"
        "  - {id: 'plain-{{ lib }}', prompt: x}\n"
        "  - id: 'policy-{{ lib }}'\n"
        "    prompt: x\n"
        "    sandbox:\n"
        "      filesystem: {read_only: ['../{{ lib }}'], read_write: [build], denied: [~/.netrc]}\n"
        "      network: {outbound: true, allowed_hosts: ['{{ lib }}.example.org']}\n"
        "  - {id: 'off-{{ lib }}', prompt: x, sandbox: false}\n",
    )
    by_id = {task.id: task.sandbox for task in tasks}
    assert by_id["plain-a"] == SandboxPolicy()
    assert by_id["policy-b"] == SandboxPolicy(
        read_only=("../b",),
        read_write=("build",),
        denied=("~/.netrc",),
        outbound=True,
        allowed_hosts=("b.example.org",),
    )
    assert by_id["off-a"] is None
    assert tasks[0].describe()["sandbox"]["network"] == {
        "outbound": False,
        "local_network": False,
        "allowed_hosts": [],
        "blocked_hosts": [],
    }


def test_no_sandbox_by_default(tmp_path: Path) -> None:
    [task] = load(tmp_path, "version: 1\ntasks: [{id: a, prompt: x}]\n")
    assert task.sandbox is None and task.describe()["sandbox"] is None


@pytest.mark.parametrize(
    ("sandbox", "expected"),
    [
        ("yes", "3:33: $.tasks[0].sandbox: invalid value 'yes'"),
        (
            "{network: {outbound: 1}}",
            "3:54: $.tasks[0].sandbox.network.outbound: must be a boolean",
        ),
        ("{filesystem: {hidden: [x]}}", "3:47: $.tasks[0].sandbox.filesystem.hidden: unknown key"),
        ("{network: {allowed_hosts: [a.org]}}", "3:59: $.tasks[0].sandbox.network.allowed_hosts:"),
        (
            "{filesystem: {denied: ['{{ nope }}']}}",
            "3:56: $.tasks[0].sandbox.filesystem.denied[0]: template error",
        ),
    ],
)
def test_bad_policies_are_reported_at_their_place(
    tmp_path: Path, sandbox: str, expected: str
) -> None:
    text = f"version: 1\ntasks:\n  - {{id: a, prompt: x, sandbox: {sandbox}}}\n"
    [problem] = problems(tmp_path, text)
    assert problem.startswith(expected), problem


def test_hosts_need_a_connection_the_sandbox_lets_through(tmp_path: Path) -> None:
    text = (
        "version: 1\ntasks:\n  - {id: a, prompt: x, sandbox: {network: {blocked_hosts: [a.org]}}}\n"
    )
    [problem] = problems(tmp_path, text)
    assert "set outbound: true" in problem


# Paths without braces (which would be templates) or control characters (refused in YAML).
_PATH = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="{}"),
    min_size=1,
    max_size=20,
)
_POLICIES = st.fixed_dictionaries(
    {},
    optional={
        "filesystem": st.fixed_dictionaries(
            {}, optional={key: st.lists(_PATH, max_size=3) for key in ("read_only", "denied")}
        ),
        "network": st.fixed_dictionaries(
            {"outbound": st.just(True)},
            optional={"local_network": st.booleans(), "blocked_hosts": st.lists(_PATH, max_size=2)},
        ),
    },
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=_POLICIES)
def test_any_policy_loads_as_written(tmp_path: Path, policy: dict[str, Any]) -> None:
    job = {"version": 1, "tasks": [{"id": "a", "prompt": "x", "sandbox": policy}]}
    [task] = load(tmp_path, json.dumps(job, ensure_ascii=False))  # JSON is YAML
    assert task.sandbox is not None
    described = task.sandbox.describe()
    for key, values in policy.get("filesystem", {}).items():
        assert described["filesystem"][key] == values
    assert described["network"]["outbound"] is ("network" in policy)


def task_with(tmp_path: Path, options: str) -> TaskSpec:
    [task] = load(tmp_path, f"version: 1\ntasks: [{{id: a, prompt: x, {options}}}]\n")
    return task


@pytest.mark.parametrize(
    ("options", "may"),
    [
        ("permissions: approve-all", True),
        ("permissions: deny-all", False),
        ("permissions: {rules: [{kind: shell, commands: ['pytest*'], action: allow}]}", True),
        ("permissions: {default: allow, rules: [{kind: shell, action: deny}]}", False),
        (
            "permissions: {default: allow, rules: [{kind: shell, commands: [rm*], action: deny}]}",
            True,
        ),
        ("permissions: approve-all, tools: {excluded: [bash]}", False),
        ("permissions: approve-all, tools: {available: [view]}", False),
        ("permissions: approve-all, tools: {available: [bash]}", True),
    ],
)
def test_which_tasks_may_run_shell_commands(tmp_path: Path, options: str, may: bool) -> None:
    assert may_run_shell(task_with(tmp_path, options)) is may


def test_a_sandboxed_task_is_not_unconfined(tmp_path: Path) -> None:
    [job] = load_jobs([write(tmp_path, "sandbox: true")], environ={})
    assert unsandboxed_shell_tasks(job) == []
    [job] = load_jobs([write(tmp_path, "sandbox: false")], environ={})
    assert [task.id for task in unsandboxed_shell_tasks(job)] == ["a", "b"]


def write(folder: Path, sandbox: str) -> Path:
    path = folder / "job.yaml"
    path.write_text(
        f"version: 1\nname: nightly\ndefaults: {{permissions: approve-all, {sandbox}}}\n"
        "tasks: [{id: a, prompt: x}, {id: b, prompt: y}]\n"
    )
    return path


def test_run_warns_once_per_job_of_shell_commands_without_a_sandbox(tmp_path: Path) -> None:
    path = write(tmp_path, "sandbox: false")
    result = CliRunner().invoke(main, ["run", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: job nightly ({path}): 2 task(s) may run shell commands (their permissions "
        "allow it) without a sandbox; add `sandbox: true` to confine them"
    ]
    sandboxed = CliRunner().invoke(
        main, ["run", str(write(tmp_path, "sandbox: true")), "--dry-run"]
    )
    assert sandboxed.stderr == ""
