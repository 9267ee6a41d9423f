"""report.html: the data it embeds (events kept and cut, texts shared, attempts, concurrency),
its embedding that no string can break out of, a real run's page without its secret, the
page written by every run, merge and resume, and ``view``. The page in a browser is tested
in tests/browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from run_records import task_record, write_run

from copilot_batch.cli import main
from copilot_batch.run_folder.html.data import (
    MAX_TEXT,
    SharedTexts,
    concurrency_steps,
    report_data,
    shown_events,
)
from copilot_batch.run_folder.html.page import page
from copilot_batch.run_folder.reader import read_run
from copilot_batch.runtime import RunOptions
from copilot_batch.runtime.resume import resume_run
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import one_tool_conversation, run_job_files

DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def line(kind: str, attempt: int = 1, **data: Any) -> dict[str, Any]:
    return {"received_at": "2026-01-02T03:04:05+00:00", "attempt": attempt,
            "event": {"type": kind, "data": data, "id": "x"}}  # fmt: skip


def embedded(html: str) -> Any:
    found = DATA.search(html)
    assert found is not None
    return json.loads(found.group(1))


def test_only_shown_events_are_kept_long_results_cut_and_system_messages_first() -> None:
    events = [
        line("user.message", content="Do it.", transformedContent="<time/> Do it."),
        line("system.message", content="You are Copilot."),
        line("assistant.message_delta", deltaContent="D"),
        line("model.messages_snapshot", messages=["big"]),
        line("tool.execution_start", toolCallId="t0", toolName="view", arguments={"path": "a"}),
        line("tool.execution_complete", toolCallId="t0", success=True,
             result={"content": "short", "detailedContent": "x" * (MAX_TEXT + 5)}),
        line("assistant.message", content="Done.", toolRequests=[{"name": "view"}]),
        line("system.message", attempt=2, content="You are Copilot."),
    ]  # fmt: skip
    shared = SharedTexts()
    shown = shown_events(events, shared)
    assert [(event["type"], event["attempt"]) for event in shown] == [
        ("system.message", 1), ("user.message", 1), ("tool.execution_start", 1),
        ("tool.execution_complete", 1), ("assistant.message", 1), ("system.message", 2),
    ]  # fmt: skip
    assert shown[1]["data"] == {"content": "Do it."}
    assert shown[3]["data"]["result"] == {"text": "x" * MAX_TEXT, "truncated_from": MAX_TEXT + 5}
    assert shown[4]["data"] == {"content": "Done."}
    assert shown[0]["data"] == shown[5]["data"] == {"content": {"ref": 0}}
    assert shared.texts == ["You are Copilot."]


def test_attempts_and_concurrency_come_from_the_tasks_times(tmp_path: Path) -> None:
    at = "2026-01-02T03:04:{:02d}+00:00".format
    retried = task_record("retried", started_at=at(20), finished_at=at(30), attempt=2,
                          attempts=[{"attempt": 1, "status": "error", "started_at": at(6),
                                     "finished_at": at(10), "error": "HTTP 429"}])  # fmt: skip
    other = task_record("other", started_at=at(8), finished_at=at(20))
    folder = write_run(tmp_path / "r", [retried, other])
    run = read_run(folder)
    data = report_data(run, run.results(), lambda _id: [], lambda _task: None)
    attempts = data["tasks"][0]["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "error"), (2, "ok")]
    # Run started at :05; a finish and a start at :20 leave one session running.
    assert concurrency_steps(run, run.results()) == [
        [0.0, 0.0], [1.0, 1.0], [3.0, 2.0], [5.0, 1.0], [15.0, 1.0], [25.0, 0.0],
    ]  # fmt: skip


def test_no_string_in_the_data_can_end_its_script_element(tmp_path: Path) -> None:
    hostile = '</script><script>alert(1)</script><!-- <img src=x onerror="alert(2)">'
    record = task_record("t.1", final_message=hostile, error=hostile, job=hostile)
    folder = write_run(tmp_path / "r", [record])
    run = read_run(folder)
    html = page(report_data(run, run.results(), lambda _id: [], lambda _task: hostile))
    assert html.lower().count("</script") == 2  # the data's and the script's own
    assert "<img" not in html and "<!--" not in html
    data = embedded(html)
    assert data["tasks"][0]["final_message"] == hostile
    assert data["tasks"][0]["patch"] == {"text": hostile}
    assert "<title>copilot-batch run r</title>" in html


def test_the_page_asks_for_nothing_over_the_network(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "r", [task_record("one")])
    run = read_run(folder)
    html = page(report_data(run, run.results(), lambda _id: [], lambda _task: None))
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "fetch(" not in html and "XMLHttpRequest" not in html


SECRET = "sk-planted-7f3e9a1c5b"
ECHO_TOOL = """
from copilot import define_tool
from pydantic import BaseModel

