"""copilot-batch clean with real git: the branches, worktrees and workspaces folders runs
left behind, found from the run folders and removed; --dry-run, --older-than, bad input."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import anyio
import pytest
import yaml
from click.testing import CliRunner
from git_helpers import branches, git, worktrees
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch import TaskSpec, load_jobs
from copilot_batch.cli import main
from copilot_batch.redact import Redactor
from copilot_batch.run_folder.clean import parse_age
from copilot_batch.run_folder.layout import RunFolder
from copilot_batch.runtime.workspaces import WorkspaceManager
from copilot_batch.testing import answer_conversation, one_tool_conversation


def clean(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["clean", *arguments])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("status: draft\n")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    return repo


def worktree_tasks(tmp_path: Path, *ids: str) -> list[TaskSpec]:
    job = tmp_path / "job.yaml"
    tasks = [{"id": i, "prompt": f"Finish the notes for {i}."} for i in ids]
    job.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "defaults": {
                    "working_directory": "repo",
                    "workspace": "git-worktree",
                    "permissions": "approve-all",
                },
                "tasks": tasks,
            }
        )
    )
    [loaded] = load_jobs([job])
    return list(loaded.tasks)


def killed_run(run: Path) -> None:
    """What a run killed with SIGKILL leaves: run.json says running, nothing collected."""
    (run / "tasks").mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "state": "running"}))


@pytest.mark.cli
def test_clean_removes_the_branches_a_run_kept_dry_run_only_lists_them(
    tmp_path: Path, repository: Path
) -> None:
    script = tmp_path / "script.yaml"
    edit = one_tool_conversation(
        "Finish the notes for edit.",
        "edit",
        {"path": "${workdir}/notes.txt", "old_str": "draft", "new_str": "done"},
        "File ${workdir}/notes.txt updated with changes.",
        "Edited.",
    )
    look = answer_conversation("Finish the notes for look.", "Nothing to change.")
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": [edit, look]}))
    worktree_tasks(tmp_path, "edit", "look")
    runs = tmp_path / "runs"
    ran = CliRunner().invoke(
        main,
        ["run", str(tmp_path / "job.yaml"), "--replay", str(script), "--out", str(runs),
         "--run-id", "r1"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    # The task that changed nothing has no branch left; the other's is its result.
    assert branches(repository) == ["copilot-batch/r1/edit"]

    code, output = clean("r1", "--out", str(runs), "--dry-run")
    assert (code, output) == (
        0, f"{runs / 'r1'}: would remove branch copilot-batch/r1/edit in {repository}\n"
    )  # fmt: skip
    assert branches(repository) == ["copilot-batch/r1/edit"]

    code, output = clean(str(runs / "r1"))
    assert (code, output) == (
        0, f"{runs / 'r1'}: removed branch copilot-batch/r1/edit in {repository}\n"
    )  # fmt: skip
    assert branches(repository) == []
    assert (runs / "r1" / "tasks" / "edit" / "changes.patch").is_file()
    assert clean("r1", "--out", str(runs)) == (0, f"{runs / 'r1'}: nothing to remove\n")


def test_clean_removes_what_a_killed_run_left(tmp_path: Path, repository: Path) -> None:
    run = tmp_path / "runs" / "r1"
    manager = WorkspaceManager(run, "r1")
    for task in worktree_tasks(tmp_path, "a", "b"):
        anyio.run(manager.prepare, task)
    killed_run(run)
    assert len(worktrees(repository)) == 3 and len(branches(repository)) == 2

    code, output = clean(str(run))
    assert code == 0, output
    assert output.splitlines() == [
        f"{run.resolve()}: removed worktree {run.resolve()}/workspaces/{name} in {repository}"
        for name in ("a", "b")
    ] + [
        f"{run.resolve()}: removed branch copilot-batch/r1/{name} in {repository}"
        for name in ("a", "b")
    ] + [f"{run.resolve()}: removed folder {run.resolve()}/workspaces"]  # fmt: skip
    assert len(worktrees(repository)) == 1 and branches(repository) == []
    assert not (run / "workspaces").exists() and (run / "run.json").is_file()


def test_clean_of_a_merged_run_finds_its_shards_branches(tmp_path: Path, repository: Path) -> None:
    """result.json names the last attempt's branch only; the shard's id finds the others."""
    [task] = worktree_tasks(tmp_path, "t")
    manager = WorkspaceManager(tmp_path / "shards" / "s1", "s1")
    for attempt in (1, 2):
        workspace = anyio.run(manager.prepare, task, attempt)
        assert workspace is not None
        (workspace.path / "notes.txt").write_text(f"status: attempt {attempt}\n")
        anyio.run(manager.finish, workspace)
    merged = tmp_path / "runs" / "m"
    killed_run(merged)
    (merged / "run.json").write_text(json.dumps({"run_id": "m", "merged_from": ["s1"]}))
    (merged / "tasks" / "t").mkdir()
    record = {"workspace": workspace.to_record()}
    (merged / "tasks" / "t" / "result.json").write_text(json.dumps(record))
    code, output = clean(str(merged), "--dry-run")
    assert code == 0
    assert output.splitlines() == [
        f"{merged.resolve()}: would remove branch copilot-batch/s1/{name} in {repository}"
        for name in ("t", "t-attempt-2")
    ]


def test_without_run_clean_takes_the_runs_under_out_older_than_asked(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name in ("old", "new"):
        killed_run(runs / name)
        (runs / name / "workspaces" / "t").mkdir(parents=True)
    # What a killed run leaves of the CLI's state: its settings and log.
    (runs / "new" / "copilot-home" / "logs").mkdir(parents=True)
    (runs / "new" / "copilot-home" / "logs" / "process-1.log").write_text("error\n")
    eight_days_ago = time.time() - 8 * 24 * 3600
    os.utime(runs / "old" / "run.json", (eight_days_ago, eight_days_ago))
    (runs / "not-a-run").mkdir()

    old = (runs / "old").resolve()
    code, output = clean("--out", str(runs), "--older-than", "7d", "--dry-run")
    assert (code, output) == (0, f"{old}: would remove folder {old}/workspaces\n")
    code, output = clean("--out", str(runs))
    assert code == 0 and output.count(": removed folder ") == 3
    assert not (runs / "old" / "workspaces").exists() and not (runs / "new" / "workspaces").exists()
    assert not (runs / "new" / "copilot-home").exists()
    assert clean("--out", str(tmp_path / "none")) == (
        0,
        f"no runs to clean in {tmp_path / 'none'}\n",
    )


def test_a_bad_run_or_age_is_exit_2_a_run_in_use_is_skipped(tmp_path: Path) -> None:
    code, output = clean("nope", "--out", str(tmp_path))
    assert (code, output) == (2, "error: no run folder (with a run.json) at nope\n")
    code, output = clean("--older-than", "a week")
    assert code == 2
    assert "Invalid value for '--older-than': invalid age 'a week': use days, hours" in output

    run = tmp_path / "r1"
    killed_run(run)
    with RunFolder(run, Redactor(())).locked():
        code, output = clean(str(run))
    assert code == 1
    assert output == (
        f"skipped {run}: run folder {run.resolve()} is in use by another copilot-batch process\n"
    )


def test_ages_are_durations_that_may_start_with_days() -> None:
    assert parse_age("7d") == 7 * 24 * 3600
    assert parse_age("1d12h") == 36 * 3600
    assert parse_age("90m") == 90 * 60
    for bad in ("", "d", "0d", "7 days", "-1d", "1d-1h", "1d1d"):
        with pytest.raises(ValueError):
            parse_age(bad)


@given(st.text(max_size=30))
def test_an_age_is_a_positive_number_of_seconds_or_a_value_error(text: str) -> None:
    try:
        seconds = parse_age(text)
    except ValueError as error:
        assert str(error)
    else:
        assert seconds > 0


@pytest.mark.timeout(60)  # a FIFO read as a file would wait for a writer forever
def test_clean_passes_over_a_fifo_where_a_record_should_be(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "r"
    killed_run(run)
    (run / "tasks" / "t").mkdir()
    os.mkfifo(run / "tasks" / "t" / "result.json")
    (run / "workspaces" / "t").mkdir(parents=True)
    code, output = clean(str(run))
    assert (code, output) == (0, f"{run.resolve()}: removed folder {run.resolve()}/workspaces\n")
