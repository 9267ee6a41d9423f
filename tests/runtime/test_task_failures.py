"""A task's failure is kept as a TaskFailure and written as result.json's ``error``,
``error_type`` and ``status_code``, its text masked once the result is redacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_helpers import write_job

from copilot_batch import TaskSpec, TaskStatus, load_jobs
from copilot_batch.errors import (
    CliProcessExited,
    ExternalFailure,
    SessionError,
    TaskCancelled,
    TaskFailure,
    TaskTimeout,
)
from copilot_batch.records import TaskResult
from copilot_batch.redact import Redactor


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> TaskSpec:
    folder: Path = tmp_path_factory.mktemp("job")
    job = write_job(folder, "version: 1\ntasks:\n  - {id: t, prompt: Hi.}\n")
    return load_jobs([job], environ={})[0].tasks[0]


@pytest.mark.parametrize(
    ("failure", "written"),
    [
        (
            SessionError("rate_limit", "slow down", 429),
            ("rate_limit (HTTP 429): slow down", "SessionError", 429),
        ),
        (
            TaskTimeout("timeout", 3),
            ("timeout of 3s expired; the session was aborted", "TaskTimeout", None),
        ),
        (
            CliProcessExited(replaced=True),
            (
                "the Copilot CLI process exited during the task; it runs again on a new one",
                "CliProcessExited",
                None,
            ),
        ),
        (
            TaskCancelled("the run was interrupted", started=False),
            ("the run was interrupted before the task started", None, None),
        ),
        (
            ExternalFailure(ConnectionResetError("peer left"), transient=True),
            ("peer left", "ConnectionResetError", None),
        ),
        (ExternalFailure(TimeoutError(), transient=True), ("TimeoutError", "TimeoutError", None)),
    ],
)
def test_a_failure_is_written_as_before(
    task: TaskSpec, failure: TaskFailure, written: tuple[str, str | None, int | None]
) -> None:
    result = TaskResult(task=task)
    result.fail(TaskStatus.FAILED, failure)
    record = result.to_record(with_spec=True)
    assert (record["error"], record["error_type"], record["status_code"]) == written
    assert record["attempts"][-1]["error_type"] == written[1]


def test_an_exception_that_is_no_task_failure_keeps_its_type_name(task: TaskSpec) -> None:
    result = TaskResult(task=task)
    result.fail(TaskStatus.ERROR, FileNotFoundError("no such file: x"))
    assert isinstance(result.failure, ExternalFailure) and not result.transient
    assert (result.error, result.error_type) == ("no such file: x", "FileNotFoundError")


def test_a_redacted_result_masks_its_failure_everywhere(task: TaskSpec) -> None:
    result = TaskResult(task=task, final_message="the key is sk-secret-1")
    result.fail(TaskStatus.FAILED, SessionError("query", "bad key sk-secret-1", 401))
    result.redact(Redactor(["sk-secret-1"]))
    assert result.error == "query (HTTP 401): bad key ***"
    record = result.to_record(with_spec=True)
    assert (record["error"], record["final_message"]) == (result.error, "the key is ***")
    assert record["attempts"][-1]["error"] == result.error
