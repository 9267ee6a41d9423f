"""What copilot-batch shows on the terminal: the live view of a run, a line per finished
task, and the summary."""

from .live import LiveView, PlainProgress
from .summary import print_summary, task_line

__all__ = ["LiveView", "PlainProgress", "print_summary", "task_line"]
