"""A run, outermost first: ``run_batch`` selects the tasks; ``run_in_folder`` finds the
CLI and makes (or, resuming, reuses) the run folder and holds its lock; ``_record_run``
writes run.json first and last, through the run's recorder; ``_start_clients`` starts the
scripted model and the CLI clients, then :func:`.task_runs.run_tasks` runs the tasks."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import anyio
from copilot import CopilotClient
from structlog.typing import FilteringBoundLogger

from ..bugs import internal_error
from ..errors import (
    ConflictingCliUrlsError,
    CopilotBatchError,
    ExitCode,
    NoAuthError,
    NoTasksSelectedError,
)
from ..jobfile import JobSpec, TaskSpec
from ..records import TaskResult, TaskStatus
from ..redact import TOKEN_VARIABLES, Redactor
from ..run_folder.layout import RunFolder, new_run_id
from ..run_folder.recorder import RunHeader, RunRecorder
from ..run_folder.run_log import open_run_logger, sdk_logs_into
from ..scripted_model import Script, ScriptedModel, load_scripts
from .budgets import run_budget
from .cli_binary import find_cli
from .clients import (
    CONNECTION_TOKEN_VARIABLE,
    ClientPool,
    CliProcess,
    CliServer,
    SupervisedClient,
    default_client_count,
)
from .concurrency import AdaptiveLimit
from .earlier_run import EarlierRun
from .observer import RunObserver
from .options import RunOptions
from .recording import Recording
from .reuse import find_reusable, reused_result
from .run_stop import RunStop
from .sandbox import check_sandbox_support
from .shards import Shard
from .task_inputs import input_keys
from .task_runs import TaskRunner, run_tasks

# Sessions replaying a script reach the scripted model with this placeholder key.
REPLAY_API_KEY = "replay-no-key"
# The model replayed sessions use when neither the task, --model nor the script names one.
REPLAY_FALLBACK_MODEL = "gpt-4.1"


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
            return ExitCode.INTERRUPTED
        if all(result.status is TaskStatus.OK for result in self.results):
            return ExitCode.OK
        return ExitCode.TASKS_FAILED


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


async def run_batch(
    jobs: Sequence[JobSpec], options: RunOptions, observer: RunObserver | None = None
) -> RunResult:
    """Run every selected task of ``jobs``; write ``<out_dir>/<run-id>/``; never raise for a
    task's failure. Invalid input and set-up problems raise before anything starts."""
    tasks = select_tasks(jobs, options.only, options.shard)
    return await run_in_folder(jobs, tasks, options, observer)


@dataclass(frozen=True)
class RunPlan:
    """What a run does, settled before it starts: the tasks of the job files, the options,
    what an earlier run keeps (a resume), the replay scripts, the CLI or its server."""

    jobs: Sequence[JobSpec]
    tasks: Sequence[TaskSpec]
    options: RunOptions
    earlier: EarlierRun
    scripts: Sequence[Script]
    cli_url: str | None
    cli_path: Path | None
    recording: Recording | None = None


async def run_in_folder(
    jobs: Sequence[JobSpec],
    tasks: Sequence[TaskSpec],
    options: RunOptions,
    observer: RunObserver | None = None,
    resumed: tuple[RunFolder, EarlierRun] | None = None,
) -> RunResult:
    """Run ``tasks`` into a new run folder, made once the replay scripts and the CLI are
    found, or into the ``resumed`` run's folder, which keeps what its earlier run did;
    hold the folder's lock while the run lasts."""
    scripts = load_scripts(options.replay)
    recording = Recording.checked(options.record, tasks) if options.record else None
    cli_url = _cli_url(jobs, options)
    cli_path = None if cli_url else find_cli(options.cli_path)
    if resumed is None:
        redactor = Redactor.for_run(secret for task in tasks for secret in task.secrets)
        folder = RunFolder.create(options.out_dir, options.run_id or new_run_id(), redactor)
        earlier = EarlierRun()
    else:
        folder, earlier = resumed
    plan = RunPlan(jobs, tasks, options, earlier, scripts, cli_url, cli_path, recording)
    with folder.locked():
        result = await _record_run(plan, RunRecorder(folder, _header(plan), tasks), observer)
    if recording is not None and not result.interrupted:
        recording.write(folder.redactor)
    return result


