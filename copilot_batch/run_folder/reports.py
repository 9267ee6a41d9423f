"""Reports made from a run folder on disk: results.jsonl, summary.md, junit.xml and
report.html (:mod:`.html`).

They are read (by :mod:`.reader`) from ``run.json`` and each
``tasks/<id>/result.json``, which were redacted when written, so nothing here can reveal a
secret; and ``merge`` and ``show`` get the same reports from folders written by other
processes.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..records import TaskStatus, Usage, tokens_text
from .html import html_report
from .layout import RunFolder
from .reader import StoredRun, StoredTask, read_run
from .run_record import cost, totals

_STATUS_MARK = {
    TaskStatus.OK: "✅ ok",
    TaskStatus.FAILED: "❌ failed",
    TaskStatus.ERROR: "❌ error",
    TaskStatus.TIMEOUT: "⏱️ timeout",
    TaskStatus.LIMIT: "💸 limit",
    TaskStatus.CANCELLED: "⏹️ cancelled",
    TaskStatus.PENDING: "… pending",
}
# junit.xml's failures and skipped test cases; every other task passed.
_FAILING = (TaskStatus.FAILED, TaskStatus.ERROR, TaskStatus.TIMEOUT, TaskStatus.LIMIT)
_SKIPPED = (TaskStatus.CANCELLED, TaskStatus.PENDING)
_CELL_WIDTH = 100
# Characters XML 1.0 cannot hold (answers may carry terminal escapes).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def write_reports(run_path: Path) -> None:
    """Write results.jsonl, summary.md, junit.xml and report.html; append the summary to
    GitHub's step summary when ``GITHUB_STEP_SUMMARY`` names a file."""
    run = read_run(run_path)
    tasks = run.results()
    folder = RunFolder.ended(run_path)
    folder.write_text(folder.results_jsonl, results_jsonl(tasks))
    summary = summary_markdown(run, tasks)
    folder.write_text(folder.summary_md, summary)
    folder.write_text(folder.junit_xml, junit_xml(run, tasks))
    folder.write_text(folder.report_html, html_report(run, tasks, folder.redactor))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as file:
            file.write(summary + "\n")


def results_jsonl(tasks: Sequence[StoredTask]) -> str:
    """One JSON object per task, for pandas (``read_json(lines=True)``) and jq."""
    lines = [json.dumps(_results_line(task.record), ensure_ascii=False) for task in tasks]
    return "".join(line + "\n" for line in lines)


def _results_line(record: Mapping[str, Any]) -> dict[str, Any]:
    """A task's line of results.jsonl: its record's fields flat, ``reused_from`` only on
    a task an incremental run took from an earlier run."""
    usage = Usage.from_record(record["usage"])
    line = {
        "id": record["id"],
        "job": record["job"],
        "status": record["status"],
        "matrix": record.get("matrix", {}),
        "output": record.get("output"),
        "error": record.get("error"),
        "duration_seconds": record.get("duration_seconds"),
        "total_tokens": usage.total_tokens,
        "changed_files": record.get("changed_files", []),
        "answer": record.get("final_message"),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "attempts": record.get("attempt", 0),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        # false: the provider reported no usage for some model calls; the tokens above are
        # then a lower bound, and estimated_tokens the estimate for those calls.
        "usage_reported": usage.reported,
        "estimated_tokens": usage.estimated_tokens,
    }
    if record.get("reused_from"):
        line["reused_from"] = record["reused_from"]
    return line


