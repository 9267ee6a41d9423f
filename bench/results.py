"""What every benchmark writes: the machine it ran on, and one JSON file per run in
``bench/results/``, named by kind and start time."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from copilot_batch.runtime.cli_binary import find_cli

RESULTS = Path(__file__).resolve().parent / "results"

# The options every benchmark that writes results, or starts a CLI, takes.
out_option = click.option(
    "--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True
)
cli_path_option = click.option("--cli-path", type=click.Path(exists=True, path_type=Path))


def cli_to_run(cli_path: Path | None) -> Path:
    """The Copilot CLI a benchmark runs: ``--cli-path``, else found as copilot-batch finds it."""
    return find_cli(str(cli_path) if cli_path else None)


def machine() -> dict[str, Any]:
    """The CPUs this process may use, the memory, the platform and the Python version."""
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_result(out: Path, kind: str, started_at: datetime, result: Mapping[str, Any]) -> Path:
    """Write ``result`` as ``out/<kind>-<YYYYmmdd-HHMMSS>.json``; its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}-{started_at:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