def _header(plan: RunPlan) -> RunHeader:
    return RunHeader(
        jobs=plan.jobs,
        options={**plan.options.to_record(), "token_budget": _token_budget(plan)},
        environment={
            "copilot_batch": version("copilot-batch"),
            "github_copilot_sdk": version("github-copilot-sdk"),
            "cli_path": str(plan.cli_path) if plan.cli_path else None,
            "cli_url": plan.cli_url,
        },
        started_at=plan.earlier.started_at or datetime.now(UTC),
        kept=plan.earlier.kept,
        order=plan.earlier.order,
        resumed_at=plan.earlier.resumed_at,
        earlier_seconds=plan.earlier.duration_seconds,
    )


def _token_budget(plan: RunPlan) -> int | None:
    return run_budget(plan.options.max_tokens, plan.jobs)


async def _record_run(
    plan: RunPlan, recorder: RunRecorder, observer: RunObserver | None
) -> RunResult:
    """The run from its first run.json to its last: what stops it early is recorded there,
    a bug's traceback goes to run.log."""
    folder, stop = recorder.folder, RunStop(plan.options.run_timeout, _token_budget(plan))
    recorder.start()
    if observer is not None:  # its first line, before any CLI starts
        observer.run_started(plan.tasks, len(plan.earlier.kept), _client_count(plan), folder.path)
    with open(folder.run_log, "a", encoding="utf-8") as log_file:
        log = open_run_logger(log_file, folder.redactor, folder.run_id)
        log.info("run started", tasks=len(plan.tasks), concurrency=plan.options.concurrency)
        try:
            with sdk_logs_into(log):
                plan = dataclasses.replace(
                    plan, tasks=await _reuse_earlier(plan, recorder, log, observer)
                )
                # An empty shard starts nothing, and still leaves a complete run folder.
                if plan.tasks:
                    await _start_clients(plan, recorder, stop, log, observer)
        except (anyio.get_cancelled_exc_class(), KeyboardInterrupt):
            stop.interrupt()
            raise
        except CopilotBatchError as error:
            # The CLI did not start, or died too often: run.json says so.
            stop.fail(str(error))
            raise
        except Exception as error:  # a bug: its traceback in run.log, run.json says failed
            log.exception("copilot-batch hit a bug")
            bug = internal_error(error, folder.run_log, folder.redactor)
            stop.fail(f"copilot-batch hit a bug: {bug.error_type}: {bug.message}")
            raise bug from error
        finally:
            with anyio.CancelScope(shield=True):
                record = recorder.finish(stop.status, stop.failure, stop.reason(), log)
                log.info("run finished", state=str(stop.status), totals=record["totals"])
    return RunResult(
        run_id=folder.run_id,
        folder=folder.path,
        results=list(recorder.results.values()),
        record=record,
        interrupted=stop.interrupted,
    )


async def _reuse_earlier(
    plan: RunPlan, recorder: RunRecorder, log: FilteringBoundLogger, observer: RunObserver | None
) -> Sequence[TaskSpec]:
    """An incremental run's step before any session: the input key of each task it applies
    to, recorded; the tasks an earlier ok run with the same key left a result of, reused.
    Returns the tasks still to run. A resume reuses nothing (it keeps what it keeps)."""
    options = plan.options
    incremental_jobs = {job.path for job in plan.jobs if job.incremental}
    keyed = [
        task
        for task in plan.tasks
        if not plan.earlier.order and (options.incremental or task.job_file in incremental_jobs)
    ]
    if not keyed:
        return plan.tasks
    run_path = recorder.folder.path.resolve()
    keys = await input_keys(keyed, run_path, options.model, log)
    recorder.input_keys(keys)
    found = find_reusable(options.cache_from or options.out_dir, keys, run_path, log)
    for task in keyed:
        if task.id in found:
            result = await reused_result(task, found[task.id], keys[task.id])
            await recorder.reused(result, found[task.id].patch)
            log.info("task reused", task_id=task.id, reused_from=result.reused_from)
            if observer is not None:
                observer.task_finished(result)
    return [task for task in plan.tasks if task.id not in found]


