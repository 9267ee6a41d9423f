"""Running a run's tasks. A task goes through a chain of layers, one concern each, the
methods of :class:`TaskRunner`, outermost first:

- ``run``: the limiter: a slot among the run's sessions, and none once the run's token
  budget is spent; the task's event sink closed after.
- ``_run_with_retries``: attempts until :func:`next_step` says done, with backoff between.
- ``_run_recorded``: every attempt that started is recorded, even as the run stops.
- ``_run_on_client``: the least-loaded client, once a restart or recycling of it has
  finished, its CLI process held to the attempt's end; an attempt its dying CLI cut short
  ends as ``CliProcessExited``.
- ``_run_in_workspace``: the task's workspace made before, its changes collected after.
- ``_run_session``: the session, in a scope the CLI's supervisor cancels if the CLI dies.

:func:`run_tasks` is the run's scaffolding around them: the events' writer, the signal
watcher, run_timeout, the CLI supervisor and the adaptive limit.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import anyio
from copilot import CopilotClient
from structlog.typing import FilteringBoundLogger

from ..bugs import innermost
from ..errors import CliCrashedError, CliProcessExited, ExitCode, TaskCancelled, WorkspaceError
from ..jobfile import TaskSpec
from ..records import TaskResult, TaskStatus
from ..run_folder.events import EventLogWriter, EventSink
from ..run_folder.recorder import RunRecorder
from .clients import ClientPool, SupervisedClient
from .concurrency import AdaptiveLimit
from .observer import RunObserver
from .run_stop import RunStop
from .session import SessionSettings, TaskSession
from .workspaces import Workspace, WorkspaceManager


@dataclass(frozen=True)
class Done:
    """The task has ended: its last attempt is its result."""


@dataclass(frozen=True)
class RetryAfterBackoff:
    """A transient failure with retries left: back off, then make try ``tries``."""

    tries: int


@dataclass(frozen=True)
class RetryAfterRateLimit:
    """The model rate-limited the attempt: back off, then try again, the ``rate_limited``-th
    such retry; these do not count against the task's ``retries``."""

    rate_limited: int


@dataclass(frozen=True)
class RunAgainOnNewCli:
    """The attempt's CLI died and was replaced: run it again there, not counted as a try."""


Step = Done | RetryAfterBackoff | RetryAfterRateLimit | RunAgainOnNewCli

# Retries of a task the model rate-limited (429), on top of its ``retries``: a 429 is
# never the user's fault, and each such attempt already waited out the CLI's own retries.
RATE_LIMIT_RETRIES = 10


def next_step(result: TaskResult, tries: int, rate_limited: int = 0) -> Step:
    """What follows an attempt that ended as ``result``, the ``tries``-th this run counted,
    after ``rate_limited`` retries for a 429."""
    if isinstance(result.failure, CliProcessExited) and result.failure.replaced:
        return RunAgainOnNewCli()
    if result.status_code == 429 and rate_limited < RATE_LIMIT_RETRIES:
        return RetryAfterRateLimit(rate_limited + 1)
    if result.transient and tries <= result.task.retries:
        return RetryAfterBackoff(tries + 1)
    return Done()


def retry_delay(attempt: int, initial: float, maximum: float) -> float:
    """The wait after failed attempt ``attempt``: exponential backoff with full jitter, a
    random time up to min(maximum, initial × 2^(attempt-1)), so retries spread out."""
    return random.uniform(0, min(maximum, initial * 2 ** (attempt - 1)))


@dataclass
class Attempt:
    """One try at a task on its way down the layers; ``result`` is set once it starts."""

    task: TaskSpec
    number: int  # among all the task's attempts, a resume's earlier ones included
    tries: int  # among this run's tries, which count against the task's ``retries``
    rate_limited: int  # this run's retries after a 429, which do not
    earlier: list[dict[str, Any]]  # the attempts before it (attempt_record)
    sink: EventSink
    log: FilteringBoundLogger
    result: TaskResult | None = None
    step: Step = Done()  # what follows it, once it is recorded


@dataclass(frozen=True)
class Placement:
    """The client an attempt runs on, and which of its CLI processes (``generation``)."""

    member: SupervisedClient
    client: CopilotClient
    generation: int


