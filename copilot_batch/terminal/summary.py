"""What the terminal shows of finished tasks and runs: a line per task, the summary."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ..records import RunStatus, TaskResult, TaskStatus, tokens_text
from ..run_folder import DEFAULT_OUT, RunFolder

_STATUS_STYLE = {
    TaskStatus.OK: "green",
    TaskStatus.FAILED: "red",
    TaskStatus.ERROR: "red",
    TaskStatus.TIMEOUT: "yellow",
    TaskStatus.LIMIT: "magenta",
    TaskStatus.CANCELLED: "yellow",
    TaskStatus.PENDING: "dim",
}


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
    if result.reused_from is not None:
        detail = f"reused from {result.reused_from}: {first_line(detail)}"
    line = Text()
    line.append(f"{result.status:<9}", style=style)
    line.append(f" {result.task.id:<{id_width}}  ", style="bold")
    usage = result.usage
    tokens = tokens_text(usage.total_tokens, usage.estimated_tokens, usage.reported)
    line.append(f"{duration}  {tokens} tok  {result.tool_calls} tools  ")
    if result.sandbox_denials:
        line.append(f"{result.sandbox_denials} blocked  ", style="yellow")
    line.append(first_line(detail, 70), style="dim" if result.status is TaskStatus.OK else style)
    return line


# How a run that did not finish ended, in the summary's colours.
_UNFINISHED_STYLE = {
    RunStatus.INTERRUPTED: "yellow",
    RunStatus.TIMED_OUT: "yellow",
    RunStatus.BUDGET_EXHAUSTED: "yellow",
    RunStatus.FAILED: "red",
}


def resume_command(run_path: str) -> str:
    """The command that goes on with the run in ``run_path``: its id, and --out unless the
    run is in the default folder."""
    path = Path(run_path)
    command = f"copilot-batch resume {shlex.quote(path.name)}"
    if path.parent != DEFAULT_OUT:
        command += f" --out {shlex.quote(str(path.parent))}"
    return command


def cost_rows(cost: Mapping[str, Any] | None) -> list[tuple[Text | str, str | Text]]:
    """The cost drivers of run.json's ``cost``: tokens by model, the tasks that spent most,
    the premium requests and AI credits where the usage events reported them."""
    if not cost:
        return []
    rows: list[tuple[Text | str, str | Text]] = []
    by_model = cost.get("tokens_by_model") or {}
    if by_model:
        models = (f"{model} {_tokens_of(usage)}" for model, usage in by_model.items())
        rows.append(("by model", ", ".join(models)))
    if cost.get("most_expensive"):
        tasks = (f"{task['id']} {_tokens_of(task)}" for task in cost["most_expensive"])
        rows.append(("most tokens", ", ".join(tasks)))
    for key, label in (("premium_requests", "premium req"), ("ai_credits", "AI credits")):
        if cost.get(key) is not None:
            rows.append((label, f"{cost[key]:g}"))
    return rows


def _tokens_of(record: Mapping[str, Any]) -> str:
    """A usage record's tokens (run folders before the estimate have none: all reported)."""
    return tokens_text(
        record["total_tokens"], record.get("estimated_tokens", 0), record.get("reported", True)
    )


def _tokens_row(counts: Mapping[str, Any]) -> str:
    """The run's tokens; and, when providers reported no usage for some tasks, how many,
    and the estimate limits and budgets counted for them."""
    reported = (
        f"{counts['total_tokens']} ({counts['input_tokens']} in, {counts['output_tokens']} out)"
    )
    without = counts.get("tasks_without_usage", 0)
    if not without:
        return reported
    return (
        f"≥ {reported}; {without} task(s) without usage, ~{counts['estimated_tokens']} "
        "estimated (counted toward limits and budgets)"
    )


def _sandbox_rows(record: Mapping[str, Any]) -> list[tuple[str, str | Text]]:
    """A row naming the tasks whose commands the OS sandbox blocked, when some were."""
    blocked = {
        task["id"]: task["sandbox_denials"]
        for task in record["tasks"]
        if task.get("sandbox_denials")
    }
    if not blocked:
        return []
    by_task = ", ".join(f"{task_id} ({count})" for task_id, count in blocked.items())
    text = f"{sum(blocked.values())} blocked: {by_task}"
    return [("sandbox", Text(text, style="yellow"))]


def print_summary(console: Console, record: Mapping[str, Any], run_path: str) -> None:
    """The closing summary: how the run ended (and, if it did not finish, how to go on),
    counts by status, tokens, wall time and where the files are."""
    counts = record["totals"]
    state = RunStatus(record["state"])
    rows: list[tuple[Text | str, str | Text]] = [
        ("state", Text(str(state), style=_UNFINISHED_STYLE.get(state, "green")))
    ]
    if state in _UNFINISHED_STYLE:
        more = " --max-tokens N" if state is RunStatus.BUDGET_EXHAUSTED else ""
        rows.append(("go on with", resume_command(run_path) + more))
    rows.append(("tasks", str(counts["tasks"])))
    rows += [
        (Text(str(status), style=_STATUS_STYLE[status]), str(counts[str(status)]))
        for status in TaskStatus
        if counts[str(status)]
    ]
    if counts.get("reused"):
        rows.append(("reused", f"{counts['reused']} (unchanged since an earlier run)"))
    if counts.get("rate_limited"):
        rows.append(
            ("429s", Text(f"{counts['rate_limited']} (the model rate-limited)", style="yellow"))
        )
    duration = record["duration_seconds"]
    rows.append(("tokens", _tokens_row(counts)))
    rows += cost_rows(record.get("cost"))
    rows += [
        ("tool calls", str(counts["tool_calls"])),
        *_sandbox_rows(record),
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
    rows += [("run folder", run_path), ("summary", str(RunFolder.ended(Path(run_path)).summary_md))]
    for label, value in rows:
        line = Text()
        line.append(label if isinstance(label, Text) else Text(label))
        line.pad_right(12 - len(line))
        line.append(value)
        console.print(line, soft_wrap=True)
