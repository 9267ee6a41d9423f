"""What copilot-batch shows on the terminal: the live view of a run, a line per finished
task, the summary, and what the commands on finished runs print (``show``, ``list``,
``apply``, ``clean``)."""

from .live import LiveView, PlainProgress
from .show import print_applied, print_removals, print_tasks, show_json, show_summary, show_task
from .summary import print_summary, task_line

__all__ = [
    "LiveView",
    "PlainProgress",
    "print_applied",
    "print_removals",
    "print_summary",
    "print_tasks",
    "show_json",
    "show_summary",
    "show_task",
    "task_line",
]
