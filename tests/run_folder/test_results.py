"""results.jsonl's fields and `copilot-batch show --json`: from records, and from real runs
(the real Copilot CLI at the scripted model, incremental runs too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from run_records import FINISHED, STARTED, task_record, write_run

from copilot_batch.cli import main
from copilot_batch.run_folder import StoredTask
from copilot_batch.run_folder.reports import results_jsonl
from copilot_batch.testing import write_job, write_script

USAGE = {
    "input_tokens": 7,
    "output_tokens": 3,
    "cache_read_tokens": 0,
    "cache_write_tokens": 0,
    "total_tokens": 10,
}
JOB = """
    version: 1
    tasks:
      - {id: greet, prompt: Say hello.}
      - {id: lost, prompt: Nobody scripted this.}
    """


def lines_of(*records: dict[str, Any]) -> list[dict[str, Any]]:
    text = results_jsonl([StoredTask(record) for record in records])
    return [json.loads(line) for line in text.splitlines()]


def test_a_line_carries_the_answer_times_attempts_and_token_split() -> None:
    (line,) = lines_of(task_record("a", final_message="Hi.", usage=USAGE, attempt=2))
    assert line == {
        "id": "a",
        "job": "demo",
        "status": "ok",
        "matrix": {"n": "a"},
        "output": None,
        "error": None,
        "duration_seconds": 1.5,
        "total_tokens": 10,
        "changed_files": [],
        "answer": "Hi.",
        "started_at": STARTED,
        "finished_at": FINISHED,
        "attempts": 2,
        "input_tokens": 7,
        "output_tokens": 3,
        "usage_reported": True,  # a record from before unreported usage was told apart
        "estimated_tokens": 0,
    }


def test_a_line_says_when_the_provider_reported_no_usage_and_the_estimate() -> None:
    usage = {**USAGE, "reported": False, "unreported_calls": 2, "estimated_tokens": 2500}
    (line,) = lines_of(task_record("a", usage=usage))
    assert (line["total_tokens"], line["usage_reported"], line["estimated_tokens"]) == (
        10, False, 2500,
    )  # fmt: skip


def test_reused_from_only_on_a_reused_task() -> None:
    reused, fresh = lines_of(task_record("a", reused_from="r0", attempt=0), task_record("b"))
    assert (reused["reused_from"], reused["attempts"]) == ("r0", 0)
    assert "reused_from" not in fresh


def test_a_task_that_never_started_has_null_times_and_no_answer() -> None:
    record = task_record("a", "cancelled", started_at=None, finished_at=None, attempt=0)
    (line,) = lines_of(record)
    assert (line["answer"], line["started_at"], line["finished_at"]) == (None, None, None)
    assert (line["attempts"], line["input_tokens"], line["output_tokens"]) == (0, 10, 0)


def test_show_json_prints_run_json_or_result_json_and_nothing_else(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "r1", [task_record("a", final_message="Ünïcode ✓")])
    shown = CliRunner().invoke(main, ["show", str(folder), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == json.loads((folder / "run.json").read_text())
    one = CliRunner().invoke(main, ["show", "r1", "a", "--json", "--out", str(tmp_path)])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout) == json.loads((folder / "tasks/a/result.json").read_text())
    assert one.stdout.isascii()


@pytest.mark.parametrize("task", [[], ["a"], ["nope"]])
def test_show_json_of_a_bad_run_or_task_exits_2_with_stdout_empty(
    tmp_path: Path, task: list[str]
) -> None:
    folder = write_run(tmp_path / "r1", [task_record("a")])
    (folder / "run.json").write_text("{")
    (folder / "tasks/a/result.json").write_text("[]")
    shown = CliRunner().invoke(main, ["show", str(folder), *task, "--json"])
    assert (shown.exit_code, shown.stdout) == (2, "")
    assert shown.stderr.startswith("error: ") and shown.stderr.count("\n") == 1
    missing = CliRunner().invoke(main, ["show", str(tmp_path / "gone"), *task, "--json"])
    assert (missing.exit_code, missing.stdout) == (2, "")
    assert missing.stderr == f"error: no run folder (with a run.json) at {tmp_path / 'gone'}\n"


def run_cli(*arguments: str) -> None:
    ran = CliRunner().invoke(main, ["run", *arguments, "-q"])
    assert ran.exit_code == 1, ran.output  # "lost" fails


def read_lines(run: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    return {line["id"]: line for line in lines}


def show_json(*arguments: str) -> Any:
    shown = CliRunner().invoke(main, ["show", *arguments, "--json"])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)


@pytest.mark.cli
def test_a_real_run_writes_the_new_fields_and_show_json_matches_its_records(
    tmp_path: Path,
) -> None:
    job = write_job(tmp_path, JOB)
    script = write_script(tmp_path, [{"messages": [
        {"role": "system", "content": "${system}"},
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": "Hello!"},
    ]}])  # fmt: skip
    runs = tmp_path / "runs"
    common = [str(job), "--replay", str(script), "--out", str(runs), "--incremental"]
    run_cli(*common, "--run-id", "first")
    run_cli(*common, "--run-id", "second")

    first = read_lines(runs / "first")
    for task_id, line in first.items():
        result = json.loads((runs / "first" / "tasks" / task_id / "result.json").read_text())
        assert line["answer"] == result["final_message"]
        assert (line["started_at"], line["finished_at"]) == (
            result["started_at"], result["finished_at"],
        )  # fmt: skip
        assert line["attempts"] == result["attempt"] >= 1
        assert line["input_tokens"] == result["usage"]["input_tokens"]
        assert line["output_tokens"] == result["usage"]["output_tokens"]
        assert "reused_from" not in line
        assert show_json(str(runs / "first"), task_id) == result
    assert (first["greet"]["status"], first["greet"]["answer"]) == ("ok", "Hello!")
    assert first["greet"]["input_tokens"] > 0 and first["greet"]["output_tokens"] > 0
    assert (first["lost"]["status"], first["lost"]["answer"]) == ("failed", None)

    second = read_lines(runs / "second")
    assert second["greet"]["reused_from"] == "first"
    assert (second["greet"]["answer"], second["greet"]["attempts"]) == ("Hello!", 0)
    assert second["greet"]["input_tokens"] == second["greet"]["output_tokens"] == 0
    assert "reused_from" not in second["lost"] and second["lost"]["attempts"] >= 1
    run_json = json.loads((runs / "second" / "run.json").read_text())
    assert show_json("second", "--out", str(runs)) == run_json
