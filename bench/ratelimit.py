"""Goodput under a rate limit: N tasks, ``-j C``, at a model that admits R requests a second.

The scripted model (in this process) answers every task's one request, and 429 with
``retry-after`` beyond R requests a second. copilot-batch runs with default settings. A run
needs N model requests, so its best wall time is N ÷ R; goodput is N ÷ wall ÷ R, the share
of the rate the run turned into answers. Target: no failed task and wall ≤ 1.25 × N ÷ R.
Writes JSON to ``bench/results/`` and prints a Markdown table.

    python -m bench.ratelimit                   # N=120, C=40, R=4 and R=10
    python -m bench.ratelimit -n 40 --rates 10
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import anyio
import click

from copilot_batch import TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import read_json, run_job_files

from .compare import SCRIPT, job_file
from .results import machine, out_option, write_result

TARGET = 1.25  # wall time at most this many times N ÷ R


async def run_at_rate(tasks: int, concurrency: int, rate: float) -> dict[str, Any]:
    """One run of ``tasks`` at a model admitting ``rate`` requests a second."""
    with TemporaryDirectory() as folder:
        async with ScriptedModel(load_scripts([SCRIPT]), rate=rate) as model:
            job = job_file(Path(folder), model.base_url, tasks)
            started = time.monotonic()
            result = await run_job_files([job], Path(folder) / "runs", concurrency=concurrency)
            wall = time.monotonic() - started
            answered = sum(1 for request in model.requests if request.status == 200)
            refused = sum(1 for request in model.requests if request.status == 429)
        run = read_json(result.folder / "run.json")
    failed = sum(1 for task in result.results if task.status is not TaskStatus.OK)
    best = tasks / rate  # one request a task
    return {
        "tasks": tasks,
        "concurrency": concurrency,
        "rate": rate,
        "wall_seconds": round(wall, 2),
        "model_requests_needed": tasks,
        "model_requests_answered": answered,
        "http_429": refused,
        "rate_limited_in_run_json": run["totals"]["rate_limited"],
        "failed_tasks": failed,
        "concurrency_record": run.get("concurrency"),
        "goodput_share_of_rate": round(best / wall, 3),
        "wall_over_best": round(wall / best, 3),
        "target_met": failed == 0 and wall <= TARGET * best,
    }


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| R | N | C | wall | N ÷ R | requests | 429s | failed | goodput (share of R) "
        "| wall ÷ (N ÷ R) | ≤ 1.25× |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['rate']:g}/s | {row['tasks']} | {row['concurrency']} "
            f"| {row['wall_seconds']:.1f} s | {row['tasks'] / row['rate']:.1f} s "
            f"| {row['model_requests_needed']} | {row['http_429']} | {row['failed_tasks']} "
            f"| {row['goodput_share_of_rate']:.0%} | {row['wall_over_best']:.2f} "
            f"| {'met' if row['target_met'] else 'not met'} |"
        )
    return "\n".join(lines)


@click.command(help=__doc__)
@click.option("--tasks", "-n", default=120, show_default=True, help="N, tasks per run.")
@click.option("--concurrency", "-c", default=40, show_default=True, help="C.")
@click.option("--rates", default="4,10", show_default=True, help="Comma-separated Rs.")
@out_option
def main(tasks: int, concurrency: int, rates: str, out: Path) -> None:
    started_at = datetime.now(UTC)
    rows = []
    for rate in (float(rate) for rate in rates.split(",") if rate.strip()):
        row = anyio.run(run_at_rate, tasks, concurrency, rate, backend="asyncio")
        click.echo(json.dumps(row))
        rows.append(row)
    result = {"started_at": started_at.isoformat(), "machine": machine(), "runs": rows}
    path = write_result(out, "ratelimit", started_at, result)
    click.echo(markdown(rows))
    click.echo(f"written to {path}")


if __name__ == "__main__":
    main()