def summary_markdown(run: StoredRun, tasks: Sequence[StoredTask]) -> str:
    """The run for people: totals, a table of tasks, findings and outputs, patches."""
    records = [task.record for task in tasks]
    counted = totals(records)
    counts = ", ".join(
        f"{counted[status]} {status}" for status in _STATUS_MARK if counted.get(status)
    )
    duration = run.record.get("duration_seconds")
    if counted["reused"]:
        counts += f" ({counted['reused']} reused from earlier runs)"
    lines = [
        f"# copilot-batch run `{run.run_id}` ({run.state})",
        "",
        f"**{counted['tasks']} tasks**: {counts or 'none'} · {_run_tokens(counted)} · "
        f"{counted['tool_calls']} tool calls · {counted['permission_denials']} permission "
        f"denials · {f'{duration:.1f}s' if duration is not None else 'still running'}",
        "",
        "| Task | Status | Duration | Tokens | Tools | Answer or error |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    lines += [_table_row(task) for task in tasks]
    lines += _cost_section(cost(records))
    lines += _outputs_section(records) + _changes_section(records)
    lines += _sandbox_section(records)
    return "\n".join(lines) + "\n"


def _table_row(task: StoredTask) -> str:
    record = task.record
    seconds = record.get("duration_seconds")
    cells = [
        f"`{task.id}`",
        _STATUS_MARK[task.status],
        f"{seconds:.1f}s" if seconds is not None else "-",
        _task_tokens(Usage.from_record(record["usage"])),
        str(record.get("tool_calls", 0)),
        _cell(_answer(task)),
    ]
    return "| " + " | ".join(cells) + " |"


def _run_tokens(counted: Mapping[str, Any]) -> str:
    """The run's tokens, and the tasks without reported usage with their estimate."""
    text = f"{counted['total_tokens']} tokens"
    if counted["tasks_without_usage"]:
        text = (
            f"≥ {text} ({counted['tasks_without_usage']} task(s) without usage, "
            f"~{counted['estimated_tokens']} estimated)"
        )
    return text


def _task_tokens(usage: Usage) -> str:
    return tokens_text(usage.total_tokens, usage.estimated_tokens, usage.reported)


def _answer(task: StoredTask) -> str:
    record = task.record
    if task.status is not TaskStatus.OK:
        return record.get("error") or ""
    if record.get("output") is not None:
        output = record["output"]
        if isinstance(output, dict) and isinstance(output.get("summary"), str):
            return str(output["summary"])
        return json.dumps(output, ensure_ascii=False)
    return record.get("final_message") or ""


def _cell(text: str, width: int | None = _CELL_WIDTH) -> str:
    """Text for one table cell: pipes escaped; its first line, cut to ``width`` characters,
    or with ``width=None`` all of it on one line."""
    if width is None:
        line = " ".join(text.split())
    else:
        line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if len(line) > width:
            line = line[: width - 1] + "…"
    return line.replace("|", "\\|")


def _cost_section(drivers: Mapping[str, Any]) -> list[str]:
    """Tokens by model, the tasks that spent most, premium requests and AI credits."""
    if not drivers["tokens_by_model"]:
        return []
    lines = ["", "## Cost", "", "| Model | Tokens | In | Out |", "| --- | ---: | ---: | ---: |"]
    lines += [
        f"| `{_cell(model)}` | {_task_tokens(Usage.from_record(usage))} "
        f"| {usage['input_tokens']} | {usage['output_tokens']} |"
        for model, usage in drivers["tokens_by_model"].items()
    ]
    ranked = ", ".join(
        f"`{t['id']}` {tokens_text(t['total_tokens'], t['estimated_tokens'])}"
        for t in drivers["most_expensive"]
    )
    lines += ["", f"Most tokens: {ranked}."]
    reported = [
        f"{label}: {drivers[key]:g}"
        for key, label in (("premium_requests", "Premium requests"), ("ai_credits", "AI credits"))
        if drivers[key] is not None
    ]
    if reported:
        lines += ["", " · ".join(reported) + " (as the usage events report them)."]
    return lines


def _outputs_section(records: Sequence[Mapping[str, Any]]) -> list[str]:
    with_output = [record for record in records if record.get("output") is not None]
    if not with_output:
        return []
    lines = ["", "## Outputs"]
    for record in with_output:
        output = record["output"]
        lines += ["", f"### `{record['id']}`", ""]
        findings = output.get("findings") if isinstance(output, dict) else None
        if isinstance(findings, list) and all(isinstance(f, dict) for f in findings):
            if not findings:
                lines.append("No findings.")
                continue
            lines += ["| Severity | File | Line | Finding |", "| --- | --- | ---: | --- |"]
            lines += [
                f"| {_cell(str(f.get('severity', '')))} | `{_cell(str(f.get('file', '')))}` "
                f"| {f.get('line', '')} | {_cell(str(f.get('message', '')), width=None)} |"
                for f in findings
            ]
        else:
            lines += ["```json", json.dumps(output, indent=2, ensure_ascii=False), "```"]
    return lines


def _sandbox_section(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every access the OS sandbox refused a command, by task."""
    blocked = [
        (record["id"], entry) for record in records for entry in record.get("sandbox_audit", [])
    ]
    if not blocked:
        return []
    lines = [
        "",
        "## Blocked by the sandbox",
        "",
        "| Task | Denied | Command |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{task_id}` | {_cell(str(entry['denial']))} | `{_cell(str(entry.get('command')))}` |"
        for task_id, entry in blocked
    ]
    return lines


def _changes_section(records: Sequence[Mapping[str, Any]]) -> list[str]:
    changed = [record for record in records if record.get("changed_files")]
    if not changed:
        return []
    lines = ["", "## Changes", "", "| Task | Files | Patch |", "| --- | --- | --- |"]
    for record in changed:
        files = ", ".join(f"`{name}`" for name in record["changed_files"])
        lines.append(f"| `{record['id']}` | {files} | `{record.get('patch') or '-'}` |")
    return lines


def junit_xml(run: StoredRun, tasks: Sequence[StoredTask]) -> str:
    """One test case per task: failures for failed, error and timeout; skipped for the rest."""
    suite = ElementTree.Element(
        "testsuite",
        name=f"copilot-batch {run.run_id}",
        tests=str(len(tasks)),
        failures=str(sum(task.status in _FAILING for task in tasks)),
        errors="0",
        skipped=str(sum(task.status in _SKIPPED for task in tasks)),
        time=f"{run.record.get('duration_seconds') or 0:.3f}",
    )
    for task in tasks:
        _test_case(suite, task)
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _test_case(suite: ElementTree.Element, task: StoredTask) -> None:
    record = task.record
    case = ElementTree.SubElement(
        suite,
        "testcase",
        classname=record["job"],
        name=task.id,
        time=f"{record.get('duration_seconds') or 0:.3f}",
    )
    error = _xml_text(record.get("error") or "")
    if task.status in _FAILING:
        kind = str(task.status)
        failure = ElementTree.SubElement(case, "failure", message=_cell(error), type=kind)
        failure.text = error
    elif task.status in _SKIPPED:
        ElementTree.SubElement(case, "skipped", message=_cell(error))
    answer = record.get("final_message")
    if answer:
        ElementTree.SubElement(case, "system-out").text = _xml_text(answer)


def _xml_text(text: str) -> str:
    """``text`` without the characters XML cannot hold, so junit.xml stays well-formed."""
    return _NOT_XML.sub("\ufffd", text)
