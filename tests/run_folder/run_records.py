"""Run folders written from records, in the shape copilot-batch writes, for tests that need
many of them quickly (the real runs are in tests/runtime and the fuzz test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
STARTED = "2026-01-02T03:04:05+00:00"
FINISHED = "2026-01-02T03:05:05+00:00"


def task_record(task_id: str, status: str = "ok", **fields: Any) -> dict[str, Any]:
    """A task's result.json (run.json lists the same record)."""
    record: dict[str, Any] = {
        "id": task_id,
        "job": "demo",
        "status": status,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "duration_seconds": 1.5,
        "final_message": None,
        "usage": {**dict.fromkeys(USAGE_KEYS, 0), "input_tokens": 10, "total_tokens": 10},
        "tool_calls": 1,
        "permission_denials": 0,
        "error": None,
        "error_type": None,
        "attempt": 1,
        "output": None,
        "changed_files": [],
        "patch": None,
        "matrix": {"n": task_id},
    }
    record.update(fields)
    return record


def write_run(
    folder: Path, records: list[dict[str, Any]], state: str = "finished", **fields: Any
) -> Path:
    """``folder`` as a run folder holding ``records``; ``fields`` change run.json."""
    run: dict[str, Any] = {
        "run_id": folder.name,
        "state": state,
        "failure": None,
        "started_at": STARTED,
        "finished_at": None if state == "running" else FINISHED,
        "duration_seconds": None if state == "running" else 60.0,
        "job_files": [{"path": "/jobs/demo.yaml", "name": "demo", "sha256": "ab" * 32}],
        "options": {"only": [], "shard": None},
        "environment": {},
        "tasks": records,
        **fields,
    }
    (folder / "tasks").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(run, indent=2))
    for record in records:
        (folder / "tasks" / record["id"]).mkdir()
        (folder / "tasks" / record["id"] / "result.json").write_text(json.dumps(record))
    return folder
