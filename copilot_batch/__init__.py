"""copilot-batch: run YAML-described batches of GitHub Copilot agent sessions in parallel."""

from .errors import (
    CliConnectError,
    CliNotFoundError,
    CliStartError,
    ConflictingCliUrlsError,
    CopilotBatchError,
    InvalidInputError,
    JobFileError,
    JobFilesInvalid,
    MergeError,
    NoAuthError,
    NoJobFilesError,
    NoTasksSelectedError,
    RunNotFoundError,
    ScriptError,
    SessionError,
    SetupError,
    TaskFailure,
    TaskTimeout,
)
from .output.records import TaskResult, TaskStatus, Usage
from .runtime.run_state import RunOptions
from .runtime.runner import RunResult, run_batch
from .spec import JobSpec, TaskSpec, job_schema, load_jobs

__all__ = [
    "CliConnectError",
    "CliNotFoundError",
    "CliStartError",
    "ConflictingCliUrlsError",
    "CopilotBatchError",
    "InvalidInputError",
    "JobFileError",
    "JobFilesInvalid",
    "JobSpec",
    "MergeError",
    "NoAuthError",
    "NoJobFilesError",
    "NoTasksSelectedError",
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
