"""A run: select tasks, start one client, run every task in one task group, write the folder."""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import os
import random
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol, cast

import anyio
from copilot import CopilotClient
from structlog.typing import FilteringBoundLogger

from ..errors import (
    CliCrashedError,
    ConflictingCliUrlsError,
    CopilotBatchError,
    NoAuthError,
    NoTasksSelectedError,
    WorkspaceError,
)
from ..output.events import EventLogWriter, EventSink
from ..output.records import TaskResult, TaskStatus
from ..output.redact import TOKEN_VARIABLES, Redactor
from ..output.report import run_record
from ..output.reports import write_reports
from ..output.run_folder import RunFolder, new_run_id
from ..output.run_log import open_run_logger, sdk_logs_into
from ..scripted_model import Script, ScriptedModel, load_scripts
from ..spec import JobSpec, TaskSpec
from .cli_binary import find_cli
from .clients import CONNECTION_TOKEN_VARIABLE, CliProcess, CliServer, SupervisedClient
from .concurrency import AdaptiveLimit
from .session import run_task_session
from .shards import Shard
from .workspaces import Workspace, WorkspaceManager

EXIT_OK, EXIT_TASKS_FAILED, EXIT_INTERRUPTED = 0, 1, 130
# The error_type of an attempt cut short because the Copilot CLI process died.
CLI_GONE = "CliProcessExited"

# Sessions replaying a script reach the scripted model with this placeholder key.
REPLAY_API_KEY = "replay-no-key"
# The model replayed sessions use when neither the task, --model nor the script names one.
REPLAY_FALLBACK_MODEL = "gpt-4.1"


@dataclass(frozen=True)
class RunOptions:
    """How to run: where results go, how many sessions at once, which tasks, which CLI."""

    out_dir: Path = Path("runs")
    concurrency: int = 4
    only: tuple[str, ...] = ()
    shard: Shard | None = None
    model: str | None = None
    cli_path: str | None = None
    cli_url: str | None = None
    run_timeout: float | None = None
    max_cli_restarts: int = 3
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
            "replay": [str(path) for path in self.replay],
        }


class RunObserver(Protocol):
    """Told about progress, for the terminal. Called on the event loop; must not block."""

    def task_started(self, task: TaskSpec) -> None: ...

    def task_finished(self, result: TaskResult) -> None: ...


@dataclass
class RunResult:
    """A finished (or interrupted) run."""

    run_id: str
    folder: Path
    results: list[TaskResult]
    record: dict[str, Any]
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if all(result.status is TaskStatus.OK for result in self.results):
            return EXIT_OK
        return EXIT_TASKS_FAILED


def select_tasks(
    jobs: Sequence[JobSpec], only: Sequence[str], shard: Shard | None = None
) -> list[TaskSpec]:
    """Every task of every job, or those whose id matches one of the ``only`` globs; then,
    with ``shard``, only that shard's (which may be none)."""
    tasks = [task for job in jobs for task in job.tasks]
    if only:
        tasks = [task for task in tasks if any(fnmatch.fnmatchcase(task.id, g) for g in only)]
        if not tasks:
            raise NoTasksSelectedError(only, [task.id for job in jobs for task in job.tasks])
    if shard is not None:
        tasks = [task for task in tasks if shard.selects(task.id)]
    return tasks


@dataclass
class _RunState:
    jobs: Sequence[JobSpec]
    options: RunOptions
    folder: RunFolder
    environment: dict[str, Any]
    started_at: datetime
    results: dict[str, TaskResult] = field(default_factory=dict)
    specs: dict[str, TaskSpec] = field(default_factory=dict)  # as the job files expand them
    earlier: EarlierRun = field(default_factory=lambda: EarlierRun())
    interrupted: bool = False
    run_deadline: float = math.inf  # anyio.current_time() when run_timeout expires
    timed_out: bool = False  # run_timeout cancelled tasks
    concurrency: AdaptiveLimit | None = None
    clients: SupervisedClient | None = None
    failure: str | None = None

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
        )
        self.folder.write_json(self.folder.run_json, record)
        return record


@dataclass(frozen=True)
class EarlierRun:
    """What a resumed run keeps from before: the tasks that ended ok and are unchanged
    (their run.json entries), every task's earlier attempts, the task order, the start."""

    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    resumed_at: tuple[str, ...] = ()


async def run_batch(
    jobs: Sequence[JobSpec], options: RunOptions, observer: RunObserver | None = None
) -> RunResult:
    """Run every selected task of ``jobs``; write ``<out_dir>/<run-id>/``; never raise for a
    task's failure. Invalid input and set-up problems raise before anything starts."""
    tasks = select_tasks(jobs, options.only, options.shard)
    return await execute_run(jobs, tasks, None, options, observer)


