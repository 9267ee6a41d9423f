"""What a run shows while it lasts: a live view on a terminal, plain lines anywhere else."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .output.records import TaskResult
from .output.report import task_line
from .spec import TaskSpec

# Off a terminal, a line of totals at most this often (and at the end).
TOTALS_EVERY_SECONDS = 30.0


class _Progress:
    """Counts, tokens, times and each running task's latest activity."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        self.total = len(tasks)
        self.id_width = max((len(task.id) for task in tasks), default=0)
        self.started_at = time.monotonic()
        self.statuses: Counter[str] = Counter()
        self.tokens = 0
        self.running: dict[str, str] = {}

    @property
    def done(self) -> int:
        return sum(self.statuses.values())

    def totals(self) -> str:
        elapsed = time.monotonic() - self.started_at
        counts = ", ".join(f"{count} {status}" for status, count in sorted(self.statuses.items()))
        eta = ""
        if 0 < self.done < self.total:
            eta = f", about {elapsed / self.done * (self.total - self.done):.0f}s left"
        return (
            f"{self.done}/{self.total} done ({counts or 'none yet'}), {len(self.running)} "
            f"running, {self.tokens} tokens, {elapsed:.0f}s{eta}"
        )

    def started(self, task: TaskSpec) -> None:
        self.running[task.id] = "starting"

    def finished(self, result: TaskResult) -> None:
        self.running.pop(result.task.id, None)
        self.statuses[str(result.status)] += 1
        self.tokens += result.usage.total_tokens

    def activity(self, task_id: str, activity: str) -> None:
        if task_id in self.running:
            self.running[task_id] = activity


class PlainProgress:
    """One line per finished task, and a line of totals every TOTALS_EVERY_SECONDS."""

    def __init__(self, console: Console, tasks: Sequence[TaskSpec]) -> None:
        self._console = console
        self._progress = _Progress(tasks)
        self._totals_at = time.monotonic()

    def task_started(self, task: TaskSpec) -> None:
        self._progress.started(task)

    def task_activity(self, task_id: str, activity: str) -> None:
        self._progress.activity(task_id, activity)

    def task_finished(self, result: TaskResult) -> None:
        self._progress.finished(result)
        self._console.print(task_line(result, self._progress.id_width), soft_wrap=True)
        if time.monotonic() - self._totals_at >= TOTALS_EVERY_SECONDS:
            self._totals_at = time.monotonic()
            self._console.print(f"progress: {self._progress.totals()}", soft_wrap=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pass


class LiveView(PlainProgress):
    """On a terminal: finished tasks scroll above a live panel of totals and running tasks."""

    def __init__(self, console: Console, tasks: Sequence[TaskSpec]) -> None:
        super().__init__(console, tasks)
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=4)

    def task_finished(self, result: TaskResult) -> None:
        self._progress.finished(result)
        self._live.console.print(task_line(result, self._progress.id_width), soft_wrap=True)

    def _render(self) -> RenderableType:
        running = Table.grid(padding=(0, 2))
        for task_id, activity in sorted(self._progress.running.items()):
            running.add_row(Text(task_id, style="bold"), Text(activity, style="dim"))
        return Group(Text(self._progress.totals(), style="cyan"), running)

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.stop()
