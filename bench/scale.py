"""Thousands of tasks: ``copilot-batch run`` of N one-prompt tasks, ``-j C``, the model
answering after L seconds, with CLI recycling at its default and off.

The model is ``copilot-batch model-server`` in its own process; c, the CLI's CPU seconds per
session, is calibrated as ``bench/compare.py`` does, for the lower bound
max(ceil(N/C)·L, N·c/cores). Each run is measured by ``bench/measure.py`` (wall, CPU, the
whole tree's peak RSS and PSS); besides, every second, the copilot-batch process's own RSS
and CPU and how many tasks have ended, to tell whether its memory grows with N. Targets:
no failed task, a peak tree memory ≤ 2.5 GiB, the Python process's memory flat in N, wall
≤ 1.5 × the bound. Writes ``bench/results/scale-*.json`` and prints Markdown.

    python -m bench.scale                              # N=2,000, C=200, L=5 s, recycling on and off
    python -m bench.scale -n 400 -c 50 --recycle-after default
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from copilot_batch.runtime import DEFAULT_RECYCLE_AFTER
from copilot_batch.testing.processes import read_proc, stat_fields

from .compare import ModelServer, batch_command, calibrate
from .measure import CLOCK_TICKS, MIB, lower_bound, measure, rss_bytes
from .results import cli_path_option, cli_to_run, out_option, write_result
from .results import machine as bench_machine

TREE_MEMORY_TARGET_MIB = 2.5 * 1024
WALL_OVER_BOUND_TARGET = 1.5
# The Python process's RSS is flat when, from a quarter of the tasks ended to all of them,
# it grows by at most this share (allocator noise, not state kept per task).
FLAT_SHARE = 0.10


@dataclass(frozen=True)
class RootSample:
    """The copilot-batch process ``seconds`` into the run, with ``ended`` tasks done."""

    seconds: float
    ended: int
    rss_mib: float
    cpu_seconds: float  # its own, not its children's


def own_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of the process itself (children excluded)."""
    text = read_proc(f"/proc/{pid}/stat")
    if not text:
        return 0.0
    fields = stat_fields(text)  # from field 3: utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class RootSampler:
    """Called with the copilot-batch process's pid (``measure``'s ``watch``): samples it
    every ``interval`` seconds in a thread while the run lasts; the tasks ended are the
    ``result.json`` files under ``runs``."""

    def __init__(self, runs: Path, interval: float = 1.0) -> None:
        self.samples: list[RootSample] = []
        self._runs = runs
        self._interval = interval
        self._stop = threading.Event()

    @contextmanager
    def __call__(self, pid: int) -> Iterator[RootSampler]:
        thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    def _run(self, pid: int) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            rss, cpu = rss_bytes(pid), own_cpu_seconds(pid)
            if rss:
                ended = sum(1 for _ in self._runs.glob("*/tasks/*/result.json"))
                seconds = round(time.monotonic() - started, 1)
                self.samples.append(RootSample(seconds, ended, round(rss / MIB, 1), cpu))
            self._stop.wait(self._interval)


def rss_at_shares(
    samples: Sequence[RootSample], tasks: int, shares: Sequence[float] = (0.25, 0.5, 0.75, 1.0)
) -> dict[str, float | None]:
    """The Python process's RSS when each share of the tasks had ended (the first sample
    at or past it; None if the run never got there)."""
    found: dict[str, float | None] = {}
    for share in shares:
        reached = [sample for sample in samples if sample.ended >= share * tasks]
        found[f"{round(share * tasks)}"] = reached[0].rss_mib if reached else None
    return found


def flat(at_shares: dict[str, float | None]) -> bool | None:
    """Whether the RSS from the first share to the last grew by at most FLAT_SHARE."""
    values = list(at_shares.values())
    first, last = values[0], values[-1]
    if first is None or last is None:
        return None
    return last <= first * (1 + FLAT_SHARE)


def targets(row: dict[str, Any], bound: float) -> dict[str, Any]:
    """Each target, as measured, its ratio to the target, and whether it is met."""
    over_bound = round(row["wall_seconds"] / bound, 2)
    tree = row["peak_rss_mib"]  # the stricter: PSS shares the CLI's code between its processes
    return {
        "failed_tasks": {"measured": row["failed"], "met": row["failed"] == 0},
        "peak_tree_memory": {
            "rss_mib": row["peak_rss_mib"],
            "pss_mib": row["peak_pss_mib"],
            "share_of_2.5_gib": round(tree / TREE_MEMORY_TARGET_MIB, 2),
            "met": tree <= TREE_MEMORY_TARGET_MIB,
        },
        "python_rss_flat": {
            "at_tasks_ended": row["python_rss_mib"],
            "met": flat(row["python_rss_mib"]),
        },
        "wall_over_bound": {
            "measured": over_bound,
            "share_of_1.5": round(over_bound / WALL_OVER_BOUND_TARGET, 2),
            "met": over_bound <= WALL_OVER_BOUND_TARGET,
        },
    }


