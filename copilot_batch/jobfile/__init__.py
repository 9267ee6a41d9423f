"""Job files → task specs: parse, validate, expand.

Besides reading the job files and the files they name, loading does two things: it imports
the modules ``tools.custom`` and ``hooks`` entries name (the job file's folder first on ``sys.path``
for that import only) and calls their factories; and for a ``git-worktree`` task it
runs ``git rev-parse`` in the working directory, so that a folder outside a repository is
reported at its line. It starts no Copilot CLI and no session."""

from .durations import parse_duration
from .loader import job_schema, load_jobs, resolve_job_paths
from .model import (
    CustomToolRef,
    HookRef,
    JobSpec,
    SandboxPolicy,
    SourcePosition,
    TaskLimits,
    TaskSpec,
)
from .options import cli_url_is_valid
from .sandbox import may_run_shell, unsandboxed_shell_tasks
from .skills import Skill, discover_skills

__all__ = [
    "CustomToolRef",
    "HookRef",
    "JobSpec",
    "SandboxPolicy",
    "Skill",
    "SourcePosition",
    "TaskLimits",
    "TaskSpec",
    "cli_url_is_valid",
    "discover_skills",
    "job_schema",
    "load_jobs",
    "may_run_shell",
    "parse_duration",
    "resolve_job_paths",
    "unsandboxed_shell_tasks",
]
