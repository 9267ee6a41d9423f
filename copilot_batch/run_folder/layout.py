"""The layout of ``runs/<run-id>/``: its paths, its lock, and the atomic, redacted writes that
the run recorder (:mod:`.recorder`) and the commands on finished runs write with."""

from __future__ import annotations

import fcntl
import json
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import RunLockedError
from ..redact import Redactor
from .atomic import write_text_atomic

# The folder that holds run folders unless --out says otherwise.
DEFAULT_OUT = Path("runs")
# Every git-worktree branch a run makes is named copilot-batch/<run-id>/<task-id>[-attempt-N].
BRANCH_PREFIX = "copilot-batch"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique across concurrent runs: ``20261123-214706-3fa2``."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class RunFolder:
    """``run.json``, ``run.log``, ``copilot-home/`` and ``tasks/<task-id>/`` of one run."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self.redactor = redactor

    @classmethod
    def create(cls, out_dir: Path, run_id: str, redactor: Redactor) -> RunFolder:
        folder = cls(out_dir / run_id, redactor)
        folder.path.mkdir(parents=True, exist_ok=False)
        folder.tasks_dir.mkdir()
        return folder

    @classmethod
    def ended(cls, path: Path) -> RunFolder:
        """The run folder at ``path`` once its run has ended: its paths, and writes that
        mask nothing more (what they are made from was masked when first written)."""
        return cls(path, Redactor(()))

    @staticmethod
    def holds_a_run(path: Path) -> bool:
        """Whether ``path`` is a run folder (it has a run.json)."""
        return (path / "run.json").is_file()

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def run_log(self) -> Path:
        return self.path / "run.log"

    @property
    def tasks_dir(self) -> Path:
        return self.path / "tasks"

    @property
    def results_jsonl(self) -> Path:
        return self.path / "results.jsonl"

    @property
    def summary_md(self) -> Path:
        return self.path / "summary.md"

    @property
    def junit_xml(self) -> Path:
        return self.path / "junit.xml"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    @property
    def copilot_home(self) -> Path:
        """The CLI's state directory (COPILOT_HOME) while the run lasts; never ~/.copilot."""
        return self.copilot_home_of(0)

    def copilot_home_of(self, client: int) -> Path:
        """The state directory of the run's ``client``-th CLI process (0-based)."""
        return self.path / ("copilot-home" if client == 0 else f"copilot-home-{client + 1}")

    @property
    def cli_logs(self) -> Path:
        return self.path / "cli-logs"

    def retire_copilot_home(self) -> None:
        """Keep the CLI's own logs (redacted) in cli-logs/ and remove the rest of its state.

        The CLI's session store keeps every message of every session, secrets a model
        repeated included, long after the sessions are deleted; nothing reads it later.
        """
        for home in sorted(self.path.glob("copilot-home*")):
            for log in sorted((home / "logs").glob("*.log")):
                self.cli_logs.mkdir(exist_ok=True)
                text = log.read_text(encoding="utf-8", errors="replace")
                (self.cli_logs / log.name).write_text(self.redactor.text(text), encoding="utf-8")
            shutil.rmtree(home, ignore_errors=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock: one process writes a run at a time (a resume too)."""
        with open(self.path / ".lock", "a+") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLockedError(self.path) from None
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def task_dir(self, task_id: str) -> Path:
        return self.tasks_dir / task_id

    def events_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / "events.jsonl"

    def result_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / "result.json"

    def patch_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / "changes.patch"

    def write_json(self, path: Path, data: Any) -> None:
        """Write redacted JSON atomically: readers see the old file or the new one, never half."""
        text = json.dumps(self.redactor.data(data), indent=2, ensure_ascii=False) + "\n"
        self.write_text(path, text)

    def write_text(self, path: Path, text: str) -> None:
        """Write redacted text atomically (temporary file, fsync, rename)."""
        write_text_atomic(path, self.redactor.text(text))
