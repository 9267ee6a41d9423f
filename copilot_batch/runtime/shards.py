"""Deterministic slices of a run's tasks, so several machines can share one job.

A task's shard depends on its id alone (a hash), so it does not move when the job file is
reordered or other tasks come and go, and every task is in exactly one of the N shards.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHARD = re.compile(r"^([0-9]+)/([0-9]+)$")


@dataclass(frozen=True)
class Shard:
    """The ``index``-th (1-based) of ``count`` shards."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: I must be between 1 and N")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def selects(self, task_id: str) -> bool:
        digest = hashlib.sha256(task_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


def parse_shard(text: str) -> Shard:
    """``"2/4"`` → Shard(2, 4). Raises ValueError for anything else."""
    found = _SHARD.match(text.strip())
    if found is None:
        raise ValueError(f"shard {text!r} is not I/N, for example 2/4")
    return Shard(int(found.group(1)), int(found.group(2)))
