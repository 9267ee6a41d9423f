"""results.jsonl, summary.md and junit.xml, made from a run folder on disk, and `show`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from click.testing import CliRunner
from run_records import task_record, write_run

from copilot_batch.cli import main
from copilot_batch.run_folder.reports import write_reports

FINDINGS = {
    "summary": "One problem.",
    "findings": [{"file": "a.py", "line": 3, "severity": "critical", "message": "x | y is unsafe"}],
}


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    records = [
        task_record("review", "ok", output=FINDINGS, final_message="```json\n{}\n```"),
        task_record("docs", "ok", final_message="Documented.\nMore.", changed_files=["m.py"],
                    patch="tasks/docs/changes.patch"),
        task_record("broken", "failed", error="query (HTTP 500): boom | bang\nsecond line"),
        task_record("later", "cancelled",
                    error="the run was interrupted before the task started"),
    ]  # fmt: skip
    return write_run(tmp_path / "r1", records, state="interrupted", duration_seconds=4.0)


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
    assert by_id.exit_code == 0, by_id.output
    assert "boom | bang" in by_id.output
    elsewhere = CliRunner().invoke(main, ["show", "r1", "--out", str(run_folder)])
    assert elsewhere.exit_code == 2
    assert elsewhere.stderr == "error: no run folder (with a run.json) at r1\n"
    one = CliRunner().invoke(main, ["show", str(run_folder), "review"])
    assert one.exit_code == 0, one.output
    assert '"severity": "critical"' in one.output
    missing = CliRunner().invoke(main, ["show", str(run_folder), "nope"])
    assert missing.exit_code == 2
    assert f"run {run_folder} has no task 'nope'" in missing.output


def test_show_without_summary_md_prints_the_summary_from_run_json(run_folder: Path) -> None:
    write_reports(run_folder)
    written = (run_folder / "summary.md").read_text()
    (run_folder / "summary.md").unlink()
    shown = CliRunner().invoke(main, ["show", str(run_folder)])
    assert shown.exit_code == 0, shown.output
    assert shown.output == written
    assert not (run_folder / "summary.md").exists()  # show reads; it writes nothing


def test_show_of_a_task_with_a_broken_result_names_the_file_and_field(run_folder: Path) -> None:
    result_file = run_folder / "tasks" / "review" / "result.json"
    record = json.loads(result_file.read_text())
    record["usage"]["total_tokens"] = "many"
    result_file.write_text(json.dumps(record))
    shown = CliRunner().invoke(main, ["show", str(run_folder), "review"])
    assert (shown.exit_code, shown.stdout) == (2, "")
    assert shown.stderr == (
        f'error: {result_file}: $.usage.total_tokens: expected integer, found "many"\n'
    )
    result_file.write_text(result_file.read_text()[:100])
    shown = CliRunner().invoke(main, ["show", str(run_folder), "review"])
    assert shown.stderr.startswith(f"error: {result_file} is not valid JSON (line ")


def test_text_xml_cannot_hold_is_replaced_in_junit_xml(tmp_path: Path) -> None:
    answer = "colour \x1b[31mred\x1b[0m and a bell \x07"
    folder = write_run(tmp_path / "r", [task_record("a", final_message=answer)])
    write_reports(folder)
    suite = ElementTree.parse(folder / "junit.xml").getroot()
    assert suite.findtext("testcase/system-out") == answer.replace("\x1b", "\ufffd").replace(
        "\x07", "\ufffd"
    )
