"""The closing summary names how the run ended and, if it did not finish, how to go on."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from copilot_batch.run_folder.run_record import totals
from copilot_batch.terminal.summary import print_summary


def summary(state: str, run_path: str, **counts: int) -> str:
    record: dict[str, Any] = {
        "state": state,
        "totals": totals([]) | counts,
        "duration_seconds": 12.0,
        "tasks": [],
    }
    output = io.StringIO()
    print_summary(Console(file=output, width=200), record, run_path)
    return output.getvalue()


def test_a_finished_run_says_so_and_nothing_more() -> None:
    text = summary("finished", "runs/20261123-223656-cb50")
    assert text.splitlines()[0] == "state       finished"
    assert "resume" not in text
    assert "429s" not in text


def test_the_429s_of_a_rate_limited_run_are_named() -> None:
    text = summary("finished", "runs/20261123-223656-cb50", rate_limited=17)
    assert "429s        17 (the model rate-limited)" in text


def test_tokens_are_a_lower_bound_when_tasks_went_without_usage() -> None:
    reported = summary("finished", "runs/r", total_tokens=120, input_tokens=100, output_tokens=20)
    assert "tokens      120 (100 in, 20 out)\n" in reported
    text = summary(
        "finished", "runs/r", total_tokens=120, input_tokens=100, output_tokens=20,
        tasks_without_usage=2, estimated_tokens=9000,
    )  # fmt: skip
    assert (
        "tokens      ≥ 120 (100 in, 20 out); 2 task(s) without usage, ~9000 estimated "
        "(counted toward limits and budgets)"
    ) in text


@pytest.mark.parametrize("state", ["interrupted", "timed_out", "failed"])
def test_a_run_that_did_not_finish_names_the_resume_command(state: str) -> None:
    lines = summary(state, "runs/20261123-223656-cb50").splitlines()
    assert lines[:2] == [
        f"state       {state}",
        "go on with  copilot-batch resume 20261123-223656-cb50",
    ]


def test_the_resume_command_names_a_folder_other_than_the_default() -> None:
    text = summary("interrupted", "/tmp/nightly runs/r1")
    assert "go on with  copilot-batch resume r1 --out '/tmp/nightly runs'" in text