class TaskRunner:
    """Runs each task of one run through the layers (see the module's docstring)."""

    def __init__(
        self,
        clients: ClientPool,
        limit: AdaptiveLimit,
        recorder: RunRecorder,
        stop: RunStop,
        earlier_attempts: Mapping[str, list[dict[str, Any]]],
        log: FilteringBoundLogger,
        observer: RunObserver | None,
    ) -> None:
        self.clients = clients
        self.limit = limit
        self.recorder = recorder
        self.stop = stop
        self.log = log
        self._workspaces = WorkspaceManager(recorder.folder.path, recorder.folder.run_id)
        self._earlier_attempts = earlier_attempts
        self._observer = observer

    async def run(self, task: TaskSpec, sink: EventSink) -> None:
        """The limiter: the task waits for a slot among the run's sessions, and does not
        start once the run's token budget is spent (it ends cancelled with the run)."""
        # Bound explicitly, not through contextvars: the SDK calls the task's event and
        # permission callbacks from its own dispatch, outside this task's context.
        log = self.log.bind(task_id=task.id)
        with sink:
            async with self.limit.limiter:
                if self.stop.holds_back():
                    log.info("task not started: the run's token budget is spent")
                    return
                log.info("task started")
                if self._observer is not None:
                    self._observer.task_started(task)
                await self._run_with_retries(task, sink, log)

    async def _run_with_retries(
        self, task: TaskSpec, sink: EventSink, log: FilteringBoundLogger
    ) -> None:
        """Attempts until :func:`next_step` says done. A resumed task keeps its earlier
        attempts and numbers on from them."""
        earlier = list(self._earlier_attempts.get(task.id, []))
        tries, rate_limited = 1, 0
        while True:
            number = len(earlier) + 1
            attempt = Attempt(task, number, tries, rate_limited, list(earlier), sink, log)
            sink.attempt = attempt.number
            result = await self._run_recorded(attempt)
            step = attempt.step
            if isinstance(step, Done):
                return
            earlier.append(result.attempt_record())
            if isinstance(step, RetryAfterBackoff | RetryAfterRateLimit):
                if isinstance(step, RetryAfterBackoff):
                    tries = step.tries
                else:
                    rate_limited = step.rate_limited
                delay = retry_delay(max(tries, rate_limited), *task.retry_backoff)
                log.warning(
                    "retrying after a transient failure",
                    attempt=attempt.number + 1,
                    after_seconds=round(delay, 2),
                    error=result.error,
                )
                await anyio.sleep(delay)

    async def _run_recorded(self, attempt: Attempt) -> TaskResult:
        """Every attempt that started is recorded, also when the run is being stopped."""
        try:
            return await self._run_on_client(attempt)
        finally:
            if attempt.result is not None:
                with anyio.CancelScope(shield=True):
                    await self._record(attempt, attempt.result)

    async def _record(self, attempt: Attempt, result: TaskResult) -> None:
        """Word why a cancelled attempt stopped, write it; tell the end of a task's last."""
        if result.status is TaskStatus.CANCELLED:
            result.fail(TaskStatus.CANCELLED, TaskCancelled(self.stop.reason(), started=True))
        result.attempt, result.attempts = attempt.number, attempt.earlier
        await self.recorder.attempt_ended(result)
        attempt.step = next_step(result, attempt.tries, attempt.rate_limited)
        if not isinstance(attempt.step, Done) and self.stop.holds_back():
            attempt.log.info("no further attempt: the run's token budget is spent")
            attempt.step = Done()  # this attempt stays the task's result
        if isinstance(attempt.step, Done):
            attempt.log.info("task finished", status=str(result.status), error=result.error)
            if self._observer is not None:
                self._observer.task_finished(result)

    async def _run_on_client(self, attempt: Attempt) -> TaskResult:
        """The least-loaded client, its CLI process held until the attempt ends (a recycled
        one is stopped only then). An attempt cancelled because its CLI died ends as
        CliProcessExited, replaced when a new CLI took over."""
        with self.clients.placed() as member:
            async with member.holding() as (client, generation):
                try:
                    placed = Placement(member, client, generation)
                    return await self._run_in_workspace(attempt, placed)
                finally:
                    result = attempt.result
                    if (
                        result is not None
                        and result.status is TaskStatus.CANCELLED
                        and generation in member.crashed_generations
                    ):
                        replaced = not self.clients.gave_up
                        result.fail(TaskStatus.ERROR, CliProcessExited(replaced))

    async def _run_in_workspace(self, attempt: Attempt, placed: Placement) -> TaskResult:
        """The task's workspace (copy, git-worktree), made before the session; what the
        agent changed there is collected after it."""
        task = attempt.task
        try:
            workspace = await self._workspaces.prepare(task, attempt.number)
        except (WorkspaceError, OSError) as error:
            now = datetime.now(UTC)
            attempt.result = TaskResult(task=task, started_at=now, finished_at=now)
            attempt.result.fail(TaskStatus.ERROR, error)
            return attempt.result
        if workspace is None:
            return await self._run_session(attempt, task, placed)
        try:
            in_workspace = dataclasses.replace(task, working_directory=workspace.path)
            return await self._run_session(attempt, in_workspace, placed)
        finally:
            if attempt.result is not None:
                with anyio.CancelScope(shield=True):
                    await self._collect_changes(attempt.result, workspace, attempt.log)

    async def _collect_changes(
        self, result: TaskResult, workspace: Workspace, log: FilteringBoundLogger
    ) -> None:
        """Keep what the task changed in its workspace as its changes.patch."""
        result.workspace = workspace.to_record()
        try:
            changes = await self._workspaces.finish(workspace)
        except (WorkspaceError, OSError) as error:
            log.error("collecting changes failed", error=str(error))
            if result.status is TaskStatus.OK:
                result.fail(TaskStatus.ERROR, error)
            return
        result.changed_files = changes.files
        if changes.patch:
            result.patch = self.recorder.changes(result.task.id, changes.patch)

    async def _run_session(self, attempt: Attempt, task: TaskSpec, placed: Placement) -> TaskResult:
        """The session, in the cancel scope the CLI's supervisor cancels if the CLI dies."""
        observer = self._observer
        settings = SessionSettings(
            attempt=attempt.number,
            on_rate_limited=self.limit.rate_limited,
            on_activity=partial(observer.task_activity, task.id) if observer else None,
            on_tokens=self.stop.budget.spend,
            copilot_home=placed.member.copilot_home,
        )
        session = TaskSession(placed.client, task, attempt.sink, attempt.log, settings)
        attempt.result = session.result
        with placed.member.attempt(placed.generation):
            return await session.run()
        return session.result  # the CLI died, and the scope cancelled the session


