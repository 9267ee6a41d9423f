"""What a bug leaves behind: an exception copilot-batch did not foresee becomes an
:class:`InternalError` naming it, the file holding its traceback, and where to report it.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

from .errors import InternalError
from .redact import Redactor

# Shown when the installed metadata has no "Issues" address (an install from before it).
_FALLBACK_ADDRESS = "the copilot-batch issue tracker"


def report_address() -> str:
    """Where to report a bug: the ``Issues`` entry of ``[project.urls]`` in pyproject.toml,
    as the installed package's metadata carries it."""
    try:
        entries = metadata("copilot-batch").get_all("Project-URL") or []
    except PackageNotFoundError:
        return _FALLBACK_ADDRESS
    for entry in entries:
        label, _, address = str(entry).partition(",")
        if label.strip().lower() == "issues" and address.strip():
            return address.strip()
    return _FALLBACK_ADDRESS


def internal_error(
    error: BaseException, log: Path | None = None, redactor: Redactor | None = None
) -> InternalError:
    """The bug ``error`` as an InternalError. Its traceback is in ``log`` (the run's run.log,
    written by the caller) or, when there is none, written here to a new private file in
    the temporary directory. ``redactor`` (by default: the environment's tokens) masks
    secrets in the file and the message."""
    redactor = redactor or Redactor.for_run(())
    if log is None:
        log = _write_traceback(redactor.text("".join(traceback.format_exception(error))))
    cause = innermost(error)
    message = " ".join(redactor.text(str(cause)).split())
    if len(message) > 200:
        message = message[:199] + "…"
    return InternalError(type(cause).__name__, message, log, report_address())


def innermost(error: BaseException) -> BaseException:
    """The exception itself, or the one inside the groups a task group wraps it in."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _write_traceback(text: str) -> Path | None:
    """A new file (readable by its owner only) holding ``text``; None if none can be made."""
    try:
        descriptor, name = tempfile.mkstemp(prefix="copilot-batch-bug-", suffix=".log")
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="replace") as file:
            file.write(text)
    except OSError:
        return None
    return Path(name)
