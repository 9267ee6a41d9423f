"""Resuming a run: the tasks that did not end ok, or whose spec changed, run again in the
same folder; the others keep their results, and every task keeps its earlier attempts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import RunFolderError
from ..jobfile import load_jobs
from ..records import TaskStatus
from ..redact import Redactor
from ..run_folder.layout import RunFolder
from ..run_folder.reader import StoredRun, read_result, read_run
from .earlier_run import EarlierRun, wall_time_so_far
from .observer import RunObserver
from .options import RunOptions
from .runner import RunResult, run_in_folder, select_tasks
from .shards import Shard, parse_shard


async def resume_run(
    run_path: Path, options: RunOptions, observer: RunObserver | None = None
) -> RunResult:
    """Run again, into ``run_path``, what its run did not finish. The job files are read
    again from the paths run.json names; ``--only`` and ``--shard`` are the run's own."""
    run = read_run(run_path)
    jobs = load_jobs(run.job_paths)
    only, shard = _recorded_selection(run)
    tasks = select_tasks(jobs, only, shard)
    entries = {entry.id: entry.record for entry in run.tasks}

    kept: dict[str, dict[str, Any]] = {}
    attempts: dict[str, list[dict[str, Any]]] = {}
    again = []
    for task in tasks:
        before = read_result(run_path, task.id)
        if (
            before is not None
            and before.status is TaskStatus.OK
            and before.spec_hash == task.spec_hash()
            and task.id in entries
        ):
            kept[task.id] = entries[task.id]
            continue
        again.append(task)
        if before is not None:
            attempts[task.id] = before.attempts

    earlier = EarlierRun(
        kept=kept,
        attempts=attempts,
        order=[task.id for task in tasks],
        started_at=run.started_at,
        resumed_at=(*run.resumed_at, datetime.now(UTC).isoformat()),
        duration_seconds=wall_time_so_far(run),
    )
    folder = RunFolder(run_path, Redactor.for_run(s for task in tasks for s in task.secrets))
    options = dataclasses.replace(
        options, out_dir=run_path.parent, run_id=run_path.name, only=only, shard=shard
    )
    return await run_in_folder(jobs, again, options, observer, resumed=(folder, earlier))


def _recorded_selection(run: StoredRun) -> tuple[tuple[str, ...], Shard | None]:
    """The run's own ``--only`` and ``--shard``, as run.json recorded them."""
    try:
        shard = parse_shard(run.shard) if run.shard else None
    except ValueError as error:
        raise RunFolderError(
            RunFolder.ended(run.path).run_json, str(error), "$.options.shard"
        ) from None
    return run.only, shard
