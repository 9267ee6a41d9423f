"""report.html: the run, its tasks and each task's transcript in one self-contained page."""

from .page import html_report, write_html_report

__all__ = ["html_report", "write_html_report"]
