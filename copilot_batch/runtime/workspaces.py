"""Isolated workspaces: where a task's agent works, and the patch of what it changed.

``copy`` copies what git would take from the task's working directory (never a run folder;
see ``workspace_files``) to ``<run>/workspaces/<task-id>`` and makes the copy a throwaway
git repository whose first commit is the baseline. ``git-worktree`` adds a worktree of the
working directory's repository there, on a new branch ``copilot-batch/<run-id>/<task-id>``;
the task's changes become one commit on that branch (a branch without changes is deleted)
and the worktree is removed; a copy is removed too. Either way the changes are kept as a
unified diff (``tasks/<id>/changes.patch``) that ``git apply`` brings back to the source,
which is never touched while the run lasts.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..errors import WorkspaceError
from ..git import git, git_paths, git_succeeds, repository_top
from ..jobfile import TaskSpec
from ..run_folder.layout import BRANCH_PREFIX
from .workspace_files import CopiedFiles, copy_files, files_to_copy, measure, run_folders


@dataclass(frozen=True)
class Workspace:
    """Where one task works. ``patch_root`` is the folder the patch's paths start from;
    ``base`` the commit the workspace started at."""

    mode: str
    source: Path  # the task's working directory, as the job file names it
    path: Path  # the session's working directory
    root: Path  # the workspace's git top level
    patch_root: Path
    base: str
    copied: CopiedFiles
    branch: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "source": str(self.source),
            "path": str(self.path),
            "patch_root": str(self.patch_root),
            "branch": self.branch,
            "copied_files": self.copied.files,
            "copied_bytes": self.copied.bytes,
        }


@dataclass(frozen=True)
class Changes:
    patch: str
    files: list[str]


class WorkspaceManager:
    """Makes and collects the run's workspaces under ``<run>/workspaces/``."""

    def __init__(self, run_path: Path, run_id: str) -> None:
        # Absolute: git runs in other directories (the repository, the workspace).
        self._run_path = run_path.resolve()
        self._folder = self._run_path / "workspaces"
        self._run_id = run_id
        # git worktree add/remove take locks in the shared repository: one at a time there.
        self._repository_locks: dict[Path, anyio.Lock] = {}

    async def prepare(self, task: TaskSpec, attempt: int = 1) -> Workspace | None:
        """A fresh workspace for ``task``, or ``None`` when it works in place (shared)."""
        if task.workspace == "shared":
            return None
        name = task.id if attempt == 1 else f"{task.id}-attempt-{attempt}"
        destination = self._folder / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if task.workspace == "copy":
            return await self._copy(task, destination)
        top = await repository_top(task.working_directory)
        if top is None:
            raise WorkspaceError("git rev-parse", task.working_directory, "not a git repository")
        branch = f"{BRANCH_PREFIX}/{self._run_id}/{name}"
        async with self._lock(top):
            await _clear_for_worktree(top, destination, branch)
            await git("worktree", "add", "-q", "-b", branch, str(destination), "HEAD", cwd=top)
        checked_out = await git_paths("ls-files", "-z", cwd=destination)
        copied = await anyio.to_thread.run_sync(measure, destination, checked_out)
        inside = task.working_directory.resolve().relative_to(top.resolve())
        return Workspace("git-worktree", task.working_directory, destination / inside,
                         destination, patch_root=top, base=await _head(destination),
                         copied=copied, branch=branch)  # fmt: skip

    async def _copy(self, task: TaskSpec, destination: Path) -> Workspace:
        source = task.working_directory.resolve()
        await _remove_leftover(destination)
        paths = await files_to_copy(source, self._run_folders(source), task.workspace_exclude)
        copied = await anyio.to_thread.run_sync(copy_files, source, destination, paths)
        destination.mkdir(exist_ok=True)  # a copy of nothing is still a workspace
        await git("init", "-q", cwd=destination)
        # -f: files the source tracks although a .gitignore matches them are in the baseline.
        await git("add", "-A", "-f", cwd=destination)
        await git("commit", "-q", "--allow-empty", "-m", "baseline", cwd=destination)
        return Workspace("copy", task.working_directory, destination, destination,
                         patch_root=task.working_directory, base=await _head(destination),
                         copied=copied)  # fmt: skip

    def _run_folders(self, source: Path) -> list[Path]:
        return run_folders(self._run_path, source)

    async def finish(self, workspace: Workspace) -> Changes:
        """The workspace's changes since it was made; a worktree keeps them as a commit on
        its branch (or, when there are none, loses its branch) and is removed."""
        root = workspace.root
        await git("add", "-A", cwd=root)
        # From the base, so commits the agent made itself are part of the changes too.
        patch = await git("diff", "--cached", "--binary", workspace.base, cwd=root)
        files = await git_paths("diff", "--cached", "--name-only", "-z", workspace.base, cwd=root)
        if workspace.mode == "copy":
            # The patch is what the task produced; the copy would only use up disk.
            await anyio.to_thread.run_sync(shutil.rmtree, root)
            return Changes(patch=patch, files=files)
        if not await git_succeeds("diff", "--cached", "--quiet", "HEAD", cwd=root):
            await git("commit", "-q", "-m", f"copilot-batch: changes of task {root.name}", cwd=root)
        async with self._lock(workspace.patch_root):
            await git("worktree", "remove", "--force", str(root), cwd=workspace.patch_root)
            if not files and workspace.branch is not None:
                # A branch that holds no change is no result; left, they pile up run by run.
                await git("branch", "-D", workspace.branch, cwd=workspace.patch_root)
        return Changes(patch=patch, files=files)

    def _lock(self, repository: Path) -> anyio.Lock:
        return self._repository_locks.setdefault(repository.resolve(), anyio.Lock())


async def _head(root: Path) -> str:
    return (await git("rev-parse", "HEAD", cwd=root)).strip()


async def _remove_leftover(destination: Path, repository: Path | None = None) -> None:
    """Remove a workspace of the same name that a killed run left (resume runs its attempt
    again): a worktree of ``repository``, or any folder."""
    if not destination.exists():
        return
    remove = ("worktree", "remove", "--force", "--force", str(destination))
    if repository is None or not await git_succeeds(*remove, cwd=repository):
        await anyio.to_thread.run_sync(shutil.rmtree, destination)


async def _clear_for_worktree(repository: Path, destination: Path, branch: str) -> None:
    """Clear what a killed run left in the way of a new worktree: a leftover at
    ``destination``, git's entries for worktrees whose folders are gone, and ``branch``
    itself, unless it holds a commit the repository's HEAD lacks (a result: then
    ``worktree add`` refuses, and the branch stays)."""
    await _remove_leftover(destination, repository)
    await git("worktree", "prune", cwd=repository)
    ref = f"refs/heads/{branch}"
    if await git_succeeds("rev-parse", "--verify", "--quiet", ref, cwd=repository):
        ahead = await git("rev-list", "--count", f"HEAD..{ref}", cwd=repository)
        if ahead.strip() == "0":
            await git("branch", "-D", branch, cwd=repository)
