"""Running tasks: the Copilot CLI clients, one session per task, retries, workspaces.

What imports the Copilot SDK is imported on first use (see ``..lazy``): the command line's
options need only ``DEFAULT_CONCURRENCY``, ``DEFAULT_RECYCLE_AFTER`` and ``parse_shard``.
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_names
from .options import DEFAULT_CONCURRENCY, DEFAULT_RECYCLE_AFTER, RunOptions
from .shards import Shard, parse_shard, resolve_shard

if TYPE_CHECKING:
    from .cli_binary import find_cli
    from .resume import resume_run
    from .runner import RunResult, run_batch, select_tasks

__getattr__ = lazy_names(
    __name__,
    {
        "find_cli": ".cli_binary",
        "resume_run": ".resume",
        "RunResult": ".runner",
        "run_batch": ".runner",
        "select_tasks": ".runner",
    },
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RECYCLE_AFTER",
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
