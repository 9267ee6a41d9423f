"""What a run shows while it lasts, fed the way a run feeds it."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from copilot_batch import TaskResult, TaskSpec, TaskStatus, load_jobs
from copilot_batch.terminal.live import PlainProgress
from copilot_batch.testing import write_job


def tasks(folder: Path, count: int) -> list[TaskSpec]:
    job = write_job(
        folder,
        f"""
        version: 1
        matrix: {{n: {list(range(1, count + 1))}}}
        tasks: [{{id: "task-{{{{ n }}}}", prompt: x}}]
        """,
    )
    return list(load_jobs([job])[0].tasks)


def finished(task: TaskSpec, status: TaskStatus) -> TaskResult:
    return TaskResult(task=task, status=status)


def test_a_resume_counts_the_tasks_it_keeps_as_done(tmp_path: Path) -> None:
    output = io.StringIO()
    progress = PlainProgress(Console(file=output, width=200))
    again = tasks(tmp_path, 3)
    progress.run_started(again, kept=12, clients=2, folder=tmp_path / "runs" / "r")
    assert progress.totals().startswith("12/15 done (12 kept), 0 running")
    progress.task_started(again[0])
    progress.task_finished(finished(again[0], TaskStatus.OK))
    progress.task_started(again[1])
    assert progress.totals().startswith("13/15 done (12 kept, 1 ok), 1 running")
    first, *_ = output.getvalue().splitlines()
    assert first == (
        f"running 3 task(s) (12 kept from before) on 2 Copilot CLI client(s); "
        f"results in {tmp_path / 'runs' / 'r'}"
    )
    assert "task-1" in output.getvalue()


def test_a_first_run_counts_from_nothing(tmp_path: Path) -> None:
    progress = PlainProgress(Console(file=io.StringIO()))
    planned = tasks(tmp_path, 2)
    progress.run_started(planned, kept=0, clients=1, folder=tmp_path)
    assert progress.totals().startswith("0/2 done (none yet), 0 running")
    progress.task_finished(finished(planned[1], TaskStatus.FAILED))
    assert progress.totals().startswith("1/2 done (1 failed), 0 running")
