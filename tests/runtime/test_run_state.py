"""A run's wall time across resumes: each run's own time, without the gaps between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from copilot_batch.run_folder.reader import StoredRun
from copilot_batch.run_folder.run_record import run_record
from copilot_batch.runtime.earlier_run import wall_time_so_far

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def record(finished: float | None, earlier: float | None, resumed_from: float | None) -> Any:
    return run_record(
        run_id="r",
        state="finished" if finished is not None else "running",
        started_at=START,
        finished_at=START + timedelta(seconds=finished) if finished is not None else None,
        jobs=[],
        options={},
        environment={},
        records=[],
        earlier_seconds=earlier,
        resumed_from=START + timedelta(seconds=resumed_from) if resumed_from else None,
    )


def test_a_first_run_lasts_from_its_start_to_its_end() -> None:
    assert record(finished=None, earlier=None, resumed_from=None)["duration_seconds"] is None
    assert record(finished=90, earlier=None, resumed_from=None)["duration_seconds"] == 90


def test_a_resume_adds_its_own_time_to_the_earlier_runs() -> None:
    # The first run took 40 s; the resume, two hours later, took 20 s.
    assert record(finished=7220, earlier=40, resumed_from=7200)["duration_seconds"] == 60
    # While the resume lasts, run.json keeps the earlier runs' time.
    assert record(finished=None, earlier=40, resumed_from=7200)["duration_seconds"] == 40


def stored(record: dict[str, Any]) -> StoredRun:
    """An earlier run.json as the reader gives it (these records hold only what counts)."""
    return StoredRun(Path("runs/earlier"), record)


def test_an_ended_run_accounts_for_its_duration() -> None:
    assert wall_time_so_far(stored({"state": "interrupted", "duration_seconds": 12.5})) == 12.5


def test_a_run_killed_before_its_end_counts_until_the_last_task_it_recorded() -> None:
    killed_resume = {
        "state": "running",
        "duration_seconds": 40,  # the first run's, written when the resume started
        "started_at": at(0),
        "resumed_at": [at(7200)],
        "tasks": [
            {"finished_at": at(30)},  # kept from the first run
            {"finished_at": at(7225)},
            {"finished_at": None},
        ],
    }
    assert wall_time_so_far(stored(killed_resume)) == 65
    killed_first = {"state": "running", "duration_seconds": None, "started_at": at(0)}
    assert wall_time_so_far(stored({**killed_first, "tasks": [{"finished_at": at(8)}]})) == 8
    assert wall_time_so_far(stored({**killed_first, "tasks": [{"finished_at": None}]})) == 0