def _command(folder: Path, base_url: str, options: dict[str, Any], cli: Path) -> list[str]:
    extra = ["--recycle-after", str(options["recycle_after"])]
    if options["clients"]:
        extra += ["--clients", str(options["clients"])]
    return batch_command(folder, cli, base_url, options["tasks"], options["concurrency"], *extra)


def run_once(cli: Path, base_url: str, options: dict[str, Any]) -> dict[str, Any]:
    """One measured run of copilot-batch in a fresh folder: its row."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        sampler = RootSampler(folder / "runs")
        loads = os.getloadavg()
        measured = measure(
            _command(folder, base_url, options, cli),
            env=os.environ,
            cwd=folder,
            stdout=folder / "output.txt",
            watch=sampler,
        )
        run = json.loads(next((folder / "runs").glob("*/run.json")).read_text())
    samples = sampler.samples
    return {
        **options,
        "wall_seconds": round(measured.wall_seconds, 2),
        "cpu_seconds": round(measured.cpu_seconds, 2),
        "python_cpu_seconds": round(samples[-1].cpu_seconds, 2) if samples else None,
        "peak_rss_mib": round(measured.peaks.rss_bytes / MIB),
        "peak_pss_mib": round(measured.peaks.pss_bytes / MIB),
        "peak_processes": measured.peaks.processes,
        "clients": run["environment"]["clients"],
        "cli_recycled": run.get("cli_recycled"),
        "cli_restarts": run["cli_restarts"],
        "ok": run["totals"]["ok"],
        "failed": options["tasks"] - run["totals"]["ok"],
        "python_rss_mib": rss_at_shares(samples, options["tasks"]),
        "python_peak_rss_mib": max((sample.rss_mib for sample in samples), default=None),
        "load_average_before": [round(load, 2) for load in loads],
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "returncode": measured.returncode,
        "python_samples": [asdict(sample) for sample in samples],
    }


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    columns = [
        ("recycle_after", "recycle after"), ("tasks", "N"), ("wall_seconds", "wall s"),
        ("wall_over_bound", "wall / bound"), ("cpu_seconds", "CPU s"),
        ("python_cpu_seconds", "Python CPU s"), ("peak_rss_mib", "tree RSS MiB"),
        ("peak_pss_mib", "tree PSS MiB"), ("python_rss_mib", "Python RSS MiB at tasks ended"),
        ("cli_recycled", "recycled"), ("failed", "failed"),
    ]  # fmt: skip
    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + " --- |" * len(columns))
    lines += ["| " + " | ".join(str(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)


@click.command(help=__doc__)
@click.option("--tasks", "-n", default=2000, show_default=True, help="N, tasks per run.")
@click.option("--latency", "-l", default=5.0, show_default=True, help="L, model seconds.")
@click.option("--concurrency", "-c", default=200, show_default=True, help="C.")
@click.option("--clients", type=int, help="--clients for copilot-batch (default: its own).")
@click.option(
    "--recycle-after",
    "recycle",
    default="default,0",
    show_default=True,
    help="Comma-separated --recycle-after values, one run each ('default': the default).",
)
@click.option("--calibration-sessions", default=20, show_default=True)
@cli_path_option
@out_option
def main(
    tasks: int,
    latency: float,
    concurrency: int,
    clients: int | None,
    recycle: str,
    calibration_sessions: int,
    cli_path: Path | None,
    out: Path,
) -> None:
    cli = cli_to_run(cli_path)
    values = [
        DEFAULT_RECYCLE_AFTER if value.strip() == "default" else int(value)
        for value in recycle.split(",")
    ]
    machine = bench_machine()
    started_at = datetime.now(UTC)
    rows = []
    with ModelServer(latency) as base_url:
        cpu_per_session = calibrate(cli, base_url, calibration_sessions, machine["cpus"])
        bound = lower_bound(tasks, concurrency, latency, cpu_per_session, machine["cpus"])
        click.echo(f"c = {cpu_per_session:.3f} CPU s per session; bound {bound:.1f} s")
        for value in values:
            options = {"tasks": tasks, "concurrency": concurrency, "clients": clients,
                       "recycle_after": value}  # fmt: skip
            row = run_once(cli, base_url, options)
            row["wall_over_bound"] = round(row["wall_seconds"] / bound, 2)
            row["targets"] = targets(row, bound)
            click.echo(json.dumps({key: v for key, v in row.items() if key != "python_samples"}))
            rows.append(row)
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine,
        "cli": str(cli),
        "settings": {"tasks": tasks, "latency": latency, "concurrency": concurrency},
        "cpu_per_session": round(cpu_per_session, 3),
        "lower_bound_seconds": round(bound, 2),
        "rows": rows,
    }
    path = write_result(out, "scale", started_at, result)
    click.echo(markdown(rows))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
