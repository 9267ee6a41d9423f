"""The example jobs of ``jobs/``, copied into a test's folder with the review's sample
repositories made in the copy, so that tests never write inside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
# Where `make demo` makes the sample repositories; tests leave it as they found it.
CHECKOUT_REPOS = REPOSITORY / "jobs" / "review" / "repos"
# The example job for a model server on this machine: `make demo` leaves it out.
LOCAL_MODEL_JOB = "local-model.yaml"


def demo_jobs(jobs: Path) -> list[Path]:
    """The job files of ``jobs`` that `make demo` replays, sorted."""
    return sorted(path for path in jobs.glob("*.yaml") if path.name != LOCAL_MODEL_JOB)


def copy_example_jobs(destination: Path) -> Path:
    """``jobs/`` and ``skills/`` (which the job files name as ``../skills``) copied into
    ``destination``, the sample repositories made in the copy; the copy of ``jobs/``."""
    jobs = destination / "jobs"
    ignored = shutil.ignore_patterns("repos", "__pycache__")
    shutil.copytree(REPOSITORY / "jobs", jobs, ignore=ignored)
    shutil.copytree(REPOSITORY / "skills", destination / "skills", ignore=ignored)
    script = REPOSITORY / "jobs" / "review" / "make_sample_repos.py"
    made = subprocess.run(
        [sys.executable, str(script), str(jobs / "review" / "repos")],
        check=True,
        capture_output=True,
        text=True,
    )
    assert made.stdout.splitlines() == [
        str(jobs / "review" / "repos" / name) for name in ("billing", "search", "notify")
    ]
    return jobs