async def _start_clients(
    plan: RunPlan,
    recorder: RunRecorder,
    stop: RunStop,
    log: FilteringBoundLogger,
    observer: RunObserver | None,
) -> None:
    """Start the scripted model (with --replay) and the clients, then run the tasks."""
    options = plan.options
    async with AsyncExitStack() as stack:
        tasks, extra_env = await _tasks_and_environment(plan, stack, log)
        if plan.recording is not None:
            tasks = await plan.recording.start(tasks, stack)
        github_login = any(task.provider is None for task in tasks)
        clis = _clis(plan, recorder.folder, extra_env, github_login)
        # A server started by someone else looks for a login as it was told.
        recorder.clients_started(len(clis), None if plan.cli_url else github_login)
        log.info("starting Copilot CLI clients", clients=len(clis))
        clients = await stack.enter_async_context(
            ClientPool(
                [
                    SupervisedClient(cli, options.max_cli_restarts, log, options.recycle_after)
                    for cli in clis
                ]
            )
        )
        await _check_auth(clients.first, tasks, clis[0])
        await check_sandbox_support(clients.first, tasks)
        runner = TaskRunner(
            clients,
            AdaptiveLimit(options.concurrency, log),
            recorder,
            stop,
            plan.earlier.attempts,
            log,
            observer,
        )
        await run_tasks(runner, tasks, options.handle_signals)


async def _tasks_and_environment(
    plan: RunPlan, stack: AsyncExitStack, log: FilteringBoundLogger
) -> tuple[Sequence[TaskSpec], dict[str, str]]:
    """The tasks as they run, and what the CLIs' environment adds: with --replay, every
    task sent to the scripted model (started on ``stack``); else --model applied."""
    tasks, options = plan.tasks, plan.options
    if not plan.scripts:
        if options.model:
            tasks = [dataclasses.replace(task, model=options.model) for task in tasks]
        return tasks, {}
    model = await stack.enter_async_context(ScriptedModel(plan.scripts, root=options.replay_root))
    tasks = _point_at_replay(tasks, model.base_url, model.models, options)
    log.info("replaying scripts", base_url=model.base_url)
    # The CLI's own offline switch; it insists on a default provider and model, though
    # every session names its own.
    return tasks, {
        "COPILOT_OFFLINE": "true",
        "COPILOT_PROVIDER_BASE_URL": model.base_url,
        "COPILOT_MODEL": tasks[0].model or REPLAY_FALLBACK_MODEL,
    }


def _clis(
    plan: RunPlan, folder: RunFolder, extra_env: dict[str, str], github_login: bool
) -> list[CliProcess | CliServer]:
    """The server at the CLI URL, or the CLI processes to start (--clients of them)."""
    if plan.cli_url:
        return [CliServer(plan.cli_url, os.environ.get(CONNECTION_TOKEN_VARIABLE))]
    return [
        CliProcess(
            cast(Path, plan.cli_path), folder.copilot_home_of(index), extra_env, github_login
        )
        for index in range(_client_count(plan))
    ]


def _client_count(plan: RunPlan) -> int:
    """The clients the run starts: one for a CLI server, else --clients or the default."""
    if plan.cli_url:
        return 1
    return plan.options.clients or default_client_count(plan.options.concurrency, _cpus())


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
