"""copilot-batch: run YAML-described batches of GitHub Copilot agent sessions in parallel.

The public names below are imported on first use, not with the package: importing a
submodule (``copilot_batch.testing.plugin``, which every pytest session of anyone who has
copilot-batch installed loads) must not cost the Copilot SDK's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    CliConnectError,
    CliCrashedError,
    CliNotFoundError,
    CliProcessExited,
    CliStartError,
    ConflictingCliUrlsError,
    CopilotBatchError,
    ExitCode,
    ExternalFailure,
    HookFailed,
    HookImportError,
    InternalError,
    InvalidInputError,
    JobFileError,
    JobFilesInvalid,
    MergeError,
    ModelServerError,
    NoAuthError,
    NoJobFilesError,
    NoTasksSelectedError,
    OptionError,
    OutputInvalidError,
    OutputProblem,
    PatchApplyError,
    RunFolderError,
    RunLockedError,
    RunNotFoundError,
    SandboxUnavailableError,
    ScriptError,
    SessionError,
    SetupError,
    SkillError,
    TaskCancelled,
    TaskFailure,
    TaskTimeout,
    ToolFailure,
    ToolImportError,
    WorkspaceError,
)
from .lazy import lazy_names

if TYPE_CHECKING:
    from .jobfile import JobSpec, TaskSpec, job_schema, load_jobs
    from .records import AuditEntry, RunStatus, TaskResult, TaskStatus, Usage
    from .runtime import RunOptions, RunResult, run_batch

# The module each lazily imported name comes from (the imports above, for type checkers).
_LAZY = {
    "JobSpec": ".jobfile",
    "TaskSpec": ".jobfile",
    "job_schema": ".jobfile",
    "load_jobs": ".jobfile",
    "AuditEntry": ".records",
    "RunStatus": ".records",
    "TaskResult": ".records",
    "TaskStatus": ".records",
    "Usage": ".records",
    "RunOptions": ".runtime",
    "RunResult": ".runtime",
    "run_batch": ".runtime",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = [
    "AuditEntry",
    "CliConnectError",
    "CliCrashedError",
    "CliNotFoundError",
    "CliProcessExited",
    "CliStartError",
    "ConflictingCliUrlsError",
    "CopilotBatchError",
    "ExitCode",
    "ExternalFailure",
    "HookFailed",
    "HookImportError",
    "InternalError",
    "InvalidInputError",
    "JobFileError",
    "JobFilesInvalid",
    "JobSpec",
    "MergeError",
    "ModelServerError",
    "NoAuthError",
    "NoJobFilesError",
    "NoTasksSelectedError",
    "OptionError",
    "OutputInvalidError",
    "OutputProblem",
    "PatchApplyError",
    "RunFolderError",
    "RunLockedError",
    "RunNotFoundError",
    "RunOptions",
    "RunResult",
    "RunStatus",
    "SandboxUnavailableError",
    "ScriptError",
    "SessionError",
    "SetupError",
    "SkillError",
    "TaskCancelled",
    "TaskFailure",
    "TaskResult",
    "TaskSpec",
    "TaskStatus",
    "TaskTimeout",
    "ToolFailure",
    "ToolImportError",
    "Usage",
    "WorkspaceError",
    "job_schema",
    "load_jobs",
    "run_batch",
]
