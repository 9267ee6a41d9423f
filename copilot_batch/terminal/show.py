"""What the commands on finished runs print: ``show`` (a run's summary, one task's
answer, output, changes and permission audit, or their records as JSON), ``list``'s tasks,
and the outcomes of ``apply`` and ``clean`` with the exit code they make."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ..errors import ExitCode
from ..jobfile import TaskSpec
from ..run_folder import (
    AppliedPatch,
    Removal,
    StoredTask,
    read_run,
    read_summary,
    read_task,
    summary_markdown,
)


def show_summary(run_path: Path) -> None:
    """summary.md; made again from run.json and the results when it is missing."""
    text = read_summary(run_path)
    if text is None:
        run = read_run(run_path)
        text = summary_markdown(run, run.results())
    console = Console(highlight=False, emoji=False)
    if console.is_terminal:
        from rich.markdown import Markdown  # markdown-it: only `show` on a terminal needs it

        console.print(Markdown(text), soft_wrap=True)
    else:
        click.echo(text.rstrip("\n"))


def show_task(run_path: Path, task_id: str) -> None:
    """One task's status, answer, output, changes and permission audit."""
    task = read_task(run_path, task_id)
    console = Console(highlight=False, emoji=False)
    _print_rows(console, task)
    record = task.record
    if record.get("final_message"):
        console.print("[bold]answer[/bold]")
        console.print(escape(record["final_message"]), soft_wrap=True)
    if record.get("output") is not None:
        console.print("[bold]output[/bold]")
        console.print_json(json.dumps(record["output"]))
    if record.get("permission_audit"):
        console.print("[bold]permissions[/bold]")
        for entry in record["permission_audit"]:
            console.print(
                f"  {entry['decision']:<5} {entry['kind']:<11} {escape(entry['target'])} "
                f"({entry['rule']})",
                soft_wrap=True,
            )


def show_json(run_path: Path, task_id: str | None) -> None:
    """run.json, or the task's result.json (its run.json entry when it has none), as the
    reader checked them: JSON on stdout and nothing else. ASCII, so no terminal encoding
    can refuse it."""
    stored = read_run(run_path) if task_id is None else read_task(run_path, task_id)
    click.echo(json.dumps(stored.record, indent=2))


def _print_rows(console: Console, task: StoredTask) -> None:
    seconds = task.record.get("duration_seconds")
    rows = [
        ("task", task.id),
        ("status", task.status),
        ("duration", f"{seconds}s" if seconds is not None else None),
        ("error", task.record.get("error")),
        ("patch", task.patch),
        ("changed", ", ".join(task.changed_files) or None),
    ]
    for label, value in rows:
        if value is not None:
            console.print(f"[bold]{label:<9}[/bold] {escape(str(value))}", soft_wrap=True)


def print_tasks(tasks: Sequence[TaskSpec]) -> None:
    """Tab-separated, for people and for cut/awk: id, job, matrix values."""
    for task in tasks:
        values = " ".join(f"{key}={_compact(value)}" for key, value in task.matrix_values.items())
        click.echo(f"{task.id}\t{task.job_name}\t{values}".rstrip())


def _compact(value: Any) -> str:
    """A matrix value on one line: objects and lists as compact JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def print_applied(outcomes: Sequence[AppliedPatch]) -> ExitCode:
    """A line per patch; TASKS_FAILED if any was refused."""
    console = Console(highlight=False, emoji=False)
    if not outcomes:
        console.print("no patches to apply: no ok task changed files")
    for outcome in outcomes:
        if outcome.error is None:
            done = "already applied" if outcome.already_applied else "applied"
            console.print(f"[green]{done}[/green] {outcome.task_id}: {', '.join(outcome.files)}")
        else:
            console.print(f"[red]refused[/red] {outcome.task_id}: {escape(str(outcome.error))}")
    refused = any(outcome.error for outcome in outcomes)
    return ExitCode.TASKS_FAILED if refused else ExitCode.OK


def print_removals(run_path: Path, removals: Sequence[Removal], dry_run: bool) -> ExitCode:
    """A line per leftover of the run; TASKS_FAILED if one could not be removed."""
    if not removals:
        click.echo(f"{run_path}: nothing to remove")
    for removal in removals:
        if dry_run:
            click.echo(f"{run_path}: would remove {removal.leftover}")
        elif removal.error is None:
            click.echo(f"{run_path}: removed {removal.leftover}")
        else:
            click.echo(f"{run_path}: could not remove {removal.leftover}: {removal.error}")
    failed = any(removal.error is not None for removal in removals)
    return ExitCode.TASKS_FAILED if failed else ExitCode.OK