async def execute_run(
    jobs: Sequence[JobSpec],
    tasks: Sequence[TaskSpec],
    folder: RunFolder | None,
    options: RunOptions,
    observer: RunObserver | None = None,
    earlier: EarlierRun | None = None,
) -> RunResult:
    """Run ``tasks`` into ``folder`` (an earlier run's, being resumed), or into a new run
    folder made once the replay scripts and the CLI are found; hold the folder's lock;
    write run.json first and last, and the reports."""
    scripts = load_scripts(options.replay)
    cli_url = _cli_url(jobs, options)
    cli_path = None if cli_url else find_cli(options.cli_path)
    if folder is None:
        redactor = Redactor.for_run(secret for task in tasks for secret in task.secrets)
        folder = RunFolder.create(options.out_dir, options.run_id or new_run_id(), redactor)
    earlier = earlier or EarlierRun()
    with folder.locked():
        return await _execute(
            jobs, tasks, folder, options, observer, earlier, scripts, cli_url, cli_path
        )


async def _execute(
    jobs: Sequence[JobSpec],
    tasks: Sequence[TaskSpec],
    folder: RunFolder,
    options: RunOptions,
    observer: RunObserver | None,
    earlier: EarlierRun,
    scripts: Sequence[Script],
    cli_url: str | None,
    cli_path: Path | None,
) -> RunResult:
    redactor = folder.redactor
    state = _RunState(
        jobs=jobs,
        options=options,
        folder=folder,
        environment={
            "copilot_batch": version("copilot-batch"),
            "github_copilot_sdk": version("github-copilot-sdk"),
            "cli_path": str(cli_path) if cli_path else None,
            "cli_url": cli_url,
        },
        started_at=earlier.started_at or datetime.now(UTC),
        results={task.id: TaskResult(task=task) for task in tasks},
        specs={task.id: task for task in tasks},
        earlier=earlier,
    )
    state.write_run_json("running")

    with open(folder.run_log, "a", encoding="utf-8") as log_file:
        log = open_run_logger(log_file, redactor, folder.run_id)
        log.info("run started", tasks=len(tasks), concurrency=options.concurrency)
        try:
            with sdk_logs_into(log):
                # An empty shard starts nothing, and still leaves a complete run folder.
                if tasks:
                    await _start_and_run(tasks, scripts, cli_path, cli_url, state, log, observer)
        except (anyio.get_cancelled_exc_class(), KeyboardInterrupt):
            state.interrupted = True
            raise
        except CopilotBatchError as error:
            # The CLI did not start: run.json says so; no task ran.
            state.failure = str(error)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                folder.retire_copilot_home()
                if state.interrupted or state.timed_out or state.failure:
                    _mark_unstarted_cancelled(state)
                final = (
                    "interrupted"
                    if state.interrupted
                    else "failed"
                    if state.failure
                    else "timed_out"
                    if state.timed_out
                    else "finished"
                )
                record = state.write_run_json(final)
                try:
                    write_reports(folder.path)
                except (OSError, ValueError) as error:  # run.json is written: nothing is lost
                    log.error("writing reports failed", error=repr(error))
                log.info("run finished", state=final, totals=record["totals"])

    return RunResult(
        run_id=folder.run_id,
        folder=folder.path,
        results=list(state.results.values()),
        record=record,
        interrupted=state.interrupted,
    )


async def _start_and_run(
    tasks: Sequence[TaskSpec],
    scripts: Sequence[Script],
    cli_path: Path | None,
    cli_url: str | None,
    state: _RunState,
    log: FilteringBoundLogger,
    observer: RunObserver | None,
) -> None:
    """Start the scripted model (with --replay) and the client, then run the tasks."""
    options = state.options
    async with AsyncExitStack() as stack:
        extra_env: dict[str, str] = {}
        if scripts:
            model = await stack.enter_async_context(ScriptedModel(scripts))
            tasks = _point_at_replay(tasks, model.base_url, model.models, options)
            # The CLI's own offline switch; it insists on a default provider
            # and model, though every session names its own.
            extra_env["COPILOT_OFFLINE"] = "true"
            extra_env["COPILOT_PROVIDER_BASE_URL"] = model.base_url
            extra_env["COPILOT_MODEL"] = tasks[0].model or REPLAY_FALLBACK_MODEL
            log.info("replaying scripts", base_url=model.base_url)
        elif options.model:
            tasks = [dataclasses.replace(task, model=options.model) for task in tasks]
        cli: CliProcess | CliServer = (
            CliServer(cli_url, os.environ.get(CONNECTION_TOKEN_VARIABLE))
            if cli_url
            else CliProcess(cast(Path, cli_path), state.folder.copilot_home, extra_env)
        )
        clients = await stack.enter_async_context(
            SupervisedClient(cli, options.max_cli_restarts, log)
        )
        state.clients = clients
        await _check_auth(clients.current, tasks, cli)
        await _run_tasks(clients, tasks, state, log, observer)


