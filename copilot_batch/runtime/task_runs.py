"""Running a run's tasks: one task group under the run's limits, and each task's attempts
in fresh sessions (and workspaces), with retries, a replaced CLI, and a record of each."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from structlog.typing import FilteringBoundLogger

from ..errors import CliCrashedError, WorkspaceError
from ..jobfile import TaskSpec
from ..records import TaskResult, TaskStatus
from ..run_folder.events import EventLogWriter, EventSink
from .clients import ClientPool
from .concurrency import AdaptiveLimit
from .run_state import RunObserver, RunState, failed, stop_reason
from .session import run_task_session
from .workspaces import Workspace, WorkspaceManager

EXIT_OK, EXIT_TASKS_FAILED, EXIT_INTERRUPTED = 0, 1, 130
# The error_type of an attempt cut short because the Copilot CLI process died.
CLI_GONE = "CliProcessExited"


async def run_tasks(
    clients: ClientPool,
    tasks: Sequence[TaskSpec],
    state: RunState,
    log: FilteringBoundLogger,
    observer: RunObserver | None,
) -> None:
    concurrency = state.concurrency = AdaptiveLimit(state.options.concurrency, log)
    workspaces = WorkspaceManager(state.folder.path, state.folder.run_id)
    writer = EventLogWriter(state.folder)

    async def record(result: TaskResult, final: bool) -> None:
        """Write the attempt's result.json; a task's last (``final``) attempt ends the task."""
        if result.status is TaskStatus.CANCELLED:
            result.error = f"{stop_reason(state)} before the task finished"
        # Mask credentials once, here, before the terminal, run.json or result.json see them.
        result.redact(state.folder.redactor)
        state.results[result.task.id] = result
        # In a worker thread, so the fsync does not stall every other session's events.
        await anyio.to_thread.run_sync(
            state.folder.write_json,
            state.folder.result_path(result.task.id),
            result.to_record(with_spec=True),
        )
        if not final:
            return
        log.info(
            "task finished", task_id=result.task.id, status=str(result.status), error=result.error
        )
        if observer is not None:
            observer.task_finished(result)

    async def record_changes(result: TaskResult, workspace: Workspace) -> None:
        """Save what the task changed in its workspace as tasks/<id>/changes.patch."""
        result.workspace = workspace.to_record()
        try:
            changes = await workspaces.finish(workspace)
        except (WorkspaceError, OSError) as error:
            log.error("collecting changes failed", task_id=result.task.id, error=str(error))
            if result.status is TaskStatus.OK:
                failed(result, TaskStatus.ERROR, error)
            return
        result.changed_files = changes.files
        if changes.patch:
            patch = state.folder.task_dir(result.task.id) / "changes.patch"
            state.folder.write_text(patch, changes.patch)
            result.patch = patch.relative_to(state.folder.path).as_posix()

    async def run_one(task: TaskSpec, sink: EventSink) -> None:
        # Bound explicitly, not through contextvars: the SDK calls the task's event and
        # permission callbacks from its own dispatch, outside this task's context.
        task_log = log.bind(task_id=task.id)
        with sink:
            async with concurrency.limiter:
                task_log.info("task started")
                if observer is not None:
                    observer.task_started(task)
                # A resumed task keeps its earlier attempts and numbers on from them.
                earlier = list(state.earlier.attempts.get(task.id, []))
                try_number = 1
                while True:
                    attempt = len(earlier) + 1
                    sink.attempt = attempt
                    result = await run_attempt(task, sink, task_log, attempt, try_number, earlier)
                    if result.error_type == CLI_GONE and not clients.gave_up:
                        earlier.append(result.attempt_record())  # on the new CLI, uncounted
                        continue
                    if not _will_retry(result, try_number):
                        return
                    try_number += 1
                    earlier.append(result.attempt_record())
                    delay = retry_delay(try_number, *task.retry_backoff)
                    task_log.warning(
                        "retrying after a transient failure",
                        attempt=attempt + 1,
                        after_seconds=round(delay, 2),
                        error=result.error,
                    )
                    await anyio.sleep(delay)

    async def run_attempt(
        task: TaskSpec,
        sink: EventSink,
        task_log: FilteringBoundLogger,
        attempt: int,
        try_number: int,
        earlier: list[dict[str, Any]],
    ) -> TaskResult:
        """One try at a task, in a fresh session (and workspace) on the least-loaded client;
        its result is recorded."""
        with clients.placed() as member:
            recorded: list[TaskResult] = []
            workspace: Workspace | None = None
            client, generation = await member.ready()

            async def record_attempt(result: TaskResult) -> None:
                if (
                    generation in member.crashed_generations
                    and result.status is TaskStatus.CANCELLED
                ):
                    result.status, result.error_type = TaskStatus.ERROR, CLI_GONE
                    result.error = "the Copilot CLI process exited during the task" + (
                        "" if clients.gave_up else "; it runs again on a new one"
                    )
                # The job's task as written: not the workspace, not --replay's provider.
                result.task = state.specs[task.id]
                result.attempt, result.attempts = attempt, list(earlier)
                if workspace is not None:
                    await record_changes(result, workspace)
                recorded.append(result)
                again = result.error_type == CLI_GONE and not clients.gave_up
                await record(result, final=not (again or _will_retry(result, try_number)))

            try:
                workspace = await workspaces.prepare(task, attempt)
            except (WorkspaceError, OSError) as error:
                unstarted = TaskResult(task=task, started_at=datetime.now(UTC))
                failed(unstarted, TaskStatus.ERROR, error)
                unstarted.finished_at = datetime.now(UTC)
                await record_attempt(unstarted)
                return unstarted
            in_workspace = (
                dataclasses.replace(task, working_directory=workspace.path)
                if workspace is not None
                else task
            )
            with member.attempt(generation):
                await run_task_session(
                    client,
                    in_workspace,
                    sink,
                    task_log,
                    record_attempt,
                    attempt,
                    on_rate_limited=concurrency.rate_limited,
                    on_activity=(
                        partial(observer.task_activity, task.id) if observer is not None else None
                    ),
                    copilot_home=member.copilot_home,
                )
            return recorded[-1]

    crash: list[CliCrashedError] = []

    async def supervise() -> None:
        # Raised here, the error would reach run_batch wrapped in exception groups.
        try:
            await clients.watch()
        except CliCrashedError as error:
            crash.append(error)
            tasks_scope.cancel()

    async with anyio.create_task_group() as run_group:
        run_group.start_soon(writer.run)
        async with _interruptible(state, log), writer:
            if state.options.run_timeout is not None:
                state.run_deadline = anyio.current_time() + state.options.run_timeout
            with (
                anyio.CancelScope(deadline=state.run_deadline) as limit,
                anyio.CancelScope() as tasks_scope,
            ):
                async with anyio.create_task_group() as adaptive:
                    adaptive.start_soon(concurrency.raise_when_quiet)
                    adaptive.start_soon(supervise)
                    async with anyio.create_task_group() as tasks_group:
                        for task in tasks:
                            tasks_group.start_soon(run_one, task, writer.sink(task.id))
                    adaptive.cancel_scope.cancel()
            if limit.cancelled_caught:
                log.warning("run_timeout expired", seconds=state.options.run_timeout)
                state.timed_out = True
    if crash:
        raise crash[0]


@asynccontextmanager
async def _interruptible(
    state: RunState, log: FilteringBoundLogger
) -> AsyncIterator[anyio.CancelScope | None]:
    """With ``handle_signals``, the first SIGINT or SIGTERM cancels the tasks in this block."""
    if not state.options.handle_signals:
        yield None
        return
    # The watcher runs outside the scope it cancels, to hear a second signal too.
    async with anyio.create_task_group() as watcher_group:
        with anyio.CancelScope() as scope:

            async def watch() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        name = signal.Signals(signum).name
                        if state.interrupted:
                            # The second signal: leave now. Every file on disk is whole
                            # (atomic writes); run.json may still say "running".
                            log.warning("interrupted again; exiting at once", signal=name)
                            os._exit(EXIT_INTERRUPTED)
                        log.warning("interrupted", signal=name)
                        state.interrupted = True
                        scope.cancel()

            watcher_group.start_soon(watch)
            try:
                yield scope
            finally:
                watcher_group.cancel_scope.cancel()


def _will_retry(result: TaskResult, try_number: int) -> bool:
    """Whether this run tries the task again: a transient failure, with retries left."""
    return result.transient and try_number <= result.task.retries


def retry_delay(attempt: int, initial: float, maximum: float) -> float:
    """The wait after failed attempt ``attempt``: exponential backoff with full jitter, a
    random time up to min(maximum, initial × 2^(attempt-1)), so retries spread out."""
    return random.uniform(0, min(maximum, initial * 2 ** (attempt - 1)))
