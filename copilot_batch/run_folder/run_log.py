"""run.log: structlog JSON lines, one per log call, each with the run id and task id.

The logger is built per run rather than configured globally, so run.log is complete
whatever structlog configuration the host application has. Each task logs through a
logger bound to its id; contextvars would not reach the SDK's callbacks, which run
outside the task's context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

from ..redact import Redactor


def open_run_logger(file: TextIO, redactor: Redactor, run_id: str) -> FilteringBoundLogger:
    def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        redacted: EventDict = redactor.data(event_dict)
        return redacted

    logger: FilteringBoundLogger = structlog.wrap_logger(
        structlog.WriteLogger(file),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    return logger.bind(run_id=run_id)


class _ForwardToRunLog(logging.Handler):
    """Sends the SDK's own stdlib log records into run.log instead of the terminal."""

    def __init__(self, log: FilteringBoundLogger) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = {"logger": record.name}
        if record.exc_info and record.exc_info[1] is not None:
            fields["exception"] = repr(record.exc_info[1])
        self._log.warning(record.getMessage(), **fields)


@contextmanager
def sdk_logs_into(log: FilteringBoundLogger) -> Iterator[None]:
    """While the run lasts, route the ``copilot`` SDK's warnings and errors into run.log."""
    sdk_logger = logging.getLogger("copilot")
    handler = _ForwardToRunLog(log)
    previous_propagate = sdk_logger.propagate
    sdk_logger.addHandler(handler)
    sdk_logger.propagate = False
    try:
        yield
    finally:
        sdk_logger.removeHandler(handler)
        sdk_logger.propagate = previous_propagate
