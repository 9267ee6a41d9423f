"""Loading one job file in a test: its tasks, or the problems found in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot_batch import JobFilesInvalid, TaskSpec, load_jobs


def load(folder: Path, text: str) -> list[TaskSpec]:
    path = folder / "job.yaml"
    path.write_text(text)
    [job] = load_jobs([path], environ={})
    return list(job.tasks)


def problems(folder: Path, text: str) -> list[str]:
    """Each problem as ``LINE:COL: $.path: message``."""
    with pytest.raises(JobFilesInvalid) as caught:
        load(folder, text)
    return [str(error).removeprefix(f"{folder / 'job.yaml'}:") for error in caught.value.errors]
