"""workspace_exclude in job files: gitignore patterns, checked when the file is loaded."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading import load, problems

from copilot_batch import JobFilesInvalid


def test_defaults_apply_and_a_task_replaces_them(tmp_path: Path) -> None:
    tasks = load(
        tmp_path,
        "version: 1\n"
        "defaults: {workspace: copy, workspace_exclude: [node_modules/, '*.log']}\n"
        "tasks:\n"
        "  - {id: a, prompt: x}\n"
        "  - {id: b, prompt: x, workspace_exclude: [/data/]}\n",
    )
    assert [task.workspace_exclude for task in tasks] == [("node_modules/", "*.log"), ("/data/",)]
    assert tasks[0].describe()["workspace_exclude"] == ["node_modules/", "*.log"]


def test_patterns_git_would_refuse_are_reported_where_they_are(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        "version: 1\n"
        "defaults: {workspace_exclude: ['\\']}\n"
        "tasks:\n"
        "  - id: a\n"
        "    prompt: x\n"
        "    workspace_exclude: [ok/, '!', '[z-a]']\n"
        "  - {id: b, prompt: x}\n",
    ) == [
        "2:32: $.defaults.workspace_exclude[0]: not a gitignore pattern: "
        "Invalid git pattern: '\\\\'",
        "6:30: $.tasks[0].workspace_exclude[1]: not a gitignore pattern: Invalid git pattern: '!'",
        "6:35: $.tasks[0].workspace_exclude[2]: not a gitignore pattern: bad character range "
        "z-a at position 10",
    ]


def test_a_list_of_non_empty_strings_is_required(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "version: 1\n"
        "tasks:\n"
        "  - {id: b, prompt: x, workspace_exclude: build/}\n"
        "  - {id: c, prompt: x, workspace_exclude: ['']}\n",
    )
    assert [problem.split(": ")[:2] for problem in found] == [
        ["3:43", "$.tasks[0].workspace_exclude"],
        ["4:44", "$.tasks[1].workspace_exclude[0]"],
    ]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patterns=st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12)))
def test_any_patterns_load_or_are_reported(tmp_path: Path, patterns: list[str]) -> None:
    job = {"version": 1, "tasks": [{"id": "a", "prompt": "x", "workspace_exclude": patterns}]}
    try:
        [task] = load(tmp_path, json.dumps(job, ensure_ascii=False))
    except JobFilesInvalid as invalid:
        assert all("workspace_exclude" in str(error) for error in invalid.errors)
    else:
        assert task.workspace_exclude == tuple(patterns)
