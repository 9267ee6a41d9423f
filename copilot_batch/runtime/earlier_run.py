"""What a resumed run keeps from its earlier runs, and the wall time they took."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..records import RunStatus
from ..run_folder.reader import StoredRun


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


def wall_time_so_far(run: StoredRun) -> float:
    """The wall time an earlier run accounts for: its ``duration_seconds``. A run killed
    before writing its end (still ``running``) holds only its earlier runs' time there; its
    own part counts from its start to the last task end it recorded."""
    total = run.duration_seconds or 0.0
    if run.state is not RunStatus.RUNNING:
        return total
    last_start = datetime.fromisoformat(run.resumed_at[-1]) if run.resumed_at else run.started_at
    later = [end for task in run.tasks if (end := task.finished_at) and end > last_start]
    return total + (max(later) - last_start).total_seconds() if later else total
