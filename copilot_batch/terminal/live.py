"""What a run shows while it lasts: a live view on a terminal, plain lines anywhere else."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..jobfile import TaskSpec
from ..records import TaskResult
from .summary import task_line

# Off a terminal, a line of totals at most this often (and at the end).
TOTALS_EVERY_SECONDS = 30.0


def start_line(tasks: int, kept: int, clients: int, folder: Path) -> str:
    """A run's first line: what it runs, on how many CLIs, and where its results go."""
    kept_part = f" ({kept} kept from before)" if kept else ""
    return (
        f"running {tasks} task(s){kept_part} on {clients} Copilot CLI client(s); "
        f"results in {folder}"
    )


class _Progress:
    """Counts, tokens, times and each running task's latest activity."""

    def __init__(self) -> None:
        self.total = 0
        self.kept = 0
        self.id_width = 0
        self.started_at = time.monotonic()
        self.statuses: Counter[str] = Counter()
        self.tokens = 0
        self.running: dict[str, str] = {}

    def plan(self, tasks: Sequence[TaskSpec], kept: int) -> None:
        """The tasks this run starts, and how many it keeps from before (a resume)."""
        self.total = len(tasks) + kept
        self.kept = kept
        self.id_width = max((len(task.id) for task in tasks), default=0)

    @property
    def finished_here(self) -> int:
        return sum(self.statuses.values())

    def totals(self) -> str:
        elapsed = time.monotonic() - self.started_at
        done = self.kept + self.finished_here
        counts = [f"{self.kept} kept"] if self.kept else []
        counts += [f"{count} {status}" for status, count in sorted(self.statuses.items())]
        eta = ""
        if self.finished_here > 0 and done < self.total:  # from this run's pace alone
            eta = f", about {elapsed / self.finished_here * (self.total - done):.0f}s left"
        return (
            f"{done}/{self.total} done ({', '.join(counts) or 'none yet'}), {len(self.running)} "
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

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = _Progress()
        self._totals_at = time.monotonic()

    def run_started(self, tasks: Sequence[TaskSpec], kept: int, clients: int, folder: Path) -> None:
        self._progress.plan(tasks, kept)
        self._console.print(start_line(len(tasks), kept, clients, folder), soft_wrap=True)

    def totals(self) -> str:
        """Done of all, by status, running, tokens, elapsed, and an estimate of what is left."""
        return self._progress.totals()

    def task_started(self, task: TaskSpec) -> None:
        self._progress.started(task)

    def task_activity(self, task_id: str, activity: str) -> None:
        self._progress.activity(task_id, activity)

    def task_finished(self, result: TaskResult) -> None:
        self._progress.finished(result)
        self._console.print(task_line(result, self._progress.id_width), soft_wrap=True)
        self._totals_now_and_then()

    def _totals_now_and_then(self) -> None:
        if time.monotonic() - self._totals_at >= TOTALS_EVERY_SECONDS:
            self._totals_at = time.monotonic()
            self._console.print(f"progress: {self.totals()}", soft_wrap=True)

    @contextmanager
    def shown(self) -> Iterator[None]:
        """While the run lasts (lines are printed as tasks finish: nothing to set up)."""
        yield


class LiveView(PlainProgress):
    """On a terminal: finished tasks scroll above a live panel of totals and running tasks."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=4)

    def _totals_now_and_then(self) -> None:
        """The panel shows the totals all along."""

    def _render(self) -> RenderableType:
        running = Table.grid(padding=(0, 2))
        for task_id, activity in sorted(self._progress.running.items()):
            running.add_row(Text(task_id, style="bold"), Text(activity, style="dim"))
        return Group(Text(self.totals(), style="cyan"), running)

    @contextmanager
    def shown(self) -> Iterator[None]:
        """While the run lasts: the live panel."""
        with self._live:
            yield
