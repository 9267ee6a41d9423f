"""What a run tells about its progress while it lasts (the terminal's live view listens)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..jobfile import TaskSpec
from ..records import TaskResult


class RunObserver(Protocol):
    """Told about progress, for the terminal. Called on the event loop; must not block."""

    def run_started(self, tasks: Sequence[TaskSpec], kept: int, clients: int, folder: Path) -> None:
        """The run starts ``tasks`` on ``clients`` Copilot CLI clients, not started yet,
        into ``folder``; ``kept`` more ended ok before and are kept (a resume)."""

    def task_started(self, task: TaskSpec) -> None: ...

    def task_finished(self, result: TaskResult) -> None: ...

    def task_activity(self, task_id: str, activity: str) -> None:
        """What a running task does now: the tool it calls, "thinking", "retrying"."""
