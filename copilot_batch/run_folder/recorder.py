"""The one writer of a run folder while its run lasts: run.json at the start and the end,
each attempt's result.json, a task's changes.patch, the events' writer, the reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from structlog.typing import FilteringBoundLogger

from ..errors import RunFolderError, TaskCancelled
from ..jobfile import JobSpec, TaskSpec
from ..records import RunStatus, TaskResult, TaskStatus
from .events import EventLogWriter
from .layout import RunFolder
from .reports import write_reports
from .run_record import run_record


@dataclass(frozen=True)
class RunHeader:
    """What run.json says of a run besides its tasks: its job files, options and
    environment, its first start; for a resume, the earlier runs' kept task entries (ok and
    unchanged), their task order, the resumes' starts and the wall time they took."""

    jobs: Sequence[JobSpec]
    options: Mapping[str, Any]
    environment: Mapping[str, Any]
    started_at: datetime
    kept: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    order: Sequence[str] = ()
    resumed_at: Sequence[str] = ()
    earlier_seconds: float | None = None


class RunRecorder:
    """Records one run into its folder. ``results`` holds every task's latest result,
    redacted; it is what run.json lists (after the kept tasks of a resume)."""

    def __init__(self, folder: RunFolder, header: RunHeader, tasks: Sequence[TaskSpec]) -> None:
        self.folder = folder
        self._header = header
        self._environment = dict(header.environment)
        self._this_run_started_at = datetime.now(UTC)
        # The tasks as the job files expand them: not in a workspace, not --replay's provider.
        self._tasks = {task.id: task for task in tasks}
        self.results = {task.id: TaskResult(task=task) for task in tasks}
        self._concurrency: Mapping[str, int] | None = None
        self._cli_restarts = 0
        self._cli_recycled = 0
        self._input_keys: Mapping[str, str] = {}

    def start(self) -> None:
        """run.json says the run is ``running``."""
        self._write_run_json(RunStatus.RUNNING, failure=None)

    def event_log(self) -> EventLogWriter:
        """The writer of every task's events.jsonl (run it in the run's task group)."""
        return EventLogWriter(self.folder)

    def clients_started(self, clients: int, github_login: bool | None) -> None:
        """How many CLI clients the run has, and whether they look for a GitHub login
        (``None``: a server started by someone else, which does as it was told)."""
        self._environment["clients"] = clients
        if github_login is not None:
            self._environment["github_login"] = github_login

    def clients_stopped(
        self, cli_restarts: int, cli_recycled: int, concurrency: Mapping[str, int]
    ) -> None:
        """What the clients went through: CLI restarts, CLI processes recycled, the adaptive
        limit's figures."""
        self._cli_restarts = cli_restarts
        self._cli_recycled = cli_recycled
        self._concurrency = concurrency

    def changes(self, task_id: str, patch: str) -> str:
        """Write a task's changes as tasks/<id>/changes.patch; its path in the run folder."""
        path = self.folder.patch_path(task_id)
        self.folder.write_text(path, patch)
        return path.relative_to(self.folder.path).as_posix()

    def input_keys(self, keys: Mapping[str, str]) -> None:
        """The tasks' input keys (an incremental run), recorded with their results."""
        self._input_keys = keys

    async def reused(self, result: TaskResult, patch: str | None) -> None:
        """Write a task an incremental run reused: its result.json and the patch copied."""
        if patch:
            result.patch = self.changes(result.task.id, patch)
        await self.attempt_ended(result)

    async def attempt_ended(self, result: TaskResult) -> None:
        """Write an attempt's result.json, against the task as its job file expands it."""
        result.task = self._tasks[result.task.id]
        result.input_key = self._input_keys.get(result.task.id)
        # Mask credentials once, here, before the terminal, run.json or result.json see them.
        result.redact(self.folder.redactor)
        self.results[result.task.id] = result
        # In a worker thread, so the fsync does not stall every other session's events.
        await anyio.to_thread.run_sync(self._write_result, result)

    def finish(
        self, status: RunStatus, failure: str | None, stop_reason: str, log: FilteringBoundLogger
    ) -> dict[str, Any]:
        """The run's end: the CLI's state retired, tasks that never started ``cancelled``
        (when the run stopped early, ``stop_reason`` says why), the final run.json, the
        reports. Returns run.json's content."""
        self.folder.retire_copilot_home()
        if status is not RunStatus.FINISHED:
            for result in self.results.values():
                if result.status is TaskStatus.PENDING:
                    result.fail(TaskStatus.CANCELLED, TaskCancelled(stop_reason, started=False))
                    self._write_result(result)
        record = self._write_run_json(status, failure)
        try:
            write_reports(self.folder.path)
        except (OSError, ValueError, RunFolderError) as error:  # run.json is written
            log.error("writing reports failed", error=repr(error))
        return record

    def _write_result(self, result: TaskResult) -> None:
        record = result.to_record(with_spec=True)
        self.folder.write_json(self.folder.result_path(result.task.id), record)

    def _write_run_json(self, status: RunStatus, failure: str | None) -> dict[str, Any]:
        header = self._header
        record = run_record(
            run_id=self.folder.run_id,
            state=status,
            started_at=header.started_at,
            finished_at=None if status is RunStatus.RUNNING else datetime.now(UTC),
            jobs=header.jobs,
            options=header.options,
            environment=self._environment,
            records=[
                self.results[task_id].to_record()
                if task_id in self.results
                else header.kept[task_id]
                for task_id in header.order or list(self.results)
            ],
            failure=failure,
            resumed_at=header.resumed_at,
            concurrency=self._concurrency,
            cli_restarts=self._cli_restarts,
            cli_recycled=self._cli_recycled,
            earlier_seconds=header.earlier_seconds,
            resumed_from=self._this_run_started_at if header.resumed_at else None,
        )
        self.folder.write_json(self.folder.run_json, record)
        return record
