"""The ``copilot-batch`` command line: run, validate, list, skills, schema, model-server,
script."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
import webbrowser
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio
import click
from rich.console import Console

from . import cli_options
from .bugs import internal_error
from .errors import CopilotBatchError, ExitCode, RunLockedError, ScriptError
from .jobfile import (
    JobSpec,
    Skill,
    TaskSpec,
    discover_skills,
    job_schema,
    load_jobs,
    parse_duration,
    resolve_job_paths,
    unsandboxed_shell_tasks,
)
from .records import TaskStatus
from .run_folder import (
    DEFAULT_OUT,
    RunFolder,
    apply_run,
    clean_run,
    find_run,
    merge_runs,
    parse_age,
    read_events,
    read_run,
    read_task,
    runs_older_than,
    runs_under,
    write_html_report,
)
from .runtime import DEFAULT_CONCURRENCY, DEFAULT_RECYCLE_AFTER, RunOptions, Shard, resolve_shard
from .scripted_model import FAULT_SYNTAX, parse_fault
from .terminal import (
    LiveView,
    PlainProgress,
    print_applied,
    print_removals,
    print_summary,
    print_tasks,
    show_json,
    show_summary,
    show_task,
)

# The runtime and the scripted model (the Copilot SDK, aiohttp) are imported in the commands
# that run tasks, serve or write scripts: --help, validate, list and show start without them.
if TYPE_CHECKING:
    from .runtime import RunResult
    from .scripted_model import Fault

MAX_CLIENTS = 256  # Copilot CLI processes one run may start (--clients)

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


@contextmanager
def _errors_end_the_command() -> Iterator[None]:
    """Our errors become their message on stderr and their exit code; Ctrl-C becomes 130;
    any other exception is a bug (exit 70): one line naming it, its traceback in a file."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise  # usage errors: click prints them (exit 2)
    except CopilotBatchError as error:
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        click.echo(click.style("interrupted", fg="yellow"), err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as error:
        bug = internal_error(error)
        _fail(str(bug), bug.exit_code)


def _fail(message: str, exit_code: ExitCode) -> NoReturn:
    """The message as plain text, all of it at once: no markup, highlighting or emoji."""
    click.echo(f"{click.style('error:', fg='red')} {message}", err=True)
    sys.exit(exit_code)


class _Commands(click.Group):
    """copilot-batch's commands, each (its options' checks too) under one error handler."""

    def invoke(self, ctx: click.Context) -> Any:
        with _errors_end_the_command():
            return super().invoke(ctx)


def _out_option(help_text: str) -> Callable[[_F], _F]:
    """--out: the folder holding run folders (runs/ by default)."""
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_OUT,
        show_default=True,
        help=help_text,
    )


