"""``copilot-batch apply``: bring the patches of a run's ``ok`` tasks back to their
sources with ``git apply``, or find them already there."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import PatchApplyError, RunFolderError, WorkspaceError
from ..git import git, git_succeeds, repository_top
from ..records import TaskStatus
from .layout import RunFolder
from .reader import StoredTask, read_result, read_run


async def apply_patch(patch_file: Path, patch_root: Path) -> bool:
    """Apply a task's patch to its source; refuse, changing nothing, if it does not apply.
    ``False`` when the changes are already there (the patch applies in reverse): an
    ``apply`` run twice.

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
    patch = str(patch_file.resolve())
    try:
        await git("apply", "--check", *prefix, patch, cwd=cwd)
    except WorkspaceError as error:
        if await git_succeeds("apply", "--reverse", "--check", *prefix, patch, cwd=cwd):
            return False
        raise PatchApplyError(patch_file, patch_root, error.stderr) from None
    try:
        await git("apply", *prefix, patch, cwd=cwd)
    except WorkspaceError as error:
        raise PatchApplyError(patch_file, patch_root, error.stderr) from None
    return True


@dataclass(frozen=True)
class AppliedPatch:
    """One task's patch brought back to its source, or why it was not."""

    task_id: str
    files: list[str]
    error: PatchApplyError | None = None
    already_applied: bool = False


async def apply_run(run_path: Path, only: Sequence[str] = ()) -> list[AppliedPatch]:
    """Apply the patches of a run's ``ok`` tasks (those matching ``only``) to their sources,
    in run order. A patch that does not apply is refused and the others still go ahead.
    Every patch is found (and the run folder checked) before the first is applied."""
    applied: list[AppliedPatch] = []
    for patch in patches_of(run_path, only):
        try:
            done = await apply_patch(patch.file, patch.root)
        except PatchApplyError as error:
            applied.append(AppliedPatch(patch.task_id, patch.files, error))
        else:
            applied.append(AppliedPatch(patch.task_id, patch.files, already_applied=not done))
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
    return [
        _patch_of(run_path, task)
        for task in read_run(run_path).tasks
        if task.status is TaskStatus.OK
        and task.patch
        and (not only or any(fnmatch.fnmatchcase(task.id, pattern) for pattern in only))
    ]


def _patch_of(run_path: Path, task: StoredTask) -> TaskPatch:
    """The task's patch, from its result.json, checked to be there with its folder."""
    result_file = RunFolder.ended(run_path).result_path(task.id)
    record = read_result(run_path, task.id)
    if record is None:
        raise RunFolderError(result_file, "is missing: the task has a patch")
    if record.patch_root is None or not record.patch:
        problem = "names no workspace (patch_root) and patch, though run.json lists a patch"
        raise RunFolderError(result_file, problem)
    patch_file = run_path / record.patch
    if not patch_file.is_file():
        raise RunFolderError(patch_file, "is missing or not a file")
    root = Path(record.patch_root)
    if not (root.is_absolute() and root.is_dir()):
        problem = f"{str(root)!r} is not the absolute path of a folder"
        raise RunFolderError(result_file, problem, "$.workspace.patch_root")
    return TaskPatch(task.id, patch_file, root, record.changed_files)
