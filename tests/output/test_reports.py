"""results.jsonl, summary.md and junit.xml, made from a run folder on disk, and `show`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from copilot_batch.cli import main
from copilot_batch.output.reports import write_reports

FINDINGS = {
    "summary": "One problem.",
    "findings": [{"file": "a.py", "line": 3, "severity": "critical", "message": "x | y is unsafe"}],
}


def task(task_id: str, status: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": task_id,
        "job": "demo",
        "status": status,
        "duration_seconds": 1.5,
        "final_message": None,
        "usage": {"total_tokens": 10},
        "tool_calls": 1,
        "permission_denials": 0,
        "error": None,
        "output": None,
        "changed_files": [],
        "patch": None,
        "matrix": {"n": task_id},
    }
    record.update(fields)
    return record


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    records = [
        task("review", "ok", output=FINDINGS, final_message="```json\n{}\n```"),
        task("docs", "ok", final_message="Documented.\nMore.", changed_files=["m.py"],
             patch="tasks/docs/changes.patch"),
        task("broken", "failed", error="query (HTTP 500): boom | bang\nsecond line"),
        task("later", "cancelled", error="the run was interrupted before the task started"),
    ]  # fmt: skip
    run = {
        "run_id": "r1",
        "state": "interrupted",
        "duration_seconds": 4.0,
        "totals": {"tasks": 4, "ok": 2, "failed": 1, "cancelled": 1, "total_tokens": 40,
                   "tool_calls": 4, "permission_denials": 0},
        "tasks": [{"id": r["id"], "status": r["status"]} for r in records],
    }  # fmt: skip
    (tmp_path / "run.json").write_text(json.dumps(run))
    for record in records:
        (tmp_path / "tasks" / record["id"]).mkdir(parents=True)
        (tmp_path / "tasks" / record["id"] / "result.json").write_text(json.dumps(record))
    return tmp_path


def test_reports_from_a_run_folder(run_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step_summary = run_folder / "step-summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    write_reports(run_folder)

    lines = [json.loads(line) for line in (run_folder / "results.jsonl").read_text().splitlines()]
    assert [(line["id"], line["status"]) for line in lines] == [
        ("review", "ok"), ("docs", "ok"), ("broken", "failed"), ("later", "cancelled"),
    ]  # fmt: skip
    assert lines[0]["output"] == FINDINGS and lines[0]["matrix"] == {"n": "review"}
    assert lines[1]["changed_files"] == ["m.py"]

    summary = (run_folder / "summary.md").read_text()
    assert summary.startswith("# copilot-batch run `r1` (interrupted)")
    assert "**4 tasks**: 2 ok, 1 failed, 1 cancelled" in summary
    assert "| `review` | ✅ ok | 1.5s | 10 | 1 | One problem. |" in summary
    assert "| `docs` | ✅ ok | 1.5s | 10 | 1 | Documented. |" in summary
    assert "| `broken` | ❌ failed | 1.5s | 10 | 1 | query (HTTP 500): boom \\| bang |" in summary
    assert "| critical | `a.py` | 3 | x \\| y is unsafe |" in summary
    assert "| `docs` | `m.py` | `tasks/docs/changes.patch` |" in summary
    assert step_summary.read_text() == "earlier step\n" + summary + "\n"

    suite = ElementTree.parse(run_folder / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["broken"].find("failure")
    assert failure is not None and failure.get("type") == "failed"
    assert failure.text == "query (HTTP 500): boom | bang\nsecond line"
    assert cases["later"].find("skipped") is not None
    assert cases["docs"].findtext("system-out") == "Documented.\nMore."
    assert cases["review"].find("failure") is None


def test_show_prints_the_summary_or_one_task(run_folder: Path) -> None:
    write_reports(run_folder)
    summary = CliRunner().invoke(main, ["show", str(run_folder)])
    assert summary.exit_code == 0, summary.output
    assert "copilot-batch run `r1`" in summary.output
    by_id = CliRunner().invoke(main, ["show", "r1", "broken", "--out", str(run_folder.parent)])
    assert by_id.exit_code == 2  # the folder is not named r1: the id does not resolve
    one = CliRunner().invoke(main, ["show", str(run_folder), "review"])
    assert one.exit_code == 0, one.output
    assert '"severity": "critical"' in one.output
    missing = CliRunner().invoke(main, ["show", str(run_folder), "nope"])
    assert missing.exit_code == 2
    assert f"run {run_folder} has no task 'nope'" in missing.output
