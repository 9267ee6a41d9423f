"""What a resumed run keeps from its earlier runs, and the wall time they took."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EarlierRun:
    """What a resumed run keeps from before: the tasks that ended ok and are unchanged
    (their run.json entries), every task's earlier attempts, the task order, the start,
    and the wall time the earlier runs took (``None`` when there were none)."""

    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    resumed_at: tuple[str, ...] = ()
    duration_seconds: float | None = None


def wall_time_so_far(run: Mapping[str, Any]) -> float:
    """The wall time an earlier run.json accounts for: its ``duration_seconds``. A run
    killed before writing its end (still ``running``) holds only its earlier runs' time
    there; its own part counts from its start to the last task end it recorded."""
    recorded = run.get("duration_seconds")
    total = float(recorded) if isinstance(recorded, int | float) else 0.0
    if run.get("state") != "running":
        return total
    starts = [run.get("started_at"), *(run.get("resumed_at") or [])]
    last_start = _time(starts[-1])
    ends = [_time(task.get("finished_at")) for task in run.get("tasks") or []]
    later = [end for end in ends if end and last_start and end > last_start]
    if last_start is None or not later:
        return total
    return total + (max(later) - last_start).total_seconds()


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
