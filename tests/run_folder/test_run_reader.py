"""The run folder reader: what it says about each kind of broken file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from run_records import task_record, write_run

from copilot_batch.errors import RunFolderError, RunNotFoundError
from copilot_batch.records import RunStatus
from copilot_batch.run_folder.reader import (
    RUN_STATES,
    name_problem,
    read_result,
    read_run,
    read_summary,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_run(tmp_path / "r", [task_record("a"), task_record("b", "failed")])


def edit_run(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    record = json.loads((folder / "run.json").read_text())
    change(record)
    (folder / "run.json").write_text(json.dumps(record))


def test_a_valid_folder_reads_with_times_parsed(folder: Path) -> None:
    run = read_run(folder)
    assert run.run_id == "r"
    assert [task.id for task in run.tasks] == ["a", "b"]
    assert run.started_at.utcoffset() is not None
    assert [task.status for task in run.results()] == ["ok", "failed"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is not valid JSON (line 1, column 1: Expecting value)"),
        ('{"run_id": "r", ', "is not valid JSON (line 1, column 17: Expecting property name"),
        ("[" * 100_000, "is not valid JSON: nested too deeply"),
        ('{"a": NaN}', "is not valid JSON: NaN is not a JSON number"),
        ("1" * 5000, "is not valid JSON: Exceeds the limit (4300 digits)"),
        ('{"run_id": "\\ud800"}', "holds half of a UTF-16 surrogate pair"),
        ("[]", ": $: expected object, found []"),
    ],
)
def test_a_run_json_that_is_not_json_of_the_right_kind(
    folder: Path, text: str, problem: str
) -> None:
    (folder / "run.json").write_text(text)
    with pytest.raises(RunFolderError) as caught:
        read_run(folder)
    assert str(caught.value).startswith(f"{folder / 'run.json'}{'' if problem[0] == ':' else ' '}")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["tasks"][1].update(status=5), "$.tasks[1].status: expected one of pending,"),
        (lambda r: r["tasks"][0].pop("usage"), "$.tasks[0]: misses the key 'usage'"),
        (
            lambda r: r.update(state="paused"),
            "$.state: expected one of finished, budget_exhausted, timed_out,",
        ),
        (
            lambda r: r.update(started_at="2026-01-02T03:04:05"),
            '$.started_at: "2026-01-02T03:04:05" is a time without a UTC offset',
        ),
        (lambda r: r.update(started_at="soon"), '$.started_at: "soon" is not an ISO 8601 time'),
        (
            lambda r: r["tasks"][0].update(id="../../etc"),
            "$.tasks[0].id: expected a name of letters, digits, '.', '_' or '-', "
            'found "../../etc"',
        ),
        (
            lambda r: r["tasks"][0].update(patch="/etc/passwd"),
            '$.tasks[0].patch: expected tasks/<id>/changes.patch, found "/etc/passwd"',
        ),
        (lambda r: r.update(run_id="x" * 10_000), "$.run_id: expected a name of letters"),
        (lambda r: r["tasks"].append(r["tasks"][0]), "$.tasks: lists task 'a' more than once"),
        (
            lambda r: r["job_files"][0].update(path="job\0.yaml"),
            '$.job_files[0].path: expected a path, found "job\\u0000.yaml"',
        ),
    ],
)
def test_a_run_json_of_the_wrong_shape_names_the_field(
    folder: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    edit_run(folder, change)
    with pytest.raises(RunFolderError) as caught:
        read_run(folder)
    assert str(caught.value).startswith(f"{folder / 'run.json'}: {message}")
    assert len(str(caught.value)) < 300  # a long value is cut short


def test_what_is_not_a_file_is_named(folder: Path) -> None:
    (folder / "run.json").unlink()
    (folder / "run.json").mkdir()
    with pytest.raises(RunFolderError, match=r"run\.json cannot be read: it is a folder$"):
        read_run(folder)
    (folder / "run.json").rmdir()
    os.mkfifo(folder / "run.json")  # reading a FIFO would wait for a writer forever
    with pytest.raises(RunFolderError, match="it is not a regular file"):
        read_run(folder)
    (folder / "run.json").unlink()
    with pytest.raises(RunNotFoundError):
        read_run(folder)


def test_a_missing_tasks_folder_and_a_broken_result(folder: Path) -> None:
    result_file = folder / "tasks" / "b" / "result.json"
    result_file.write_bytes(b'{"id": "b", \xff}')
    with pytest.raises(RunFolderError, match=r"b/result\.json is not UTF-8 text \(byte 12\)"):
        read_run(folder).results()
    result_file.write_text(json.dumps(task_record("a")))
    with pytest.raises(RunFolderError, match=r"\$\.id: expected 'b' \(its folder\), found \"a\""):
        read_result(folder, "b")
    result_file.unlink()
    assert read_result(folder, "b") is None  # the run.json entry stands in for it
    assert read_run(folder).results()[1] == read_run(folder).tasks[1]
    for path in sorted((folder / "tasks").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (folder / "tasks").rmdir()
    with pytest.raises(RunFolderError, match=r"tasks is missing, though the run has 2 task\(s\)"):
        read_run(folder)


def test_a_summary_that_cannot_be_read_is_none(folder: Path) -> None:
    assert read_summary(folder) is None
    (folder / "summary.md").write_bytes(b"\xff")
    assert read_summary(folder) is None
    (folder / "summary.md").write_text("# run")
    assert read_summary(folder) == "# run"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\0b", "é", "x" * 129, "a b"])
def test_names_that_cannot_name_a_folder(name: str) -> None:
    assert name_problem(name, "the run id") is not None


@pytest.mark.parametrize("name", ["r", "20261123-223656-cb50", "...", ".hidden", "x" * 128])
def test_names_that_can(name: str) -> None:
    assert name_problem(name, "the run id") is None


def test_every_run_state_has_its_place_from_best_to_worst() -> None:
    """merge ranks shards' states by this order: a state left out would crash it."""
    assert sorted(RUN_STATES) == sorted(RunStatus)
