"""A run: select tasks, find the CLI, make the run folder, start the client, run the tasks
(:mod:`.task_runs`), and write run.json first and last."""

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
    NoAuthError,
    NoTasksSelectedError,
    RunFolderError,
)
from ..jobfile import JobSpec, TaskSpec
from ..records import TaskResult, TaskStatus
from ..redact import TOKEN_VARIABLES, Redactor
from ..run_folder.layout import RunFolder, new_run_id
from ..run_folder.reports import write_reports
from ..run_folder.run_log import open_run_logger, sdk_logs_into
from ..scripted_model import Script, ScriptedModel, load_scripts
from .cli_binary import find_cli
from .clients import (
    CONNECTION_TOKEN_VARIABLE,
    ClientPool,
    CliProcess,
    CliServer,
    SupervisedClient,
    default_client_count,
)
from .run_state import (
    EarlierRun,
    RunObserver,
    RunOptions,
    RunState,
    mark_unstarted_cancelled,
)
from .shards import Shard
from .task_runs import EXIT_INTERRUPTED, EXIT_OK, EXIT_TASKS_FAILED, run_tasks

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
    state = RunState(
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
    if observer is not None:
        observer.run_started(tasks, len(earlier.kept))

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
        except Exception as error:  # a bug: its traceback in run.log, run.json says failed
            log.exception("copilot-batch hit a bug")
            bug = internal_error(error, folder.run_log, redactor)
            state.failure = f"copilot-batch hit a bug: {bug.error_type}: {bug.message}"
            raise bug from error
        finally:
            with anyio.CancelScope(shield=True):
                folder.retire_copilot_home()
                if state.interrupted or state.timed_out or state.failure:
                    mark_unstarted_cancelled(state)
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
                except (OSError, ValueError, RunFolderError) as error:  # run.json is written
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
    state: RunState,
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
        github_login = any(task.provider is None for task in tasks)
        clis: list[CliProcess | CliServer] = (
            [CliServer(cli_url, os.environ.get(CONNECTION_TOKEN_VARIABLE))]
            if cli_url
            else [
                CliProcess(
                    cast(Path, cli_path),
                    state.folder.copilot_home_of(index),
                    extra_env,
                    github_login,
                )
                for index in range(
                    options.clients or default_client_count(options.concurrency, _cpus())
                )
            ]
        )
        state.environment["clients"] = len(clis)
        if not cli_url:  # a server started by someone else looks for a login as it was told
            state.environment["github_login"] = github_login
        log.info("starting Copilot CLI clients", clients=len(clis))
        clients = await stack.enter_async_context(
            ClientPool([SupervisedClient(cli, options.max_cli_restarts, log) for cli in clis])
        )
        state.clients = clients
        await _check_auth(clients.first, tasks, clis[0])
        await run_tasks(clients, tasks, state, log, observer)


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
