"""Broken run folders given to show, resume, apply and merge: a clear error, never a crash.

Two shards of one job run once through the real Copilot CLI and the scripted model (which
leaves usage out of streamed replies, so some records hold unreported usage); each example
copies them, damages the copy (mutations drawn by Hypothesis) and runs every command
that reads run folders on it through click. Examples: COPILOT_BATCH_FUZZ_EXAMPLES (100).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from run_folder_mutations import Mutation, mutations

from copilot_batch.cli import main

SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "scripts"
SCRIPT_FILES = ("greetings.yaml", "edit_notes.yaml")
EXAMPLES = int(os.environ.get("COPILOT_BATCH_FUZZ_EXAMPLES", "100"))
# The job's tasks fall into the two shards by a hash of their ids.
SHARD_A = ["hello-1", "edit", "lost"]  # shard 2/2: ok, ok with a patch, failed
SHARD_B = ["hello-2", "hello-3"]  # shard 1/2
# Streamed replies come without usage: the hello tasks' records say so, and estimate it.
JOB = """\
version: 1
defaults:
  provider: {type: openai, base_url: "MODEL_URL", api_key: not-a-secret}
tasks:
  - {id: "hello-{{ n }}", prompt: Say hello., matrix: {n: [1, 2, 3]}, model: gpt-4.1,
     streaming: true}
  - {id: edit, prompt: Change draft to final in notes.txt., workspace: copy,
     working_directory: project, permissions: approve-all, model: claude-sonnet-4.5}
  - {id: lost, prompt: Nobody scripted this.}
"""
# A command that reads a run folder must not take longer than this on any input.
WATCHDOG_SECONDS = 60


@contextlib.contextmanager
def model_server() -> Iterator[str]:
    """``copilot-batch model-server`` leaving usage out of streamed replies; its URL."""
    scripts = [arg for name in SCRIPT_FILES for arg in ("--script", str(SCRIPTS / name))]
    command = [sys.executable, "-m", "copilot_batch", "model-server", *scripts]
    with subprocess.Popen([*command, "--no-stream-usage"], stdout=subprocess.PIPE) as server:
        try:
            assert server.stdout is not None
            yield server.stdout.readline().decode().strip()
        finally:
            server.terminate()


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    """A job's folder (job file, a project) and its two shard runs under runs/."""
    with (
        tempfile.TemporaryDirectory(prefix="copilot-batch-fuzz-") as folder,
        model_server() as url,
    ):
        root = Path(folder)
        (root / "project").mkdir()
        (root / "project" / "notes.txt").write_text("draft\n")
        (root / "job.yaml").write_text(JOB.replace("MODEL_URL", url))
        for index, run_id in ((2, "a"), (1, "b")):
            ran = CliRunner().invoke(
                main,
                ["run", str(root / "job.yaml"), "--shard", f"{index}/2",
                 "--out", str(root / "runs"), "--run-id", run_id, "-q"],
            )  # fmt: skip
            assert ran.exit_code in (0, 1), ran.output
        hello = json.loads((root / "runs" / "a" / "tasks" / "hello-1" / "result.json").read_text())
        assert hello["usage"]["reported"] is False and hello["usage"]["estimated_tokens"] > 0
        assert sorted(path.name for path in (root / "runs" / "a" / "tasks").iterdir()) == sorted(
            SHARD_A
        )
        yield root


@dataclass(frozen=True)
class Copy:
    """A copy of the template in which every recorded path names the copy."""

    root: Path

    @property
    def a(self) -> Path:
        return self.root / "runs" / "a"

    @property
    def b(self) -> Path:
        return self.root / "runs" / "b"

    @property
    def merged(self) -> Path:
        return self.root / "merged"


def copy_template(template: Path, destination: Path) -> Copy:
    shutil.copytree(template, destination, symlinks=True)
    for path in (destination / "runs").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".jsonl", ".xml"):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(str(template), str(destination)), encoding="utf-8")
    return Copy(destination)


def invoke(arguments: Sequence[str], folder: Path) -> Result:
    """Run one command in this process; fail (and unblock it) if it hangs."""
    outcome: list[Result] = []
    thread = threading.Thread(
        target=lambda: outcome.append(CliRunner().invoke(main, list(arguments))), daemon=True
    )
    thread.start()
    thread.join(WATCHDOG_SECONDS)
    if thread.is_alive():
        while thread.is_alive():  # it may block on one FIFO after another
            unblock_fifos(folder)
            thread.join(0.1)
        pytest.fail(f"copilot-batch {' '.join(arguments)} hung")
    return outcome[0]


def unblock_fifos(folder: Path) -> None:
    """Open every FIFO a reader waits on, so the reader goes on (and sees it empty)."""
    for path in folder.rglob("*"):
        if path.is_fifo():
            with contextlib.suppress(OSError):  # ENXIO: nobody is reading it
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def problem(result: Result, folders: Sequence[Path]) -> str | None:
    """What is wrong with how a command ended, or None: an exit code of 0, 1 or 2; no
    Python exception; an error as one line on stderr, naming the run folder or file."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"{type(result.exception).__name__}: {result.exception}"
    if result.exit_code not in (0, 1, 2):
        return f"exit code {result.exit_code}: {result.stderr}"
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return f"not one error line: {result.stderr!r}"
        named = any(str(folder) in lines[0] for folder in folders)
        if not named and "Copilot CLI was not found" not in lines[0]:
            return f"the error names no run folder: {lines[0]}"
    return None


def commands(copy: Copy, task_id: str) -> list[list[str]]:
    """Every command that reads run folders, on the damaged run ``a``."""
    a, b = str(copy.a), str(copy.b)
    return [
        ["show", a],
        ["show", a, task_id],
        ["merge", a, b, "--out", str(copy.merged), "--run-id", "m"],
        ["resume", a, "--cli-path", str(copy.root / "no-such-copilot")],
        ["apply", a],
    ]


def merged_folder_problem(copy: Copy, result: Result) -> str | None:
    """A merge that fails leaves nothing in --out; one that succeeds leaves a run folder
    that reads back."""
    left = sorted(path.name for path in copy.merged.iterdir()) if copy.merged.exists() else []
    if result.exit_code != 0:
        return f"merge failed and left {left} in --out" if left else None
    shown = invoke(["show", str(copy.merged / "m")], copy.root)
    return None if shown.exit_code == 0 else f"the merged run does not show: {shown.output}"


def run_commands(copy: Copy, task_id: str) -> list[tuple[str, str]]:
    """(command, problem) for every command that ended badly."""
    found = []
    for command in commands(copy, task_id):
        result = invoke(command, copy.root)
        name = command[0] + (" TASK" if len(command) == 3 else "")
        issues = [problem(result, [copy.a, copy.b])]
        if command[0] == "merge":
            issues.append(merged_folder_problem(copy, result))
        found += [(name, issue) for issue in issues if issue is not None]
    return found


@pytest.mark.cli
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    damage_a=st.lists(mutations(SHARD_A, ["tasks/edit/changes.patch"]), min_size=1, max_size=3),
    damage_b=st.lists(mutations(SHARD_B, []), max_size=1),
    task_id=st.sampled_from([*SHARD_A, "nope"]),
)
def test_commands_on_broken_run_folders_end_with_a_clear_error(
    template: Path, damage_a: list[Mutation], damage_b: list[Mutation], task_id: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="copilot-batch-fuzz-") as folder:
        copy = copy_template(template, Path(folder) / "job")
        for mutation in damage_a:
            mutation.apply(copy.a)
        for mutation in damage_b:
            mutation.apply(copy.b)
        assert run_commands(copy, task_id) == []
