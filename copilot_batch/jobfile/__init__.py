"""Job files → task specs: parse, validate, expand. Reads files; starts nothing."""

from .durations import parse_duration
from .loader import job_schema, load_jobs, resolve_job_paths
from .model import CustomToolRef, JobSpec, SourcePosition, TaskSpec

__all__ = [
    "CustomToolRef",
    "JobSpec",
    "SourcePosition",
    "TaskSpec",
    "job_schema",
    "load_jobs",
    "parse_duration",
    "resolve_job_paths",
]
