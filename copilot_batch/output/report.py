"""run.json and the summaries people read on the terminal."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ..spec import JobSpec
from .records import TaskResult, TaskStatus, Usage

_STATUS_STYLE = {
    TaskStatus.OK: "green",
    TaskStatus.FAILED: "red",
    TaskStatus.ERROR: "red",
    TaskStatus.TIMEOUT: "yellow",
    TaskStatus.CANCELLED: "yellow",
    TaskStatus.PENDING: "dim",
}


def totals(tasks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts by status and summed usage over task records, as run.json's ``totals``."""
    by_status = Counter(task["status"] for task in tasks)
    usage_keys = list(Usage().to_record())
    return {
        "tasks": len(tasks),
        **{str(status): by_status.get(str(status), 0) for status in TaskStatus},
        **{key: sum(task["usage"][key] for task in tasks) for key in usage_keys},
        "tool_calls": sum(task["tool_calls"] for task in tasks),
        "permission_denials": sum(task["permission_denials"] for task in tasks),
    }


def run_record(
    *,
    run_id: str,
    state: str,
    started_at: datetime,
    finished_at: datetime | None,
    jobs: Sequence[JobSpec],
    options: Mapping[str, Any],
    environment: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    failure: str | None = None,
    resumed_at: Sequence[str] = (),
    concurrency: Mapping[str, int] | None = None,
    cli_restarts: int = 0,
    earlier_seconds: float | None = None,
    resumed_from: datetime | None = None,
) -> dict[str, Any]:
    """The content of run.json. ``state`` is running, finished, interrupted, timed_out or
    failed (the run could not start its client; ``failure`` says why). ``records`` are the
    tasks' entries (``TaskResult.to_record()``), kept ones from before a resume included.

    A resume, started at ``resumed_from``, adds its own wall time to ``earlier_seconds``,
    the earlier runs' (the time between runs is not counted); while it lasts, the duration
    is ``earlier_seconds`` alone, so a resume killed before its end loses only its own."""
    return {
        "run_id": run_id,
        "state": state,
        "failure": failure,
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat() if finished_at else None,
        "duration_seconds": _duration(resumed_from or started_at, finished_at, earlier_seconds),
        "job_files": [
            {"path": str(job.path), "name": job.name, "sha256": job.sha256, "tasks": len(job.tasks)}
            for job in jobs
        ],
        "options": dict(options),
        "environment": dict(environment),
        "resumed_at": list(resumed_at),
        "concurrency": dict(concurrency) if concurrency else None,
        "cli_restarts": cli_restarts,
        "totals": totals(records),
        "tasks": list(records),
    }


def _duration(
    started_at: datetime, finished_at: datetime | None, earlier_seconds: float | None
) -> float | None:
    if finished_at is None:
        return earlier_seconds
    return round((earlier_seconds or 0.0) + (finished_at - started_at).total_seconds(), 3)


def first_line(text: str | None, width: int = 80) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def task_line(result: TaskResult, id_width: int = 0) -> Text:
    """One line for a finished task: status, id, duration, tokens, tools, answer or error.

    ``id_width`` pads the id so the lines of one run line up."""
    style = _STATUS_STYLE[result.status]
    duration = f"{result.duration_seconds:.1f}s" if result.duration_seconds is not None else "-"
    if result.status is not TaskStatus.OK:
        detail = result.error
    elif result.output is not None:  # the answer is JSON: show the parsed value
        detail = json.dumps(result.output, ensure_ascii=False)
    else:
        detail = result.final_message
    line = Text()
    line.append(f"{result.status:<9}", style=style)
    line.append(f" {result.task.id:<{id_width}}  ", style="bold")
    line.append(f"{duration}  {result.usage.total_tokens} tok  {result.tool_calls} tools  ")
    line.append(first_line(detail, 70), style="dim" if result.status is TaskStatus.OK else style)
    return line


# How a run that did not finish ended, in the summary's colours.
_UNFINISHED_STYLE = {"interrupted": "yellow", "timed_out": "yellow", "failed": "red"}
# The folder that holds run folders unless --out says otherwise.
DEFAULT_OUT = Path("runs")


def resume_command(run_path: str) -> str:
    """The command that goes on with the run in ``run_path``: its id, and --out unless the
    run is in the default folder."""
    path = Path(run_path)
    command = f"copilot-batch resume {shlex.quote(path.name)}"
    if path.parent != DEFAULT_OUT:
        command += f" --out {shlex.quote(str(path.parent))}"
    return command


def print_summary(console: Console, record: Mapping[str, Any], run_path: str) -> None:
    """The closing summary: how the run ended (and, if it did not finish, how to go on),
    counts by status, tokens, wall time and where the files are."""
    counts = record["totals"]
    state = str(record.get("state"))
    rows: list[tuple[Text | str, str | Text]] = [
        ("state", Text(state, style=_UNFINISHED_STYLE.get(state, "green")))
    ]
    if state in _UNFINISHED_STYLE:
        rows.append(("go on with", resume_command(run_path)))
    rows.append(("tasks", str(counts["tasks"])))
    rows += [
        (Text(str(status), style=_STATUS_STYLE[status]), str(counts[str(status)]))
        for status in TaskStatus
        if counts[str(status)]
    ]
    duration = record["duration_seconds"]
    rows += [
        (
            "tokens",
            f"{counts['total_tokens']} ({counts['input_tokens']} in, "
            f"{counts['output_tokens']} out)",
        ),
        ("tool calls", str(counts["tool_calls"])),
        ("wall time", f"{duration:.1f}s" if duration is not None else "-"),
    ]
    tasks = record["tasks"]
    patches = sum(1 for task in tasks if task.get("patch"))
    if patches:
        rows.append(("patches", f"{patches} (copilot-batch apply {run_path})"))
    findings = Counter(
        str(finding.get("severity"))
        for task in tasks
        if isinstance(task.get("output"), dict) and isinstance(task["output"].get("findings"), list)
        for finding in task["output"]["findings"]
        if isinstance(finding, dict)
    )
    if findings:
        by_severity = ", ".join(f"{count} {severity}" for severity, count in findings.items())
        rows.append(("findings", f"{findings.total()} ({by_severity})"))
    rows += [("run folder", run_path), ("summary", f"{run_path}/summary.md")]
    for label, value in rows:
        line = Text()
        line.append(label if isinstance(label, Text) else Text(label))
        line.pad_right(12 - len(line))
        line.append(value)
        console.print(line, soft_wrap=True)
