"""Isolated workspaces: where a task's agent works, and the patch of what it changed.

``copy`` copies the task's working directory to ``<run>/workspaces/<task-id>`` and makes
the copy a throwaway git repository whose first commit is the baseline. ``git-worktree``
adds a worktree of the working directory's repository there, on a new branch
``copilot-batch/<run-id>/<task-id>``; the task's changes become one commit on that branch
and the worktree is removed; a copy is removed too. Either way the changes are kept as a
unified diff (``tasks/<id>/changes.patch``) that ``git apply`` brings back to the source,
which is never touched while the run lasts.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..errors import PatchApplyError, RunFolderError, WorkspaceError
from ..output.run_reader import read_result, read_run
from ..spec import TaskSpec

# Commits in workspaces are the tool's own: no hooks, no signing, a fixed author.
_GIT_CONFIG = (
    "-c", "user.name=copilot-batch", "-c", "user.email=copilot-batch@localhost",
    "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
)  # fmt: skip


@dataclass(frozen=True)
class Workspace:
    """Where one task works. ``patch_root`` is the folder the patch's paths start from."""

    mode: str
    source: Path  # the task's working directory, as the job file names it
    path: Path  # the session's working directory
    root: Path  # the workspace's git top level
    patch_root: Path
    branch: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "source": str(self.source),
            "path": str(self.path),
            "patch_root": str(self.patch_root),
            "branch": self.branch,
        }


@dataclass(frozen=True)
class Changes:
    patch: str
    files: list[str]


async def git(*arguments: str, cwd: Path) -> str:
    """Run git; its stdout, or WorkspaceError with its stderr."""
    finished = await anyio.run_process(["git", *_GIT_CONFIG, *arguments], cwd=cwd, check=False)
    if finished.returncode != 0:
        command = " ".join(["git", *arguments])
        raise WorkspaceError(command, cwd, finished.stderr.decode(errors="replace").strip())
    return finished.stdout.decode(errors="replace")


async def repository_top(directory: Path) -> Path | None:
    try:
        return Path((await git("rev-parse", "--show-toplevel", cwd=directory)).strip())
    except WorkspaceError:
        return None


class WorkspaceManager:
    """Makes and collects the run's workspaces under ``<run>/workspaces/``."""

    def __init__(self, run_path: Path, run_id: str) -> None:
        # Absolute: git runs in other directories (the repository, the workspace).
        self._folder = run_path.resolve() / "workspaces"
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
            await anyio.to_thread.run_sync(_copy_tree, task.working_directory, destination)
            await git("init", "-q", cwd=destination)
            await git("add", "-A", cwd=destination)
            await git("commit", "-q", "--allow-empty", "-m", "baseline", cwd=destination)
            return Workspace("copy", task.working_directory, destination, destination,
                             patch_root=task.working_directory)  # fmt: skip
        top = await repository_top(task.working_directory)
        if top is None:
            raise WorkspaceError("git rev-parse", task.working_directory, "not a git repository")
        branch = f"copilot-batch/{self._run_id}/{name}"
        async with self._lock(top):
            await git("worktree", "add", "-q", "-b", branch, str(destination), "HEAD", cwd=top)
        inside = task.working_directory.resolve().relative_to(top.resolve())
        return Workspace("git-worktree", task.working_directory, destination / inside,
                         destination, patch_root=top, branch=branch)  # fmt: skip

    async def finish(self, workspace: Workspace) -> Changes:
        """The workspace's changes since it was made; a worktree keeps them as a commit on
        its branch and is removed."""
        root = workspace.root
        await git("add", "-A", cwd=root)
        patch = await git("diff", "--cached", "--binary", "HEAD", cwd=root)
        files = (await git("diff", "--cached", "--name-only", "HEAD", cwd=root)).splitlines()
        if workspace.mode == "git-worktree":
            if files:
                message = f"copilot-batch: changes of task {root.name}"
                await git("commit", "-q", "-m", message, cwd=root)
            async with self._lock(workspace.patch_root):
                await git("worktree", "remove", "--force", str(root), cwd=workspace.patch_root)
        else:
            # The patch is what the task produced; the copy would only use up disk.
            await anyio.to_thread.run_sync(shutil.rmtree, root)
        return Changes(patch=patch, files=files)

    def _lock(self, repository: Path) -> anyio.Lock:
        return self._repository_locks.setdefault(repository.resolve(), anyio.Lock())


