"""Usage a provider did not report, in the records: its arithmetic, its round trip through
result.json, run totals over old and new records, merged shards, and the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from run_records import task_record, write_run

from copilot_batch.cli import main
from copilot_batch.records import Usage, tokens_text
from copilot_batch.run_folder.reader import read_run
from copilot_batch.run_folder.reports import summary_markdown
from copilot_batch.run_folder.run_record import cost, totals

# A record written before unreported usage was told apart.
OLD_USAGE = {
    "input_tokens": 90,
    "output_tokens": 10,
    "cache_read_tokens": 5,
    "cache_write_tokens": 0,
    "total_tokens": 100,
}


def unreported(estimated: int, calls: int = 1, **reported: int) -> dict[str, Any]:
    usage = Usage(unreported_calls=calls, estimated_tokens=estimated, **reported)
    return usage.to_record()


def test_usage_adds_reported_and_estimated_tokens_apart() -> None:
    usage = Usage(input_tokens=90, output_tokens=10)
    assert (usage.reported, usage.total_tokens, usage.counted_tokens) == (True, 100, 100)
    usage.add(Usage(unreported_calls=1, estimated_tokens=2500))
    usage.add(Usage(input_tokens=5, output_tokens=1, cache_read_tokens=3))
    assert usage == Usage(
        input_tokens=95,
        output_tokens=11,
        cache_read_tokens=3,
        unreported_calls=1,
        estimated_tokens=2500,
    )
    assert (usage.reported, usage.total_tokens, usage.counted_tokens) == (False, 106, 2606)


def test_a_usage_record_round_trips_and_an_old_one_reads_as_reported() -> None:
    usage = Usage(input_tokens=7, output_tokens=3, unreported_calls=2, estimated_tokens=40)
    record = usage.to_record()
    assert (record["reported"], record["total_tokens"]) == (False, 10)
    assert Usage.from_record(json.loads(json.dumps(record))) == usage
    old = Usage.from_record(OLD_USAGE)
    assert (old.reported, old.estimated_tokens, old.total_tokens) == (True, 0, 100)


def test_tokens_are_a_lower_bound_with_the_estimate_when_some_went_unreported() -> None:
    assert tokens_text(100, 0) == "100"
    assert tokens_text(100, 2500, reported=False) == "≥ 100 (~2500 est.)"
    assert tokens_text(0, 0, reported=False) == "≥ 0 (~0 est.)"


def test_run_totals_count_the_tasks_without_usage_over_old_and_new_records() -> None:
    tasks = [
        task_record("old", usage=OLD_USAGE),
        task_record("partly", usage=unreported(300, input_tokens=40, output_tokens=2)),
        task_record("none", usage=unreported(900, calls=3)),
    ]
    counted = totals(tasks)
    assert counted["total_tokens"] == 142
    assert (counted["tasks_without_usage"], counted["unreported_calls"]) == (2, 4)
    assert counted["estimated_tokens"] == 1200
    assert "reported" not in counted
    assert totals([task_record("old", usage=OLD_USAGE)])["tasks_without_usage"] == 0


def test_the_most_expensive_tasks_count_their_estimate() -> None:
    tasks = [
        task_record("reported", usage=OLD_USAGE),
        task_record("estimated", usage=unreported(900)),
    ]
    ranked = cost(tasks)["most_expensive"]
    assert ranked == [
        {"id": "estimated", "total_tokens": 0, "estimated_tokens": 900},
        {"id": "reported", "total_tokens": 100, "estimated_tokens": 0},
    ]


def test_an_old_result_json_reads_and_reports_as_reported(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "r", [task_record("a", usage=OLD_USAGE)])
    run = read_run(folder)
    text = summary_markdown(run, run.results())
    assert "· 100 tokens ·" in text and "≥" not in text


def test_a_summary_names_the_tasks_without_usage(tmp_path: Path) -> None:
    folder = write_run(
        tmp_path / "r",
        [task_record("a", usage=OLD_USAGE), task_record("b", usage=unreported(900))],
    )
    run = read_run(folder)
    text = summary_markdown(run, run.results())
    assert "· ≥ 100 tokens (1 task(s) without usage, ~900 estimated) ·" in text
    assert "| `b` | ✅ ok | 1.5s | ≥ 0 (~900 est.) |" in text


def test_merged_shards_sum_the_unreported_usage_of_old_and_new_records(tmp_path: Path) -> None:
    shards = [
        write_run(tmp_path / "a", [task_record("one", usage=OLD_USAGE)]),
        write_run(tmp_path / "b", [task_record("two", usage=unreported(900, calls=2))]),
    ]
    arguments = ["merge", *map(str, shards), "--out", str(tmp_path / "out"), "--run-id", "m"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    merged = json.loads((tmp_path / "out" / "m" / "run.json").read_text())["totals"]
    assert (merged["total_tokens"], merged["tasks_without_usage"]) == (100, 1)
    assert (merged["unreported_calls"], merged["estimated_tokens"]) == (2, 900)
