"""Resuming a run: the tasks that did not end ok, or whose spec changed, run again in the
same folder; the others keep their results, and every task keeps its earlier attempts."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import RunNotFoundError
from ..output.redact import Redactor
from ..output.run_folder import RunFolder
from ..spec import load_jobs
from .run_state import EarlierRun, RunObserver, RunOptions, wall_time_so_far
from .runner import RunResult, execute_run, select_tasks
from .shards import parse_shard


async def resume_run(
    run_path: Path, options: RunOptions, observer: RunObserver | None = None
) -> RunResult:
    """Run again, into ``run_path``, what its run did not finish. The job files are read
    again from the paths run.json names; ``--only`` and ``--shard`` are the run's own."""
    try:
        run: dict[str, Any] = json.loads((run_path / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunNotFoundError(str(run_path)) from None
    jobs = load_jobs([job["path"] for job in run["job_files"]])
    recorded = run["options"]
    shard = parse_shard(recorded["shard"]) if recorded.get("shard") else None
    only = tuple(recorded.get("only") or ())
    tasks = select_tasks(jobs, only, shard)
    entries = {entry["id"]: entry for entry in run["tasks"]}

    kept: dict[str, dict[str, Any]] = {}
    attempts: dict[str, list[dict[str, Any]]] = {}
    again = []
    for task in tasks:
        result_file = run_path / "tasks" / task.id / "result.json"
        before = json.loads(result_file.read_text("utf-8")) if result_file.is_file() else None
        if (
            before is not None
            and before["status"] == "ok"
            and before.get("spec_hash") == task.spec_hash()
            and task.id in entries
        ):
            kept[task.id] = entries[task.id]
            continue
        again.append(task)
        if before is not None:
            attempts[task.id] = before.get("attempts", [])

    earlier = EarlierRun(
        kept=kept,
        attempts=attempts,
        order=[task.id for task in tasks],
        started_at=datetime.fromisoformat(run["started_at"]),
        resumed_at=(*run.get("resumed_at", []), datetime.now(UTC).isoformat()),
        duration_seconds=wall_time_so_far(run),
    )
    folder = RunFolder(run_path, Redactor.for_run(s for task in tasks for s in task.secrets))
    options = dataclasses.replace(
        options, out_dir=run_path.parent, run_id=run_path.name, only=only, shard=shard
    )
    return await execute_run(jobs, again, folder, options, observer, earlier)
