"""git-worktree workspaces with real git: a branch is kept only when it holds changes, and
what a killed run left in the repository never blocks the next run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from git_helpers import branches, git, worktrees

from copilot_batch import TaskSpec, load_jobs
from copilot_batch.errors import WorkspaceError
from copilot_batch.runtime.workspaces import WorkspaceManager

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "project").mkdir(parents=True)
    (repo / "project" / "notes.txt").write_text("status: draft\n")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    return repo


@pytest.fixture
def task(tmp_path: Path, repository: Path) -> TaskSpec:
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\n"
        "tasks: [{id: t, prompt: x, workspace: git-worktree, working_directory: repo/project}]\n"
    )
    [loaded] = load_jobs([job])
    return loaded.tasks[0]


async def test_a_branch_without_changes_is_deleted_one_with_changes_stays(
    tmp_path: Path, repository: Path, task: TaskSpec
) -> None:
    manager = WorkspaceManager(tmp_path / "runs" / "r1", "r1")
    quiet = await manager.prepare(task, attempt=1)
    busy = await manager.prepare(task, attempt=2)
    assert quiet is not None and busy is not None
    assert branches(repository) == ["copilot-batch/r1/t", "copilot-batch/r1/t-attempt-2"]
    assert quiet.to_record()["copied_files"] == 1
    assert quiet.to_record()["copied_bytes"] == len("status: draft\n")

    (busy.path / "notes.txt").write_text("status: done\n")
    assert (await manager.finish(quiet)).files == []
    assert (await manager.finish(busy)).files == ["project/notes.txt"]
    assert branches(repository) == ["copilot-batch/r1/t-attempt-2"]
    assert git("show", "copilot-batch/r1/t-attempt-2:project/notes.txt", cwd=repository) == (
        "status: done\n"
    )
    assert worktrees(repository) == [str(repository)]


async def test_commits_the_agent_made_itself_are_in_the_patch(
    tmp_path: Path, repository: Path, task: TaskSpec
) -> None:
    manager = WorkspaceManager(tmp_path / "runs" / "r1", "r1")
    workspace = await manager.prepare(task)
    assert workspace is not None
    (workspace.path / "notes.txt").write_text("status: committed\n")
    git("commit", "-q", "-am", "the agent's own commit", cwd=workspace.path)
    changes = await manager.finish(workspace)
    assert changes.files == ["project/notes.txt"]
    assert "+status: committed" in changes.patch
    assert branches(repository) == ["copilot-batch/r1/t"]


async def test_a_killed_runs_worktree_never_blocks_a_new_run_of_the_same_id(
    tmp_path: Path, repository: Path, task: TaskSpec
) -> None:
    """Killed mid-task, then its run folder deleted: git still lists the worktree and the
    branch exists. The same --run-id again works: stale entries are pruned first."""
    run = tmp_path / "runs" / "r1"
    await WorkspaceManager(run, "r1").prepare(task)
    shutil.rmtree(run)
    workspace = await WorkspaceManager(run, "r1").prepare(task)
    assert workspace is not None and (workspace.path / "notes.txt").is_file()
    assert worktrees(repository) == [str(repository), str(workspace.root)]


async def test_resume_after_a_kill_makes_the_same_workspace_again(
    tmp_path: Path, repository: Path, task: TaskSpec
) -> None:
    """The run folder is still there (resume): the leftover worktree of the attempt that
    was running is replaced by a fresh one."""
    run = tmp_path / "runs" / "r1"
    left = await WorkspaceManager(run, "r1").prepare(task)
    assert left is not None
    (left.path / "half-done.txt").write_text("from the killed run\n")
    workspace = await WorkspaceManager(run, "r1").prepare(task)
    assert workspace is not None and not (workspace.path / "half-done.txt").exists()
    assert branches(repository) == ["copilot-batch/r1/t"]


async def test_a_leftover_branch_holding_a_commit_is_never_deleted(
    tmp_path: Path, repository: Path, task: TaskSpec
) -> None:
    run = tmp_path / "runs" / "r1"
    left = await WorkspaceManager(run, "r1").prepare(task)
    assert left is not None
    (left.path / "notes.txt").write_text("status: result\n")
    git("commit", "-q", "-am", "a result", cwd=left.path)
    with pytest.raises(WorkspaceError, match="already exists"):
        await WorkspaceManager(run, "r1").prepare(task)
    assert git("show", "copilot-batch/r1/t:project/notes.txt", cwd=repository) == (
        "status: result\n"
    )
