"""Merging the run folders of a job's shards into one run folder, with its reports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import MergeError, RunNotFoundError
from .atomic import write_text_atomic
from .report import totals
from .reports import write_reports
from .run_folder import new_run_id

# How the merged run ended: the worst of its shards' states.
_STATE_ORDER = ("finished", "interrupted", "failed", "running")


def merge_runs(run_paths: Sequence[Path], out_dir: Path, run_id: str | None = None) -> Path:
    """Combine shard run folders into ``out_dir/<run-id>``; return its path.

    Refuses shards of different job files (paths and sha256) and shards sharing a task.
    """
    runs = [_read_run(path) for path in run_paths]
    job_files = [_job_file_set(run) for run in runs]
    if any(files != job_files[0] for files in job_files[1:]):
        raise MergeError("the shards ran different job files", [run["run_id"] for run in runs])
    owner: dict[str, str] = {}
    for run in runs:
        for task in run["tasks"]:
            if task["id"] in owner:
                raise MergeError(
                    f"task {task['id']!r} is in more than one shard",
                    [owner[task["id"]], run["run_id"]],
                )
            owner[task["id"]] = run["run_id"]

    merged = out_dir / (run_id or new_run_id())
    merged.mkdir(parents=True, exist_ok=False)
    for path, run in zip(run_paths, runs, strict=True):
        for task in run["tasks"]:
            source = path / "tasks" / task["id"]
            if source.is_dir():
                shutil.copytree(source, merged / "tasks" / task["id"])
        if (path / "cli-logs").is_dir():
            shutil.copytree(path / "cli-logs", merged / "cli-logs" / run["run_id"])
    record = _merged_record(merged.name, runs)
    write_text_atomic(merged / "run.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    write_reports(merged)
    return merged


def _read_run(path: Path) -> dict[str, Any]:
    try:
        run: dict[str, Any] = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunNotFoundError(str(path)) from None
    return run


def _job_file_set(run: dict[str, Any]) -> set[tuple[str, str]]:
    return {(job["path"], job["sha256"]) for job in run["job_files"]}


def _merged_record(run_id: str, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    tasks = [task for run in runs for task in run["tasks"]]
    started = min(datetime.fromisoformat(run["started_at"]) for run in runs)
    finished_times = [run["finished_at"] for run in runs]
    finished = (
        max(datetime.fromisoformat(moment) for moment in finished_times)
        if all(finished_times)
        else None
    )
    state = max((run["state"] for run in runs), key=_STATE_ORDER.index)
    failures = [f"{run['run_id']}: {run['failure']}" for run in runs if run.get("failure")]
    return {
        "run_id": run_id,
        "state": state,
        "failure": "; ".join(failures) or None,
        "merged_from": [run["run_id"] for run in runs],
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "duration_seconds": round((finished - started).total_seconds(), 3) if finished else None,
        "job_files": runs[0]["job_files"],
        "options": {"shards": [run["options"] for run in runs]},
        "environment": runs[0]["environment"],
        "totals": totals(tasks),
        "tasks": tasks,
    }
