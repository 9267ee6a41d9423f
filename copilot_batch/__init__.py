"""copilot-batch: run YAML-described batches of GitHub Copilot agent sessions in parallel.

The public names below are imported on first use, not with the package: importing a
submodule (``copilot_batch.testing.plugin``, which every pytest session of anyone who has
copilot-batch installed loads) must not cost the Copilot SDK's import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CliConnectError,
    CliNotFoundError,
    CliStartError,
    ConflictingCliUrlsError,
    CopilotBatchError,
    InternalError,
    InvalidInputError,
    JobFileError,
    JobFilesInvalid,
    MergeError,
    NoAuthError,
    NoJobFilesError,
    NoTasksSelectedError,
    RunFolderError,
    RunNotFoundError,
    ScriptError,
    SessionError,
    SetupError,
    TaskFailure,
    TaskTimeout,
)

if TYPE_CHECKING:
    from .jobfile import JobSpec, TaskSpec, job_schema, load_jobs
    from .records import TaskResult, TaskStatus, Usage
    from .runtime.run_state import RunOptions
    from .runtime.runner import RunResult, run_batch

# The module each lazily imported name comes from (the imports above, for type checkers).
_LAZY = {
    "JobSpec": ".jobfile",
    "TaskSpec": ".jobfile",
    "job_schema": ".jobfile",
    "load_jobs": ".jobfile",
    "TaskResult": ".records",
    "TaskStatus": ".records",
    "Usage": ".records",
    "RunOptions": ".runtime.run_state",
    "RunResult": ".runtime.runner",
    "run_batch": ".runtime.runner",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CliConnectError",
    "CliNotFoundError",
    "CliStartError",
    "ConflictingCliUrlsError",
    "CopilotBatchError",
    "InternalError",
    "InvalidInputError",
    "JobFileError",
    "JobFilesInvalid",
    "JobSpec",
    "MergeError",
    "NoAuthError",
    "NoJobFilesError",
    "NoTasksSelectedError",
    "RunFolderError",
    "RunNotFoundError",
    "RunOptions",
    "RunResult",
    "ScriptError",
    "SessionError",
    "SetupError",
    "TaskFailure",
    "TaskResult",
    "TaskSpec",
    "TaskStatus",
    "TaskTimeout",
    "Usage",
    "job_schema",
    "load_jobs",
    "run_batch",
]
