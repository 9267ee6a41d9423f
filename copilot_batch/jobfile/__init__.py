"""Job files → task specs: parse, validate, expand. Reads files; starts nothing."""

from .durations import parse_duration
from .loader import job_schema, load_jobs, resolve_job_paths
from .model import CustomToolRef, JobSpec, SourcePosition, TaskSpec
from .skills import Skill, discover_skills

__all__ = [
    "CustomToolRef",
    "JobSpec",
    "Skill",
    "SourcePosition",
    "TaskSpec",
    "discover_skills",
    "job_schema",
    "load_jobs",
    "parse_duration",
    "resolve_job_paths",
]
