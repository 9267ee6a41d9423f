"""How to run, as the command line and the Python API say it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..run_folder.layout import DEFAULT_OUT
from .shards import Shard

# Sessions at once unless told: the command line's default and the Python API's.
DEFAULT_CONCURRENCY = 8
# Sessions a Copilot CLI process serves before a fresh one replaces it (0: never); chosen
# from bench/cli_aging.py's measurement (docs/performance.md, "Thousands of tasks").
DEFAULT_RECYCLE_AFTER = 2000


@dataclass(frozen=True)
class RunOptions:
    """How to run: where results go, how many sessions at once, which tasks, which CLI."""

    out_dir: Path = DEFAULT_OUT
    concurrency: int = DEFAULT_CONCURRENCY
    only: tuple[str, ...] = ()
    shard: Shard | None = None
    model: str | None = None
    cli_path: str | None = None
    cli_url: str | None = None
    run_timeout: float | None = None
    max_tokens: int | None = None  # the run's token budget; wins over the job files' budget
    max_cli_restarts: int = 3
    clients: int | None = None  # Copilot CLI processes; None: from concurrency and CPUs
    recycle_after: int = DEFAULT_RECYCLE_AFTER  # sessions per CLI process; 0: never recycled
    replay: tuple[Path, ...] = ()
    # What ${workdir} in the replayed scripts stands for; None: found for each session.
    replay_root: Path | None = None
    run_id: str | None = None
    record: Path | None = None  # write each task's model exchanges here as scripts
    handle_signals: bool = False
    # Reuse the results of unchanged tasks from the runs in cache_from (default: out_dir).
    incremental: bool = False
    cache_from: Path | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "concurrency": self.concurrency,
            "only": list(self.only),
            "shard": str(self.shard) if self.shard else None,
            "model": self.model,
            "cli_path": self.cli_path,
            "cli_url": self.cli_url,
            "run_timeout": self.run_timeout,
            "max_tokens": self.max_tokens,
            "max_cli_restarts": self.max_cli_restarts,
            "clients": self.clients,
            "recycle_after": self.recycle_after,
            "replay": [str(path) for path in self.replay],
            "replay_root": str(self.replay_root) if self.replay_root else None,
            "record": str(self.record) if self.record else None,
            "incremental": self.incremental,
            "cache_from": str(self.cache_from) if self.cache_from else None,
        }
