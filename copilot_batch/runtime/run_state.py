"""The state of a run while it lasts: its options, what it keeps from an earlier run, the
tasks' results, and how its tasks end when the run stops early."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio

from ..jobfile import JobSpec, TaskSpec
from ..records import TaskResult, TaskStatus
from ..run_folder.layout import DEFAULT_OUT, RunFolder
from ..run_folder.run_record import run_record
from .clients import ClientPool
from .concurrency import AdaptiveLimit
from .shards import Shard

# Sessions at once unless told: the command line's default and the Python API's.
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class RunOptions:
    """How to run: where results go, how many sessions at once, which tasks, which CLI."""

    out_dir: Path = DEFAULT_OUT
    concurrency: int = DEFAULT_CONCURRENCY
    only: tuple[str, ...] = ()
    shard: Shard | None = None
    model: str | None = None
    cli_path: str | None = None
    cli_url: str | None = None
    run_timeout: float | None = None
    max_cli_restarts: int = 3
    clients: int | None = None  # Copilot CLI processes; None: from concurrency and CPUs
    replay: tuple[Path, ...] = ()
    run_id: str | None = None
    handle_signals: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "concurrency": self.concurrency,
            "only": list(self.only),
            "shard": str(self.shard) if self.shard else None,
            "model": self.model,
            "cli_path": self.cli_path,
            "cli_url": self.cli_url,
            "run_timeout": self.run_timeout,
            "max_cli_restarts": self.max_cli_restarts,
            "clients": self.clients,
            "replay": [str(path) for path in self.replay],
        }


class RunObserver(Protocol):
    """Told about progress, for the terminal. Called on the event loop; must not block."""

    def run_started(self, tasks: Sequence[TaskSpec], kept: int) -> None:
        """The run starts ``tasks``; ``kept`` more ended ok before and are kept (a resume)."""

    def task_started(self, task: TaskSpec) -> None: ...

    def task_finished(self, result: TaskResult) -> None: ...

    def task_activity(self, task_id: str, activity: str) -> None:
        """What a running task does now: the tool it calls, "thinking", "retrying"."""


@dataclass
class RunState:
    """Everything the parts of one run share while it lasts."""

    jobs: Sequence[JobSpec]
    options: RunOptions
    folder: RunFolder
    environment: dict[str, Any]
    started_at: datetime  # the first run's start, a resume's too
    results: dict[str, TaskResult] = field(default_factory=dict)
    specs: dict[str, TaskSpec] = field(default_factory=dict)  # as the job files expand them
    earlier: EarlierRun = field(default_factory=lambda: EarlierRun())
    interrupted: bool = False
    run_deadline: float = math.inf  # anyio.current_time() when run_timeout expires
    timed_out: bool = False  # run_timeout cancelled tasks
    concurrency: AdaptiveLimit | None = None
    clients: ClientPool | None = None
    failure: str | None = None
    this_run_started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def write_run_json(self, state: str) -> dict[str, Any]:
        finished_at = None if state == "running" else datetime.now(UTC)
        record = run_record(
            run_id=self.folder.run_id,
            state=state,
            started_at=self.started_at,
            finished_at=finished_at,
            jobs=self.jobs,
            options=self.options.to_record(),
            environment=self.environment,
            records=[
                self.results[task_id].to_record()
                if task_id in self.results
                else self.earlier.kept[task_id]
                for task_id in self.earlier.order or list(self.results)
            ],
            failure=self.failure,
            resumed_at=self.earlier.resumed_at,
            concurrency=self.concurrency.to_record() if self.concurrency else None,
            cli_restarts=self.clients.restarts if self.clients else 0,
            earlier_seconds=self.earlier.duration_seconds,
            resumed_from=self.this_run_started_at if self.earlier.resumed_at else None,
        )
        self.folder.write_json(self.folder.run_json, record)
        return record


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


def failed(result: TaskResult, status: TaskStatus, error: BaseException) -> None:
    result.status = status
    result.error = str(error)
    result.error_type = type(error).__name__


def stop_reason(state: RunState) -> str:
    """Why tasks are being cancelled. Asked while the cancellation is under way, before
    the run knows how it ended, so a passed deadline is what tells run_timeout."""
    if state.failure:
        return f"the run stopped ({state.failure})"
    if anyio.current_time() >= state.run_deadline and not state.interrupted:
        return f"the run's run_timeout of {state.options.run_timeout:g}s expired"
    return "the run was interrupted"


def mark_unstarted_cancelled(state: RunState) -> None:
    for result in state.results.values():
        if result.status is TaskStatus.PENDING:
            result.status = TaskStatus.CANCELLED
            result.error = f"{stop_reason(state)} before the task started"
            state.folder.write_json(
                state.folder.result_path(result.task.id), result.to_record(with_spec=True)
            )
