"""Deterministic slices of a run's tasks, so several machines can share one job.

A task's shard depends on its id alone (a hash), so it does not move when the job file is
reordered or other tasks come and go, and every task is in exactly one of the N shards.

``--shard auto`` takes the slice from a Kubernetes Indexed Job: the pod's 0-based
``JOB_COMPLETION_INDEX``, and the shard count from ``COPILOT_BATCH_SHARDS``, which the
manifest sets to its ``completions`` (Kubernetes does not tell the pod that number).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

_SHARD = re.compile(r"^([0-9]+)/([0-9]+)$")
_NUMBER = re.compile(r"^[0-9]+$")
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
COUNT_VARIABLE = "COPILOT_BATCH_SHARDS"


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


def resolve_shard(text: str, environ: Mapping[str, str]) -> Shard:
    """``--shard``'s value: ``auto`` from ``environ`` (see the module), otherwise I/N."""
    return shard_from_environment(environ) if text.strip() == "auto" else parse_shard(text)


def shard_from_environment(environ: Mapping[str, str]) -> Shard:
    """The shard of an Indexed Job's pod. Raises ValueError naming the variable at fault."""
    count = _number(environ, COUNT_VARIABLE, "the number of shards: the Job's completions")
    index = _number(environ, INDEX_VARIABLE, "set by Kubernetes in an Indexed Job's pods")
    if count == 0:
        raise ValueError(f"shard auto: {COUNT_VARIABLE}=0 must be at least 1")
    if index >= count:
        raise ValueError(
            f"shard auto: {INDEX_VARIABLE}={index} must be below {COUNT_VARIABLE}={count}"
        )
    return Shard(index + 1, count)


def _number(environ: Mapping[str, str], name: str, meaning: str) -> int:
    value = environ.get(name)
    if value is None:
        raise ValueError(f"shard auto: {name} is not set ({meaning})")
    if _NUMBER.match(value.strip()) is None:
        raise ValueError(f"shard auto: {name}={value!r} is not a whole number")
    return int(value)
