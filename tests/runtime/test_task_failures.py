"""A task's failure, checked without a CLI: what follows an attempt (next_step, a pure
function of its result and the tries so far), and how the failure is written (result.json's
``error``, ``error_type`` and ``status_code``, its text masked once the result is redacted)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch import TaskSpec, TaskStatus, load_jobs
from copilot_batch.errors import (
    CliProcessExited,
    ExternalFailure,
    OutputInvalidError,
    SessionError,
    TaskCancelled,
    TaskFailure,
    TaskTimeout,
)
from copilot_batch.records import TaskResult
from copilot_batch.redact import Redactor
from copilot_batch.runtime.task_runs import (
    RATE_LIMIT_RETRIES,
    Done,
    RetryAfterBackoff,
    RetryAfterRateLimit,
    RunAgainOnNewCli,
    next_step,
)
from copilot_batch.testing import write_job


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> TaskSpec:
    folder: Path = tmp_path_factory.mktemp("job")
    job = write_job(folder, "version: 1\ntasks:\n  - {id: t, prompt: Hi., retries: 2}\n")
    return load_jobs([job], environ={})[0].tasks[0]


def ended(task: TaskSpec, failure: TaskFailure | None, retries: int | None = None) -> TaskResult:
    if retries is not None:
        task = dataclasses.replace(task, retries=retries)
    result = TaskResult(task=task, status=TaskStatus.OK)
    if failure is not None:
        result.fail(TaskStatus.FAILED, failure)
    return result


def test_an_ok_attempt_ends_the_task(task: TaskSpec) -> None:
    assert next_step(ended(task, None), 1) == Done()


def test_a_transient_failure_is_tried_again_while_retries_last(task: TaskSpec) -> None:
    server_error = SessionError("query", "try later", 503)
    assert next_step(ended(task, server_error), 1) == RetryAfterBackoff(2)
    assert next_step(ended(task, server_error), 2) == RetryAfterBackoff(3)
    assert next_step(ended(task, server_error), 3) == Done()


def test_a_rate_limited_task_has_its_own_retries_then_the_tasks(task: TaskSpec) -> None:
    rate_limited = SessionError("rate_limit", "slow down", 429)
    for retries in (0, 2):
        result = ended(task, rate_limited, retries)
        steps = [next_step(result, 1, done) for done in range(RATE_LIMIT_RETRIES)]
        assert steps == [RetryAfterRateLimit(n) for n in range(1, RATE_LIMIT_RETRIES + 1)]
    # Once they are spent, the task's own retries.
    assert next_step(ended(task, rate_limited), 1, RATE_LIMIT_RETRIES) == RetryAfterBackoff(2)
    assert next_step(ended(task, rate_limited), 3, RATE_LIMIT_RETRIES) == Done()
    assert next_step(ended(task, rate_limited, 0), 1, RATE_LIMIT_RETRIES) == Done()


def test_failures_that_would_fail_again_are_not_retried(task: TaskSpec) -> None:
    for failure in (
        SessionError("query", "no such model", 400),
        TaskTimeout("timeout", 3),
        OutputInvalidError("no JSON", attempts=2),
        ExternalFailure(FileNotFoundError("gone"), transient=False),
        TaskCancelled("the run was interrupted", started=True),
    ):
        assert next_step(ended(task, failure), 1) == Done(), failure


def test_a_replaced_cli_runs_the_attempt_again_uncounted(task: TaskSpec) -> None:
    assert next_step(ended(task, CliProcessExited(replaced=True), 0), 5) == RunAgainOnNewCli()
    assert next_step(ended(task, CliProcessExited(replaced=False)), 1) == Done()


def test_a_connection_failure_is_transient_and_keeps_its_type_name(task: TaskSpec) -> None:
    result = ended(task, ExternalFailure(ConnectionResetError(), transient=True))
    assert (result.error, result.error_type) == ("ConnectionResetError", "ConnectionResetError")
    assert next_step(result, 1) == RetryAfterBackoff(2)


@pytest.mark.parametrize(
    ("status_code", "message", "transient"),
    [
        (408, "", True),
        (429, "", True),
        (500, "", True),
        (503, "", True),
        (400, "", False),
        (404, "", False),
        (None, "Failed to get response from the AI model; retried 5 times", True),
        (None, "tool loop", False),
    ],
)
def test_which_session_errors_are_transient(
    status_code: int | None, message: str, transient: bool
) -> None:
    assert SessionError("x", message, status_code).transient is transient


failures = st.one_of(
    st.none(),
    st.builds(SessionError, st.text(max_size=5), st.text(max_size=5), st.integers(100, 599)),
    st.builds(CliProcessExited, st.booleans()),
    st.builds(TaskTimeout, st.sampled_from(["timeout", "idle_timeout"]), st.floats(1, 9)),
    st.builds(ExternalFailure, st.just(OSError("x")), st.booleans()),
)


@given(
    failure=failures,
    retries=st.integers(0, 5),
    tries=st.integers(1, 7),
    rate_limited=st.integers(0, RATE_LIMIT_RETRIES + 2),
)
def test_next_step_follows_the_failure_and_the_tries_left(
    task: TaskSpec, failure: TaskFailure | None, retries: int, tries: int, rate_limited: int
) -> None:
    step = next_step(ended(task, failure, retries), tries, rate_limited)
    if isinstance(failure, CliProcessExited) and failure.replaced:
        assert step == RunAgainOnNewCli()
    elif (
        isinstance(failure, SessionError)
        and failure.status_code == 429
        and rate_limited < RATE_LIMIT_RETRIES
    ):
        assert step == RetryAfterRateLimit(rate_limited + 1)
    elif failure is not None and failure.transient and tries <= retries:
        assert step == RetryAfterBackoff(tries + 1)
    else:
        assert step == Done()


@given(retries=st.integers(0, 5), replaced_cli=st.integers(0, 3))
def test_a_failing_task_is_tried_retries_plus_one_times(
    task: TaskSpec, retries: int, replaced_cli: int
) -> None:
    """A task that always fails transiently, whose CLI is replaced ``replaced_cli`` times:
    those reruns are not counted against its retries, nor are the rate limit's retries."""
    tries, rate_limited, attempts, crashes = 1, 0, 0, replaced_cli
    while True:
        attempts += 1
        if crashes:
            crashes -= 1
            failure: TaskFailure = CliProcessExited(replaced=True)
        else:
            failure = SessionError("rate_limit", "", 429)
        step = next_step(ended(task, failure, retries), tries, rate_limited)
        if isinstance(step, Done):
            break
        if isinstance(step, RetryAfterBackoff):
            tries = step.tries
        if isinstance(step, RetryAfterRateLimit):
            rate_limited = step.rate_limited
    expected = retries + 1 + replaced_cli + RATE_LIMIT_RETRIES
    assert (attempts, tries) == (expected, retries + 1)


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