def _execution_options(command: _F) -> _F:
    """The options of how to run tasks, shared by ``run`` and ``resume``."""
    options = [
        click.option(
            "--concurrency",
            "-j",
            type=click.IntRange(min=1),
            default=DEFAULT_CONCURRENCY,
            show_default=True,
            help="Sessions running at once.",
        ),
        click.option(
            "--clients",
            type=click.IntRange(1, MAX_CLIENTS),
            help="Copilot CLI processes to spread sessions over. Default: one per 25 "
            "sessions of --concurrency, at most two per CPU.",
        ),
        click.option(
            "--recycle-after",
            type=click.IntRange(min=0),
            default=DEFAULT_RECYCLE_AFTER,
            show_default=True,
            metavar="SESSIONS",
            help="Replace each Copilot CLI process with a fresh one once it has served this "
            "many sessions (0: never); its sessions in flight finish on it.",
        ),
        click.option("--cli-path", help="The Copilot CLI binary to run."),
        click.option(
            "--cli-url",
            metavar="HOST:PORT",
            callback=lambda _context, _parameter, value: cli_options.cli_url(value),
            help="Connect to a Copilot CLI server already running there instead of starting one.",
        ),
        click.option(
            "--replay",
            multiple=True,
            type=click.Path(exists=True, path_type=Path),
            metavar="SCRIPT",
            help="Serve these scripted-model files or folders and point "
            "every task at them (offline, no login).",
        ),
        click.option(
            "--replay-root",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            metavar="DIR",
            help="What ${workdir} in the --replay scripts stands for: the folder the "
            "recording was made in. Default: each session's working directory, or the "
            "parent the script names it under.",
        ),
        click.option(
            "--apply",
            "apply_changes",
            is_flag=True,
            help="After the run, apply the patches of ok tasks to their sources.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="Print only the final summary."),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=1),
            help="The run's token budget: once spent, no new task starts and the rest end "
            "cancelled. Wins over the job files' budget.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _load(paths: Sequence[str]) -> list[JobSpec]:
    return load_jobs(resolve_job_paths(paths))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="copilot-batch")
def main() -> None:
    """Run batches of GitHub Copilot agent tasks described in YAML job files."""


def _progress(console: Console, quiet: bool) -> PlainProgress | None:
    """The live view on a terminal, plain lines elsewhere, nothing with --quiet. The run
    tells it which tasks it starts, and how many a resume keeps."""
    if quiet:
        return None
    return LiveView(console) if console.is_terminal else PlainProgress(console)


def _run_with_progress(
    observer: PlainProgress | None, run: Callable[[], Awaitable[RunResult]]
) -> RunResult:
    # What is loaded by now (the SDK's modules, the job files' tasks) lasts as long as the
    # run: kept out of the cyclic collector, its full passes stop walking it again and
    # again while the sessions' events come and go.
    gc.freeze()
    try:
        if observer is None:
            return anyio.run(run, backend="asyncio")
        with observer.shown():
            return anyio.run(run, backend="asyncio")
    finally:
        gc.unfreeze()  # the command may run inside a longer-lived process (tests, scripts)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@_out_option("Folder that receives <run-id>/.")
@click.option(
    "--run-id",
    callback=lambda _context, _parameter, value: cli_options.run_id(value),
    help="Name of the run folder (default: time-based).",
)
@click.option("--only", multiple=True, metavar="GLOB", help="Run only task ids matching GLOB.")
@click.option(
    "--shard",
    metavar="I/N|auto",
    callback=lambda _context, _parameter, value: _parsed(
        lambda text: resolve_shard(text, os.environ), value
    ),
    help="Run only the I-th of N disjoint slices of the tasks (for several machines); auto: "
    "from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, COPILOT_BATCH_SHARDS).",
)
@click.option(
    "--run-timeout",
    metavar="DURATION",
    callback=lambda _context, _parameter, value: _parsed(parse_duration, value),
    help="Limit on the whole run (90s, 10m, 2h): when it expires, running and waiting "
    "tasks end cancelled.",
)
@click.option(
    "--max-cli-restarts",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Start the Copilot CLI again this often if it dies; its tasks run again.",
)
@click.option("--model", help="Use this model for every task.")
@click.option("--dry-run", is_flag=True, help="Validate and list the tasks; start nothing.")
@click.option(
    "--incremental",
    is_flag=True,
    help="Reuse the latest ok result of each task whose spec and input files have not "
    "changed, from the runs under --out (or --cache-from), instead of running it.",
)
@click.option(
    "--cache-from",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="Look for earlier runs to reuse in DIR instead of --out (implies --incremental).",
)
@click.option(
    "--record",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Capture every model exchange and write, after the run, one scripted-model file "
    "per task into DIR (new or empty) for --replay. Tasks with a provider (BYOK) only: "
    "GitHub Copilot API requests cannot be captured.",
)
@_execution_options
def run(
    paths: tuple[str, ...],
    concurrency: int,
    out_dir: Path,
    run_id: str | None,
    only: tuple[str, ...],
    shard: Shard | None,
    run_timeout: float | None,
    max_cli_restarts: int,
    clients: int | None,
    recycle_after: int,
    model: str | None,
    dry_run: bool,
    incremental: bool,
    cache_from: Path | None,
    record: Path | None,
    cli_path: str | None,
    cli_url: str | None,
    replay: tuple[Path, ...],
    replay_root: Path | None,
    apply_changes: bool,
    quiet: bool,
    max_tokens: int | None,
) -> None:
    """Run every task of the job files PATHS (files or globs) as one run."""
    jobs = _load(paths)
    options = dataclasses.replace(
        _execution(concurrency, clients, recycle_after, cli_path, cli_url, replay, max_tokens),
        out_dir=out_dir,
        only=only,
        shard=shard,
        run_timeout=run_timeout,
        max_cli_restarts=max_cli_restarts,
        model=model,
        run_id=run_id,
        replay_root=replay_root,
        incremental=incremental or cache_from is not None,
        cache_from=cache_from,
        record=record,
    )
    from .runtime import run_batch, select_tasks  # the SDK: see the imports at the top

    tasks = select_tasks(jobs, only, shard)
    _warn_unsandboxed(jobs, tasks)
    if dry_run:
        print_tasks(tasks)
        return
    cli_options.new_run_folder(out_dir, run_id)
    _run_and_report(quiet, apply_changes, lambda observer: run_batch(jobs, options, observer))


def _warn_unsandboxed(jobs: Sequence[JobSpec], tasks: Sequence[TaskSpec]) -> None:
    """One line on stderr per job whose selected tasks may run shell commands unconfined."""
    selected = {task.id for task in tasks}
    for job in jobs:
        unconfined = [task for task in unsandboxed_shell_tasks(job) if task.id in selected]
        if unconfined:
            click.echo(
                f"{click.style('warning:', fg='yellow')} job {job.name} ({job.path}): "
                f"{len(unconfined)} task(s) may run shell commands (their permissions allow "
                "it) without a sandbox; add `sandbox: true` to confine them",
                err=True,
            )


def _execution(
    concurrency: int,
    clients: int | None,
    recycle_after: int,
    cli_path: str | None,
    cli_url: str | None,
    replay: tuple[Path, ...],
    max_tokens: int | None,
) -> RunOptions:
    """The options ``run`` and ``resume`` share, ``--clients`` checked against
    ``--concurrency``."""
    cli_options.clients(clients, concurrency)
    return RunOptions(
        concurrency=concurrency,
        clients=clients,
        recycle_after=recycle_after,
        cli_path=cli_path,
        cli_url=cli_url,
        replay=replay,
        max_tokens=max_tokens,
        handle_signals=True,
    )


def _run_and_report(
    quiet: bool,
    apply_changes: bool,
    start: Callable[[PlainProgress | None], Awaitable[RunResult]],
) -> NoReturn:
    """Run with the progress fit for the terminal, then the summary, the patches applied
    if asked, and the exit code."""
    console = Console(highlight=False)
    observer = _progress(console, quiet)
    result = _run_with_progress(observer, lambda: start(observer))
    _report(console, result, apply_changes)


def _report(console: Console, result: RunResult, apply_changes: bool) -> NoReturn:
    """The closing summary, the patches applied if asked, and the exit code."""
    print_summary(console, result.record, str(result.folder))
    exit_code = ExitCode(result.exit_code)
    if apply_changes and not result.interrupted:
        exit_code = max(exit_code, _apply(result.folder, ()))
    sys.exit(exit_code)


@main.command()
@click.argument("run_name", metavar="RUN")
@_out_option("Where to look for RUN when it is a run id.")
@_execution_options
def resume(
    run_name: str,
    out_dir: Path,
    concurrency: int,
    clients: int | None,
    recycle_after: int,
    cli_path: str | None,
    cli_url: str | None,
    replay: tuple[Path, ...],
    replay_root: Path | None,
    apply_changes: bool,
    quiet: bool,
    max_tokens: int | None,
) -> None:
    """Run again, in the same folder, the tasks of RUN that did not end ok or whose spec
    changed since; the others keep their results. RUN is a run folder or a run id."""
    from .runtime import resume_run  # the SDK: see the imports at the top

    run_path = find_run(run_name, out_dir)
    options = dataclasses.replace(
        _execution(concurrency, clients, recycle_after, cli_path, cli_url, replay, max_tokens),
        replay_root=replay_root,
    )
    _run_and_report(quiet, apply_changes, lambda observer: resume_run(run_path, options, observer))


@main.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check job files; print every problem as FILE:LINE:COL: PATH: MESSAGE."""
    jobs = _load(paths)
    count = sum(len(job.tasks) for job in jobs)
    click.echo(f"ok: {len(jobs)} job file(s), {count} task(s)")


@main.command("list")
@click.argument("paths", nargs=-1, required=True)
def list_tasks(paths: tuple[str, ...]) -> None:
    """Print the expanded tasks, one per line, with their matrix values."""
    print_tasks([task for job in _load(paths) for task in job.tasks])


@main.command()
@click.argument("run_name", metavar="RUN")
@click.argument("task_id", metavar="[TASK]", required=False)
@_out_option("Where to look for RUN when it is a run id.")
@click.option("as_json", "--json", is_flag=True, help="Print run.json, or TASK's result.json.")
def show(run_name: str, task_id: str | None, out_dir: Path, as_json: bool) -> None:
    """Print a run's summary, or one TASK's answer, output, changes and permission audit.

    RUN is a run folder, or a run id under --out."""
    run_path = find_run(run_name, out_dir)
    if as_json:
        show_json(run_path, task_id)
    elif task_id is None:
        show_summary(run_path)
    else:
        show_task(run_path, task_id)


@main.command()
@click.argument("run_name", metavar="RUN")
@_out_option("Where to look for RUN when it is a run id.")
@click.option("--open", "open_it", is_flag=True, help="Open the report in a web browser.")
def view(run_name: str, out_dir: Path, open_it: bool) -> None:
    """Write the run's report.html again and print its file:// URL.

    RUN is a run folder, or a run id under --out."""
    url = write_html_report(find_run(run_name, out_dir)).resolve().as_uri()
    click.echo(url)
    if open_it:
        webbrowser.open(url)  # False when there is no browser: the URL is printed anyway


@main.command()
@click.argument("paths", nargs=-1, required=True)
def skills(paths: tuple[str, ...]) -> None:
    """List the skills the tasks of PATHS would load: name, description, SKILL.md, tasks."""
    loading: dict[Skill, list[str]] = {}
    disabled: dict[Skill, list[str]] = {}
    for task in (task for job in _load(paths) for task in job.tasks):
        for directory in task.skill_directories:
            # A SkillError (the folder changed since the job file was loaded) exits 2.
            for skill in discover_skills(directory):
                chosen = disabled if skill.name in task.disabled_skills else loading
                chosen.setdefault(skill, []).append(task.id)
    if not loading and not disabled:
        click.echo("no skills: no task lists skills.directories")
    for skill in sorted({*loading, *disabled}, key=lambda skill: (skill.name, str(skill.path))):
        used = "tasks: " + ", ".join(loading.get(skill, [])) if skill in loading else ""
        off = "disabled in: " + ", ".join(disabled[skill]) if skill in disabled else ""
        columns = [skill.name, skill.description, str(skill.path), used, off]
        click.echo("\t".join(columns).rstrip())


def _parsed(parse: Callable[[str], _T], value: str | None) -> _T | None:
    """An option's value parsed; its ValueError as click's usage error (exit 2)."""
    try:
        return parse(value) if value is not None else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@_out_option("Folder that receives the merged <run-id>/.")
@click.option(
    "--run-id",
    callback=lambda _context, _parameter, value: cli_options.run_id(value),
    help="Name of the merged run folder (default: time-based).",
)
def merge(runs: tuple[Path, ...], out_dir: Path, run_id: str | None) -> None:
    """Merge the run folders of one job's shards (run --shard I/N) into one run."""
    cli_options.new_run_folder(out_dir, run_id)
    merged = merge_runs(runs, out_dir, run_id)
    print_summary(Console(highlight=False, emoji=False), read_run(merged).record, str(merged))


@main.command("apply")
@click.argument("run_folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--only", multiple=True, metavar="GLOB", help="Apply only task ids matching GLOB.")
def apply_patches(run_folder: Path, only: tuple[str, ...]) -> None:
    """Apply the patches of a run's ok tasks (workspace copy or git-worktree) to their sources."""
    sys.exit(_apply(run_folder, only))


def _apply(run_folder: Path, only: Sequence[str]) -> ExitCode:
    """Apply and report each patch; TASKS_FAILED if any was refused."""
    return print_applied(anyio.run(apply_run, run_folder, only, backend="asyncio"))


@main.command()
@click.argument("run_names", nargs=-1, metavar="[RUN]...")
@_out_option("Where to look for RUN ids, and for every run when no RUN is given.")
@click.option(
    "--older-than",
    metavar="AGE",
    callback=lambda _context, _parameter, value: _parsed(parse_age, value),
    help="Only runs whose run.json was last written at least this long ago (7d, 12h, 90m).",
)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def clean(
    run_names: tuple[str, ...], out_dir: Path, older_than: float | None, dry_run: bool
) -> None:
    """Remove what runs left behind: their git-worktree branches (with or without changes;
    the patches stay in the run folder), leftover worktrees and workspaces folders.

    RUN is a run folder or a run id under --out; without RUN, every run under --out."""
    runs = [find_run(name, out_dir) for name in run_names] if run_names else runs_under(out_dir)
    if older_than is not None:
        runs = runs_older_than(runs, older_than)
    if not runs:
        click.echo(f"no runs to clean in {out_dir}")
    exit_code = ExitCode.OK
    for run_path in runs:
        try:
            removals = anyio.run(clean_run, run_path, dry_run, backend="asyncio")
        except RunLockedError as error:
            click.echo(f"skipped {run_path}: {error}")
            exit_code = ExitCode.TASKS_FAILED
            continue
        exit_code = max(exit_code, print_removals(run_path, removals, dry_run))
    sys.exit(exit_code)


@main.command()
def schema() -> None:
    """Print the JSON Schema of job files."""
    click.echo(json.dumps(job_schema(), indent=2))


@main.command("script")
@click.argument("run_name", metavar="RUN")
@click.argument("task_id", metavar="TASK")
@_out_option("Where to look for RUN when it is a run id.")
def script(run_name: str, task_id: str, out_dir: Path) -> None:
    """Print a scripted-model script of TASK's conversation, rebuilt from its events.

    RUN is a run folder, or a run id under --out. Comments at the top name what the
    replay may not reproduce."""
    click.echo(_task_script(find_run(run_name, out_dir), task_id), nl=False)


def _task_script(run_path: Path, task_id: str) -> str:
    from .scripted_model import dump_script, rebuild_conversation  # see the imports at the top

    task = read_task(run_path, task_id)
    rebuilt = rebuild_conversation(read_events(run_path, task_id))
    if rebuilt is None:
        events = RunFolder.ended(run_path).events_path(task_id)
        raise ScriptError(
            events, None, f"task {task_id!r} logged no prompt to rebuild a script from"
        )
    notes = [f"copilot-batch script: task {task_id} of {run_path}", *rebuilt.notes]
    if task.status is not TaskStatus.OK:
        notes.append(f"the task ended {task.status}: {task.record.get('error')}")
    return dump_script(rebuilt.messages, rebuilt.models, notes)


def _faults(values: tuple[str, ...]) -> tuple[Fault, ...]:
    """--fault: each KIND[:KEY=VALUE,…] as a scripted-model fault."""
    try:
        return tuple(parse_fault(value) for value in values)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@main.command("model-server")
@click.option(
    "--script",
    "scripts",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Script file or folder.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=lambda _context, _parameter, value: cli_options.host(value),
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option(
    "--latency",
    type=click.FloatRange(0, 3600),
    callback=lambda _context, _parameter, value: cli_options.finite(value),
    default=0.0,
    show_default=True,
    help="Seconds added before every reply.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar=FAULT_SYNTAX,
    callback=lambda _context, _parameter, values: _faults(values),
    help="Answer requests with a fault instead (repeatable; the first that selects a "
    "request wins): KIND is rate_limit, server_error, hang, disconnect or malformed; it "
    "applies to `times` requests (default 1) after letting `after` through (default 0), "
    "only to prompts containing `prompt` (last; default every request). "
    "See docs/scripted-model.md.",
)
@click.option(
    "--barrier",
    type=click.IntRange(1),
    help="Hold every reply until this many requests are open at once.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0, 1e6, min_open=True),
    callback=lambda _context, _parameter, value: cli_options.finite(value),
    help="Admit this many requests a second (one second's burst); answer 429 with "
    "retry-after beyond it.",
)
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    help="What ${workdir} stands for: the folder the recordings were made in "
    "(default: each session's working directory).",
)
@click.option(
    "--no-stream-usage",
    is_flag=True,
    help="Leave usage out of streamed replies even when asked for it "
    "(stream_options.include_usage), as llama-cpp-python does.",
)
def model_server(
    scripts: tuple[Path, ...],
    host: str,
    port: int,
    latency: float,
    faults: tuple[Fault, ...],
    barrier: int | None,
    rate: float | None,
    root: Path | None,
    no_stream_usage: bool,
) -> None:
    """Serve scripted conversations as an OpenAI-compatible model on loopback.

    It prints its base URL (http://HOST:PORT/v1) on one line once it listens."""
    from .scripted_model import load_scripts, serve_forever  # see the imports at the top

    loaded = load_scripts(scripts)
    anyio.run(
        lambda: serve_forever(
            loaded,
            host=host,
            port=port,
            latency=latency,
            faults=faults,
            barrier=barrier,
            root=root,
            rate=rate,
            stream_usage=not no_stream_usage,
        ),
        backend="asyncio",
    )