def _copy_tree(source: Path, destination: Path) -> None:
    # The source's own git metadata is not copied: the copy gets a repository of its own.
    shutil.copytree(source, destination, symlinks=True, ignore=shutil.ignore_patterns(".git"))


async def apply_patch(patch_file: Path, patch_root: Path) -> None:
    """Apply a task's patch to its source; refuse, changing nothing, if it does not apply.

    Inside a repository ``git apply`` reads paths from the top level and silently skips
    others, so it runs there with ``--directory`` pointing at ``patch_root``.
    """
    top = await repository_top(patch_root)
    cwd, prefix = patch_root, []
    if top is not None:
        inside = patch_root.resolve().relative_to(top.resolve())
        cwd = top
        if str(inside) != ".":
            prefix = [f"--directory={inside.as_posix()}"]
    try:
        await git("apply", "--check", *prefix, str(patch_file.resolve()), cwd=cwd)
        await git("apply", *prefix, str(patch_file.resolve()), cwd=cwd)
    except WorkspaceError as error:
        raise PatchApplyError(patch_file, patch_root, error.stderr) from None


@dataclass(frozen=True)
class AppliedPatch:
    """One task's patch brought back to its source, or why it was not."""

    task_id: str
    files: list[str]
    error: PatchApplyError | None = None


async def apply_run(run_path: Path, only: Sequence[str] = ()) -> list[AppliedPatch]:
    """Apply the patches of a run's ``ok`` tasks (those matching ``only``) to their sources,
    in run order. A patch that does not apply is refused and the others still go ahead.
    Every patch is found (and the run folder checked) before the first is applied."""
    applied: list[AppliedPatch] = []
    for patch in patches_of(run_path, only):
        try:
            await apply_patch(patch.file, patch.root)
        except PatchApplyError as error:
            applied.append(AppliedPatch(patch.task_id, patch.files, error))
        else:
            applied.append(AppliedPatch(patch.task_id, patch.files))
    return applied


@dataclass(frozen=True)
class TaskPatch:
    """A task's changes.patch, the folder it applies to, and the files it changes."""

    task_id: str
    file: Path
    root: Path
    files: list[str]


def patches_of(run_path: Path, only: Sequence[str] = ()) -> list[TaskPatch]:
    """The patches of the run's ``ok`` tasks matching ``only``, in run order."""
    patches = []
    for entry in read_run(run_path).tasks:
        task_id = entry["id"]
        if entry["status"] != "ok" or not entry.get("patch"):
            continue
        if only and not any(fnmatch.fnmatchcase(task_id, pattern) for pattern in only):
            continue
        result_file = run_path / "tasks" / task_id / "result.json"
        record = read_result(run_path, task_id)
        if record is None:
            raise RunFolderError(result_file, "is missing: the task has a patch")
        if not record.get("workspace") or not record.get("patch"):
            problem = "names no workspace (patch_root) and patch, though run.json lists a patch"
            raise RunFolderError(result_file, problem)
        patch_file = run_path / record["patch"]
        if not patch_file.is_file():
            raise RunFolderError(patch_file, "is missing or not a file")
        root = Path(record["workspace"]["patch_root"])
        if not (root.is_absolute() and root.is_dir()):
            problem = f"{str(root)!r} is not the absolute path of a folder"
            raise RunFolderError(result_file, problem, "$.workspace.patch_root")
        patches.append(TaskPatch(task_id, patch_file, root, record.get("changed_files", [])))
    return patches
