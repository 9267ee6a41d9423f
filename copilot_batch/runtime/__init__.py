"""Running tasks: the Copilot CLI clients, one session per task, retries, workspaces."""

from .cli_binary import find_cli
from .options import DEFAULT_CONCURRENCY, RunOptions
from .resume import resume_run
from .runner import RunResult, run_batch, select_tasks
from .shards import Shard, parse_shard, resolve_shard

__all__ = [
    "DEFAULT_CONCURRENCY",
    "RunOptions",
    "RunResult",
    "Shard",
    "find_cli",
    "parse_shard",
    "resolve_shard",
    "resume_run",
    "run_batch",
    "select_tasks",
]