async def run_tasks(runner: TaskRunner, tasks: Sequence[TaskSpec], handle_signals: bool) -> None:
    """Run ``tasks`` through ``runner`` beside the events' writer, under the signal watcher
    (``handle_signals``) and the run's run_timeout. Raises CliCrashedError when a CLI died
    once too often (every task was stopped)."""
    writer = runner.recorder.event_log()
    crash = None  # stays None when a signal cancels the block
    try:
        async with anyio.create_task_group() as run_group:
            run_group.start_soon(writer.run)
            async with _interruptible(runner.stop, runner.log, handle_signals), writer:
                crash = await _under_run_timeout(runner, tasks, writer)
    finally:
        clients = runner.clients
        runner.recorder.clients_stopped(
            clients.restarts, clients.recycled, runner.limit.to_record()
        )
    # Raised once the writer has written every event; inside, it would cancel the writer.
    if crash is not None:
        raise crash


async def _under_run_timeout(
    runner: TaskRunner, tasks: Sequence[TaskSpec], writer: EventLogWriter
) -> CliCrashedError | None:
    stop = runner.stop
    stop.start_clock()
    crash = None
    with anyio.CancelScope(deadline=stop.deadline) as limit:
        crash = await _supervised(runner, tasks, writer)
    if limit.cancelled_caught:
        runner.log.warning("run_timeout expired", seconds=stop.run_timeout)
        stop.time_out()
    return crash


async def _supervised(
    runner: TaskRunner, tasks: Sequence[TaskSpec], writer: EventLogWriter
) -> CliCrashedError | None:
    """The tasks, beside the adaptive limit's raising and the CLI supervisor, whose
    CliCrashedError (a CLI died once too often) stops them and is returned."""
    crash: CliCrashedError | None = None
    try:
        async with anyio.create_task_group() as beside:
            beside.start_soon(runner.limit.raise_when_quiet)
            beside.start_soon(runner.clients.watch)
            async with anyio.create_task_group() as tasks_group:
                for task in tasks:
                    tasks_group.start_soon(runner.run, task, writer.sink(task.id))
            beside.cancel_scope.cancel()
    except* CliCrashedError as crashed:
        crash = cast(CliCrashedError, innermost(crashed))
    return crash


@asynccontextmanager
async def _interruptible(
    stop: RunStop, log: FilteringBoundLogger, handle_signals: bool
) -> AsyncIterator[None]:
    """With ``handle_signals``, the first SIGINT or SIGTERM cancels the tasks in this block."""
    if not handle_signals:
        yield
        return
    # The watcher runs outside the scope it cancels, to hear a second signal too.
    async with anyio.create_task_group() as watcher_group:
        with anyio.CancelScope() as scope:
            watcher_group.start_soon(_watch_signals, stop, log, scope)
            try:
                yield
            finally:
                watcher_group.cancel_scope.cancel()


async def _watch_signals(
    stop: RunStop, log: FilteringBoundLogger, scope: anyio.CancelScope
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if stop.interrupted:
                # The second signal: leave now. Every file on disk is whole (atomic
                # writes); run.json may still say "running".
                log.warning("interrupted again; exiting at once", signal=name)
                os._exit(ExitCode.INTERRUPTED)
            log.warning("interrupted", signal=name)
            stop.interrupt()
            scope.cancel()