def _cli_url(jobs: Sequence[JobSpec], options: RunOptions) -> str | None:
    """The CLI server to connect to: --cli-url, else the one every job file names."""
    if options.cli_url:
        return options.cli_url
    named = {job.path: job.cli_url for job in jobs if job.cli_url}
    if len(set(named.values())) > 1:
        raise ConflictingCliUrlsError(named)
    return next(iter(named.values()), None)


async def _check_auth(
    client: CopilotClient, tasks: Sequence[TaskSpec], cli: CliProcess | CliServer
) -> None:
    """Fail before any task starts if tasks need the GitHub Copilot API and nothing signs
    the CLI in. A token in our environment counts (the CLI we start inherits it; it cannot
    be checked offline); otherwise the CLI is asked whether a user is logged in."""
    unsigned = [task.id for task in tasks if task.provider is None]
    if not unsigned:
        return
    if isinstance(cli, CliProcess) and any(os.environ.get(name) for name in TOKEN_VARIABLES):
        return
    status = await client.get_auth_status()
    if not status.isAuthenticated:
        raise NoAuthError(unsigned)


def _point_at_replay(
    tasks: Sequence[TaskSpec], base_url: str, models: Sequence[str], options: RunOptions
) -> list[TaskSpec]:
    """Send every task to the scripted model, whatever provider its job file names."""
    provider = {"type": "openai", "base_url": base_url, "api_key": REPLAY_API_KEY}
    fallback_model = models[0] if models else REPLAY_FALLBACK_MODEL
    return [
        dataclasses.replace(
            task, provider=provider, model=options.model or task.model or fallback_model
        )
        for task in tasks
    ]


async def _run_tasks(
    clients: SupervisedClient,
    tasks: Sequence[TaskSpec],
    state: _RunState,
    log: FilteringBoundLogger,
    observer: RunObserver | None,
) -> None:
    concurrency = state.concurrency = AdaptiveLimit(state.options.concurrency, log)
    workspaces = WorkspaceManager(state.folder.path, state.folder.run_id)
    writer = EventLogWriter(state.folder)

    async def record(result: TaskResult, final: bool) -> None:
        """Write the attempt's result.json; a task's last (``final``) attempt ends the task."""
        if result.status is TaskStatus.CANCELLED:
            result.error = f"{_stop_reason(state)} before the task finished"
        # Mask credentials once, here, before the terminal, run.json or result.json see them.
        result.redact(state.folder.redactor)
        state.results[result.task.id] = result
        state.folder.write_json(
            state.folder.result_path(result.task.id), result.to_record(with_spec=True)
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
                _failed(result, TaskStatus.ERROR, error)
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
        """One try at a task, in a fresh session (and workspace); its result is recorded."""
        recorded: list[TaskResult] = []
        client, generation = await clients.ready()

        async def record_attempt(result: TaskResult) -> None:
            if generation in clients.crashed_generations and result.status is TaskStatus.CANCELLED:
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

        workspace = None
        try:
            workspace = await workspaces.prepare(task, attempt)
        except (WorkspaceError, OSError) as error:
            unstarted = TaskResult(task=task, started_at=datetime.now(UTC))
            _failed(unstarted, TaskStatus.ERROR, error)
            unstarted.finished_at = datetime.now(UTC)
            await record_attempt(unstarted)
            return unstarted
        in_workspace = (
            dataclasses.replace(task, working_directory=workspace.path)
            if workspace is not None
            else task
        )
        with clients.attempt(generation):
            await run_task_session(
                client,
                in_workspace,
                sink,
                task_log,
                record_attempt,
                attempt,
                on_rate_limited=concurrency.rate_limited,
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
    state: _RunState, log: FilteringBoundLogger
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


def _failed(result: TaskResult, status: TaskStatus, error: BaseException) -> None:
    result.status = status
    result.error = str(error)
    result.error_type = type(error).__name__


def _stop_reason(state: _RunState) -> str:
    """Why tasks are being cancelled. Asked while the cancellation is under way, before
    the run knows how it ended, so a passed deadline is what tells run_timeout."""
    if state.failure:
        return f"the run stopped ({state.failure})"
    if anyio.current_time() >= state.run_deadline and not state.interrupted:
        return f"the run's run_timeout of {state.options.run_timeout:g}s expired"
    return "the run was interrupted"


def _mark_unstarted_cancelled(state: _RunState) -> None:
    for result in state.results.values():
        if result.status is TaskStatus.PENDING:
            result.status = TaskStatus.CANCELLED
            result.error = f"{_stop_reason(state)} before the task started"
            state.folder.write_json(
                state.folder.result_path(result.task.id), result.to_record(with_spec=True)
            )
