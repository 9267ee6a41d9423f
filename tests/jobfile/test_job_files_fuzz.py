"""No job file crashes the loader: generated and hostile job files (job_file_cases.py) give
jobs or ``JobFilesInvalid``, never another exception, never hang, and stay within bounded
memory; whatever validates also lists, dry-runs, describes, dumps to JSON and hashes.

Each example runs in a forked child under a deadline and an address-space limit, so that a
hang or a memory blow-up fails the example instead of the suite. More examples:
``COPILOT_BATCH_FUZZ_EXAMPLES=5000 pytest tests/spec/test_job_files_fuzz.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import select
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from job_file_cases import ENVIRONMENT, Case, job_file_cases, make_arena

from copilot_batch import JobFilesInvalid, load_jobs
from copilot_batch.cli import main

EXAMPLES = int(os.environ.get("COPILOT_BATCH_FUZZ_EXAMPLES", "150"))
DEADLINE_SECONDS = 60.0  # per example: loading a 1 MiB job file, the largest, takes seconds
ADDRESS_SPACE_BYTES = 2 * 1024**3  # more than the child had at its start
MEMORY_GROWTH_BYTES = 512 * 1024**2  # a peak above the start counted as a blow-up
TASK_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
MAX_DURATION_SECONDS = 7 * 24 * 3600
CLI_URL = re.compile(r"(https?://)?(([A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):)?[0-9]{1,5}")


@dataclass(frozen=True)
class Outcome:
    """What became of one case: ``accepted`` and ``refused`` are the good ends."""

    kind: str  # accepted, refused, crash, hang, memory, wrongly accepted, bad error
    detail: str = ""


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_arena(tmp_path_factory.mktemp("arena"))


@pytest.mark.timeout(300 + EXAMPLES)  # about 0.1 s an example; more on a busy machine
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=job_file_cases())
def test_no_job_file_crashes_hangs_or_exhausts_the_loader(arena: Path, case: Case) -> None:
    outcome = run_isolated(case, arena)
    assert outcome.kind in ("accepted", "refused"), f"{case.label}: {outcome}"


def run_isolated(case: Case, arena: Path, deadline: float = DEADLINE_SECONDS) -> Outcome:
    """Check ``case`` in a forked child; a child that runs past ``deadline`` is a hang."""
    path = arena / (case.job_path or "job.yaml")
    if case.job_path is None:
        path.write_bytes(case.text)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and never returns
        os.close(reader)
        # Whatever becomes of the parent, the child does not outlive its deadline.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(deadline) + 10)
        try:
            report = _check(case, path)
        except BaseException as exc:
            report = Outcome("crash", f"the check itself: {_where(exc)}")
        os.write(writer, json.dumps(report.__dict__).encode()[:60_000])
        os._exit(0)
    os.close(writer)
    try:
        received, ended = _read_until(reader, time.monotonic() + deadline)
    finally:
        os.kill(child, signal.SIGKILL)  # gone already, or hung, or the test was interrupted
        _, status = os.waitpid(child, 0)
        os.close(reader)
    if not ended:
        return Outcome("hang", f"no answer within {deadline:g} s")
    if not received:
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return Outcome("memory" if killed else "crash", f"the child died ({_status(status)})")
    return Outcome(**json.loads(received))


def _read_until(reader: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([reader], [], [], left)
        if not ready:
            continue
        chunk = os.read(reader, 65_536)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _check(case: Case, path: Path) -> Outcome:
    """In the child: load, then use what loaded the ways the command line does."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + ADDRESS_SPACE_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard < 0 else min(limit, hard), hard))
    os.environ.update(ENVIRONMENT)
    start = _resident()
    outcome = _load_and_use(case, path)
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
    if outcome.kind in ("accepted", "refused") and growth > MEMORY_GROWTH_BYTES:
        return Outcome("memory", f"{growth // 1024**2} MiB more at the peak ({outcome.kind})")
    return outcome


def _load_and_use(case: Case, path: Path) -> Outcome:
    try:
        jobs = load_jobs([path], environ=ENVIRONMENT)
    except JobFilesInvalid as invalid:
        return _refused(invalid, path)
    except MemoryError as exc:
        return Outcome("memory", f"load_jobs: {_where(exc)}")
    except BaseException as exc:
        return Outcome("crash", f"load_jobs: {_where(exc)}")
    tasks = [task for job in jobs for task in job.tasks]
    try:
        for task in tasks:
            json.dumps(task.describe())
            task.spec_hash()
    except BaseException as exc:
        return Outcome("crash", f"describe/json/spec_hash: {_where(exc)}")
    for command in (["validate"], ["list"], ["run", "--dry-run"]):
        crash = _command_crash([*command, str(path)], expected_exit=0)
        if crash:
            return Outcome("crash", crash)
    wrong = _wrongly_accepted(case, tasks, jobs)
    return Outcome("wrongly accepted", wrong) if wrong else Outcome("accepted")


def _refused(invalid: JobFilesInvalid, path: Path) -> Outcome:
    if any("MemoryError" in error.message for error in invalid.errors):
        return Outcome("memory", "a MemoryError reported as a problem of the job file")
    for error in invalid.errors:
        if error.path != path or error.line < 1 or error.column < 1 or not error.message:
            return Outcome(
                "bad error", f"{error.path}:{error.line}:{error.column}: {error.message!r}"
            )
    crash = _command_crash(["validate", str(path)], expected_exit=2)
    return Outcome("crash", crash) if crash else Outcome("refused")


def _command_crash(arguments: list[str], *, expected_exit: int) -> str | None:
    """Why ``copilot-batch ARGUMENTS`` did not end as it should, or None."""
    result = CliRunner().invoke(main, arguments)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"copilot-batch {arguments[0]}: {_where(result.exception)}"
    if result.exit_code != expected_exit:
        return f"copilot-batch {arguments[0]} exited {result.exit_code}, not {expected_exit}"
    return None


def _wrongly_accepted(case: Case, tasks: list[Any], jobs: list[Any]) -> str | None:
    """Why what loaded should not have, or None."""
    if case.must_refuse:
        return f"accepted {case.must_refuse}"
    if case.expect_ids is not None and tuple(task.id for task in tasks) != case.expect_ids:
        return f"ids {[task.id for task in tasks]}, not {list(case.expect_ids)}"
    for task in tasks:
        if not TASK_ID.fullmatch(task.id) or task.id in (".", ".."):
            return f"task id {task.id[:50]!r}"
        durations = [task.timeout_seconds, task.idle_timeout_seconds, *task.retry_backoff]
        for seconds in durations:
            if seconds is not None and not (0 < seconds <= MAX_DURATION_SECONDS):
                return f"a duration of {seconds} s"
        if not _is_json(task.matrix_values):
            return f"matrix values JSON cannot hold: {str(task.matrix_values)[:80]}"
        try:
            json.dumps(task.describe(), allow_nan=False)
        except ValueError as exc:
            return f"describe(): {exc}"
        if not task.working_directory.is_dir():
            return f"working directory {str(task.working_directory)[:80]}"
    for job in jobs:
        if job.cli_url is not None and not CLI_URL.fullmatch(job.cli_url):
            return f"cli_url {job.cli_url[:50]!r}"
    return None


def _is_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _where(exc: BaseException) -> str:
    """The exception's type and the innermost frame of copilot_batch it passed through."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if "copilot_batch" in frame.filename] or frames[-1:]
    place = f" at {Path(ours[-1].filename).name}:{ours[-1].name}" if ours else ""
    return f"{type(exc).__name__}{place}: {str(exc)[:160]}"


def _address_space() -> int:
    return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _resident() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
