"""Run folders (``runs/<run-id>/``): their layout, the one reader and the one writer of
their files, the reports, and the commands that work on finished runs (merge, apply,
clean)."""

from .apply import AppliedPatch, apply_run
from .clean import Removal, clean_run, parse_age, runs_older_than
from .html import write_html_report
from .layout import DEFAULT_OUT, RunFolder
from .merge import merge_runs
from .reader import (
    StoredRun,
    StoredTask,
    find_run,
    name_problem,
    read_events,
    read_result,
    read_run,
    read_summary,
    read_task,
    runs_under,
)
from .reports import summary_markdown

__all__ = [
    "DEFAULT_OUT",
    "AppliedPatch",
    "Removal",
    "RunFolder",
    "StoredRun",
    "StoredTask",
    "apply_run",
    "clean_run",
    "find_run",
    "merge_runs",
    "name_problem",
    "parse_age",
    "read_events",
    "read_result",
    "read_run",
    "read_summary",
    "read_task",
    "runs_older_than",
    "runs_under",
    "summary_markdown",
    "write_html_report",
]
