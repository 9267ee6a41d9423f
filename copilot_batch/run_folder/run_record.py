"""The content of run.json: the run, its options and environment, its tasks and totals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..jobfile import JobSpec
from ..records import TaskStatus, Usage


def totals(tasks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts by status and summed usage over task records, as run.json's ``totals``."""
    by_status = Counter(task["status"] for task in tasks)
    usages = [Usage.from_record(task["usage"]) for task in tasks]
    summed = Usage()
    for usage in usages:
        summed.add(usage)
    return {
        "tasks": len(tasks),
        **{str(status): by_status.get(str(status), 0) for status in TaskStatus},
        # What the providers reported (a lower bound while tasks_without_usage > 0), the
        # model calls they reported nothing for, and the estimate of those.
        **{key: value for key, value in summed.to_record().items() if key != "reported"},
        "tasks_without_usage": sum(1 for usage in usages if not usage.reported),
        "tool_calls": sum(task["tool_calls"] for task in tasks),
        "permission_denials": sum(task["permission_denials"] for task in tasks),
        # ok tasks an incremental run took from an earlier run instead of running them
        "reused": sum(1 for task in tasks if task.get("reused_from")),
        # Runs made before the sandbox existed have no count.
        "sandbox_denials": sum(task.get("sandbox_denials", 0) for task in tasks),
        "hook_decisions": sum(task.get("hook_decisions", 0) for task in tasks),
        "questions": sum(task.get("questions", 0) for task in tasks),
        # The model's 429s, over every attempt (runs before the count have none).
        "rate_limited": sum(task.get("rate_limited", 0) for task in tasks),
    }


# How many of the tasks that spent most the cost drivers name.
MOST_EXPENSIVE = 5


def cost(tasks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's cost drivers, as run.json's ``cost``: tokens by model, the tasks that spent
    most tokens, and the premium requests and AI credits the usage events reported (None
    when none did)."""
    by_model: dict[str, Usage] = {}
    for task in tasks:
        for model, usage in task.get("usage_by_model", {}).items():
            by_model.setdefault(model, Usage()).add(Usage.from_record(usage))
    # Ranked by what limits count: the reported tokens plus the estimate of unreported ones.
    spent = [(task["id"], Usage.from_record(task["usage"])) for task in tasks]
    ranked = sorted(spent, key=lambda item: -item[1].counted_tokens)[:MOST_EXPENSIVE]
    return {
        "tokens_by_model": {model: usage.to_record() for model, usage in by_model.items()},
        "most_expensive": [
            {
                "id": task_id,
                "total_tokens": usage.total_tokens,
                "estimated_tokens": usage.estimated_tokens,
            }
            for task_id, usage in ranked
            if usage.counted_tokens
        ],
        "premium_requests": _sum_reported(task.get("premium_requests") for task in tasks),
        "ai_credits": _sum_reported(task.get("ai_credits") for task in tasks),
    }


def _sum_reported(values: Iterable[float | None]) -> float | None:
    reported = [value for value in values if value is not None]
    return round(sum(reported), 6) if reported else None


def run_record(
    *,
    run_id: str,
    state: str,
    started_at: datetime,
    finished_at: datetime | None,
    jobs: Sequence[JobSpec],
    options: Mapping[str, Any],
    environment: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    failure: str | None = None,
    resumed_at: Sequence[str] = (),
    concurrency: Mapping[str, int] | None = None,
    cli_restarts: int = 0,
    cli_recycled: int = 0,
    earlier_seconds: float | None = None,
    resumed_from: datetime | None = None,
) -> dict[str, Any]:
    """The content of run.json. ``state`` is running, finished, budget_exhausted,
    interrupted, timed_out or failed (the run could not start its client; ``failure`` says
    why). ``records`` are the
    tasks' entries (``TaskResult.to_record()``), kept ones from before a resume included.

    A resume, started at ``resumed_from``, adds its own wall time to ``earlier_seconds``,
    the earlier runs' (the time between runs is not counted); while it lasts, the duration
    is ``earlier_seconds`` alone, so a resume killed before its end loses only its own."""
    return {
        "run_id": run_id,
        "state": state,
        "failure": failure,
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat() if finished_at else None,
        "duration_seconds": _duration(resumed_from or started_at, finished_at, earlier_seconds),
        "job_files": [
            {"path": str(job.path), "name": job.name, "sha256": job.sha256, "tasks": len(job.tasks)}
            for job in jobs
        ],
        "options": dict(options),
        "environment": dict(environment),
        "resumed_at": list(resumed_at),
        "concurrency": dict(concurrency) if concurrency else None,
        "cli_restarts": cli_restarts,
        "cli_recycled": cli_recycled,
        "totals": totals(records),
        "cost": cost(records),
        "tasks": list(records),
    }


def _duration(
    started_at: datetime, finished_at: datetime | None, earlier_seconds: float | None
) -> float | None:
    if finished_at is None:
        return earlier_seconds
    return round((earlier_seconds or 0.0) + (finished_at - started_at).total_seconds(), 3)
