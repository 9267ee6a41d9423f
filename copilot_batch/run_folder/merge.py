"""Merging the run folders of a job's shards into one run folder, with its reports.

The merged folder is built under a temporary name beside its destination and renamed into
place once whole, so a merge that fails leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MergeError, RunFolderError
from .layout import RunFolder, new_run_id
from .reader import RUN_STATES, StoredRun, read_run
from .reports import write_reports
from .run_record import cost, totals


def merge_runs(run_paths: Sequence[Path], out_dir: Path, run_id: str | None = None) -> Path:
    """Combine shard run folders into ``out_dir/<run-id>``; return its path.

    Refuses shards of different job files (paths and sha256) and shards sharing a task.
    Every shard's files are read and checked before anything is written.
    """
    runs = [read_run(path) for path in run_paths]
    for run in runs:
        run.results()  # each result.json is checked now, not half-way through the copy
    _check_belong_together(runs)
    merged = out_dir / (run_id or new_run_id())
    if os.path.lexists(merged):
        raise MergeError(f"{merged} already exists", [run.path for run in runs])
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{merged.name}.", suffix=".merging", dir=out_dir))
    except OSError as error:
        reason = f"cannot write in {out_dir}: {error.strerror or error}"
        raise MergeError(reason, [run.path for run in runs]) from None
    try:
        RunFolder.ended(building).tasks_dir.mkdir()
        _copy_shards(runs, building)
        written = RunFolder.ended(building)
        written.write_json(written.run_json, _merged_record(merged.name, runs))
        write_reports(building)
        building.rename(merged)
    except OSError as error:  # the disk, $GITHUB_STEP_SUMMARY: nothing half-made is left
        shutil.rmtree(building, ignore_errors=True)
        reason = f"writing {merged} failed: {error.strerror or error}"
        raise MergeError(reason, [run.path for run in runs]) from None
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return merged


def _check_belong_together(runs: Sequence[StoredRun]) -> None:
    job_files = [_job_file_set(run) for run in runs]
    if any(files != job_files[0] for files in job_files[1:]):
        raise MergeError("the shards ran different job files", [run.path for run in runs])
    owner: dict[str, Path] = {}
    for run in runs:
        for task in run.tasks:
            if task.id in owner:
                reason = f"task {task.id!r} is in more than one shard"
                raise MergeError(reason, [owner[task.id], run.path])
            owner[task.id] = run.path


def _copy_shards(runs: Sequence[StoredRun], building: Path) -> None:
    """The shards' task folders and CLI logs, into the folder being built."""
    built = RunFolder.ended(building)
    for run in runs:
        shard = RunFolder.ended(run.path)
        for task in run.tasks:
            if shard.task_dir(task.id).is_dir():
                _copy(shard.task_dir(task.id), built.task_dir(task.id))
        if shard.cli_logs.is_dir():
            _copy(shard.cli_logs, built.cli_logs / run.run_id)


def _copy(source: Path, destination: Path) -> None:
    try:
        shutil.copytree(source, destination)
    except shutil.Error as error:  # (source, destination, why) per file that failed
        failures = error.args[0] if error.args and isinstance(error.args[0], list) else []
        why = failures[0][-1] if failures and isinstance(failures[0], tuple) else error
        raise RunFolderError(source, f"cannot be copied: {why}") from None
    except OSError as error:
        raise RunFolderError(source, f"cannot be copied: {error.strerror or error}") from None


def _job_file_set(run: StoredRun) -> set[tuple[str, str]]:
    return {(job["path"], job["sha256"]) for job in run.record["job_files"]}


def _merged_record(run_id: str, runs: Sequence[StoredRun]) -> dict[str, Any]:
    tasks = [task.record for run in runs for task in run.tasks]
    started = min(run.started_at for run in runs)
    finished_times = [run.finished_at for run in runs]
    finished = max(t for t in finished_times if t) if all(finished_times) else None
    # The merged run ended as its worst shard did.
    state = max((run.state for run in runs), key=RUN_STATES.index)
    failures = [f"{run.run_id}: {run.failure}" for run in runs if run.failure]
    return {
        "run_id": run_id,
        "state": str(state),
        "failure": "; ".join(failures) or None,
        "merged_from": [run.run_id for run in runs],
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "duration_seconds": round((finished - started).total_seconds(), 3) if finished else None,
        "job_files": runs[0].record["job_files"],
        "options": {"shards": [run.record.get("options") for run in runs]},
        "environment": runs[0].record.get("environment"),
        "totals": totals(tasks),
        "cost": cost(tasks),
        "tasks": tasks,
    }