class Text(BaseModel):
    text: str

@define_tool(description="Say the text back")
def echo(params: Text) -> str:
    return params.text
"""


def secret_run_job(tmp_path: Path, base_url: str) -> Path:
    """A job whose provider key is SECRET; its tasks echo the key through a tool and say it,
    and write it into a file of a copied workspace."""
    (tmp_path / "job_tools.py").write_text(textwrap.dedent(ECHO_TOOL))
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("status: draft\n")
    job = {
        "version": 1,
        "defaults": {
            "model": "gpt-4.1",
            "provider": {"type": "openai", "base_url": base_url, "api_key": SECRET},
            "permissions": "approve-all",
            "working_directory": "work",
        },
        "tasks": [
            {"id": "echo", "prompt": "Echo the key.", "tools": {"custom": ["job_tools:echo"]}},
            {"id": "edit", "prompt": "Write the key.", "workspace": "copy"},
        ],
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def secret_script(tmp_path: Path) -> Path:
    conversations = [
        one_tool_conversation("Echo the key.", "echo", {"text": SECRET}, SECRET,
                              f"The key is **{SECRET}**."),
        one_tool_conversation("Write the key.", "edit",
                              {"path": "${workdir}/notes.txt", "old_str": "draft",
                               "new_str": SECRET},
                              "File ${workdir}/notes.txt updated with changes.",
                              f"Wrote {SECRET}."),
    ]  # fmt: skip
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": conversations}))
    return script


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_run_leaves_a_report_without_its_secret_and_resume_writes_it_again(
    tmp_path: Path,
) -> None:
    async with ScriptedModel(load_scripts([secret_script(tmp_path)])) as model:
        job = secret_run_job(tmp_path, model.base_url)
        ran = await run_job_files([job], tmp_path / "runs")
        assert ran.exit_code == 0
        report = ran.folder / "report.html"
        html = report.read_text(encoding="utf-8")
        assert SECRET not in html
        tasks = {task["id"]: task for task in embedded(html)["tasks"]}
        assert tasks["echo"]["final_message"] == "The key is *******."
        complete = [e for e in tasks["echo"]["events"] if e["type"] == "tool.execution_complete"]
        assert complete[0]["data"]["result"] == {"text": "***"}
        assert "+status: ***" in tasks["edit"]["patch"]["text"]

        report.unlink()
        resumed = await resume_run(ran.folder, RunOptions())
        assert resumed.exit_code == 0
        assert SECRET not in report.read_text(encoding="utf-8")


def test_a_merge_writes_the_merged_runs_report(tmp_path: Path) -> None:
    shards = [
        write_run(tmp_path / "a", [task_record("one")], options={"only": [], "shard": "1/2"}),
        write_run(tmp_path / "b", [task_record("two")], options={"only": [], "shard": "2/2"}),
    ]
    arguments = ["merge", *map(str, shards), "--out", str(tmp_path / "out"), "--run-id", "m"]
    merged = CliRunner().invoke(main, arguments)
    assert merged.exit_code == 0, merged.output
    data = embedded((tmp_path / "out" / "m" / "report.html").read_text(encoding="utf-8"))
    assert [task["id"] for task in data["tasks"]] == ["one", "two"]


def test_view_writes_the_report_and_prints_its_url(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "runs" / "r", [task_record("one")])
    by_path = CliRunner().invoke(main, ["view", str(folder)])
    assert by_path.exit_code == 0, by_path.output
    assert by_path.output == (folder / "report.html").resolve().as_uri() + "\n"
    by_id = CliRunner().invoke(main, ["view", "r", "--out", str(tmp_path / "runs")])
    assert by_id.output == by_path.output
    missing = CliRunner().invoke(main, ["view", "nowhere", "--out", str(tmp_path / "runs")])
    assert missing.exit_code == 2
    assert missing.stderr == "error: no run folder (with a run.json) at nowhere\n"


def test_view_open_hands_the_url_to_the_browser(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "r", [task_record("one")])
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {**os.environ, "BROWSER": f"{sys.executable} {browser} %s"}
    done = subprocess.run(
        [sys.executable, "-m", "copilot_batch", "view", str(folder), "--open"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert opened.read_text() == (folder / "report.html").resolve().as_uri()
