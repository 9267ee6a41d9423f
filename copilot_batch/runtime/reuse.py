"""Incremental runs: a task whose input key an earlier ``ok`` run recorded is not run
again; its result, answer, output and patch are copied from the latest such run found
under the cache folder (``--out``, or ``--cache-from``), read through the run folder's
reader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from structlog.typing import FilteringBoundLogger

from ..errors import RunFolderError
from ..git import repository_top
from ..jobfile import TaskSpec
from ..records import TaskResult, TaskStatus
from ..run_folder.reader import StoredTask, read_patch, read_result, read_run, runs_under


@dataclass(frozen=True)
class Reusable:
    """An earlier run's ok result of a task with the same input key, and its patch."""

    run_id: str
    result: StoredTask
    patch: str | None


@dataclass(frozen=True)
class _Found:
    run_path: Path
    finished_at: datetime


def find_reusable(
    cache: Path, keys: Mapping[str, str], this_run: Path, log: FilteringBoundLogger
) -> dict[str, Reusable]:
    """For each task id of ``keys``, the latest ok result with the same input key among
    the runs in ``cache`` (not ``this_run``). A run folder that cannot be read is passed
    over (logged), and so is a result whose files cannot."""
    latest: dict[str, _Found] = {}
    for run_path in runs_under(cache):
        if run_path.resolve() == this_run.resolve():
            continue
        try:
            run = read_run(run_path)
        except RunFolderError as error:
            log.warning("incremental: an earlier run cannot be read", error=str(error))
            continue
        for task in run.tasks:
            found = _Found(run_path, task.finished_at or run.started_at)
            if (
                task.status is TaskStatus.OK
                and task.input_key is not None
                and keys.get(task.id) == task.input_key
                and (task.id not in latest or latest[task.id].finished_at < found.finished_at)
            ):
                latest[task.id] = found
    reusable = {}
    for task_id, found in latest.items():
        try:
            reusable[task_id] = _read_reusable(found.run_path, task_id)
        except RunFolderError as error:
            log.warning("incremental: an earlier result cannot be read", error=str(error))
    return reusable


def _read_reusable(run_path: Path, task_id: str) -> Reusable:
    result = read_result(run_path, task_id)
    if result is None:
        raise RunFolderError(run_path / "tasks" / task_id, "has no result.json")
    return Reusable(run_path.name, result, read_patch(run_path, result))


async def reused_result(task: TaskSpec, earlier: Reusable, key: str) -> TaskResult:
    """The task's result in this run: ok, its answer, output and changed files copied,
    ``reused_from`` the earlier run. It took no time, tokens or tool calls here. Its patch
    applies where the task's own would (the source, as it is on this machine)."""
    record, now = earlier.result.record, datetime.now(UTC)
    workspace = record.get("workspace")
    if workspace is not None:
        workspace = {**workspace, "patch_root": str(await _patch_root(task))}
    return TaskResult(
        task=task,
        status=TaskStatus.OK,
        started_at=now,
        finished_at=now,
        final_message=record.get("final_message"),
        output=record.get("output"),
        workspace=workspace,
        changed_files=list(record.get("changed_files", [])),
        attempt=0,
        input_key=key,
        reused_from=earlier.run_id,
    )


async def _patch_root(task: TaskSpec) -> Path:
    """Where a patch of the task applies: the working directory of a copy, the top of the
    repository of a worktree."""
    if task.workspace == "git-worktree":
        top = await repository_top(task.working_directory)
        if top is not None:
            return top
    return task.working_directory
