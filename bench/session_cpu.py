"""CPU seconds of copilot-batch's own Python process per short session.

``copilot-batch run`` (as ``python -m copilot_batch run``) on N one-prompt tasks, ``-j C``,
against the scripted model in its own process (``copilot-batch model-server``, answering
after ``--latency`` seconds with a short reply and no tools), as ``bench/compare.py`` runs
it. What is measured is the Python process alone, not the CLI processes it starts: the
benchmark waits for the process to exit without reaping it (``waitid`` with ``WNOWAIT``),
reads the zombie's ``/proc/PID/stat`` (utime and stime: the whole thread group's own time;
cutime and cstime: the children it reaped, the CLIs), then reaps it with ``wait4``, whose
rusage (self and children) must agree with their sum.

Each ``--tree NAME=PATH`` is a source tree run with ``PYTHONPATH=PATH``, so a main checkout
and a branch are measured in one session, interleaved run by run; each figure is the median
over ``--repeat`` rounds. Per size N: CPU/N; between the smallest and the largest N, the
marginal CPU per session (CPU(N2) − CPU(N1)) / (N2 − N1), which leaves out start-up.

    python -m bench.session_cpu                                  # N=100,400, C=50, L=1 s
    python -m bench.session_cpu --tree before=../main --tree after=. --repeat 3
    python -m bench.session_cpu --plain-sdk     # and the plain SDK script: the SDK's own cost

``--plain-sdk`` adds ``bench/plain_sdk.py --no-login`` (one client, ``asyncio.gather`` of
sessions with ``send_and_wait``), measured the same way: what the SDK costs a process that
does nothing else with the events (no event log, no results, session state on the CLI's
disk), the floor under copilot-batch's own figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from copilot_batch.testing.processes import stat_fields

from .compare import ModelServer, batch_command, plain_sdk_command
from .measure import CLOCK_TICKS
from .results import cli_path_option, cli_to_run, out_option, write_result
from .results import machine as bench_machine

HERE = Path(__file__).resolve().parent
# Target of issue 17: CPU per short session at N = 400.
TARGET_SECONDS = 0.015


def own_and_children_cpu(stat: str) -> tuple[float, float]:
    """(the process's own CPU seconds, its reaped children's) from ``/proc/PID/stat`` text."""
    fields = stat_fields(stat)
    # fields[0] is field 3 (state): utime, stime are fields 14-15, cutime, cstime 16-17.
    own = int(fields[11]) + int(fields[12])
    children = int(fields[13]) + int(fields[14])
    return own / CLOCK_TICKS, children / CLOCK_TICKS


@dataclass(frozen=True)
class ProcessCpu:
    """What one run of a command cost: its own CPU, its children's, the wall time."""

    own_seconds: float
    children_seconds: float
    rusage_seconds: float  # wait4's self + children: the check on the two above
    wall_seconds: float
    returncode: int


def run_measured(
    command: Sequence[str], *, env: Mapping[str, str], cwd: Path, output: Path
) -> ProcessCpu:
    """Run ``command`` to its end; its own CPU read from its zombie before it is reaped."""
    with open(output, "wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        wall = time.monotonic() - started
        own, children = own_and_children_cpu(Path(f"/proc/{process.pid}/stat").read_text())
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    total = usage.ru_utime + usage.ru_stime
    return ProcessCpu(own, children, total, wall, process.returncode)


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per tree: the median own CPU at each N, CPU/N, and the marginal CPU per session
    between the smallest and the largest N; the target judged at the largest N."""
    summary: dict[str, Any] = {}
    for tree in dict.fromkeys(row["tree"] for row in rows):
        by_size: dict[int, list[float]] = {}
        for row in rows:
            if row["tree"] == tree:
                by_size.setdefault(row["tasks"], []).append(row["own_cpu_seconds"])
        medians = {size: statistics.median(values) for size, values in sorted(by_size.items())}
        sizes = list(medians)
        entry: dict[str, Any] = {
            "median_cpu_seconds": {str(size): round(cpu, 3) for size, cpu in medians.items()},
            "cpu_per_session_ms": {
                str(size): round(cpu / size * 1000, 2) for size, cpu in medians.items()
            },
        }
        if len(sizes) > 1:
            first, last = sizes[0], sizes[-1]
            marginal = (medians[last] - medians[first]) / (last - first)
            entry["marginal_ms"] = round(marginal * 1000, 2)
        largest = sizes[-1]
        per_session = medians[largest] / largest
        entry["target"] = {
            "tasks": largest,
            "cpu_per_session_ms": round(per_session * 1000, 2),
            "target_ms": TARGET_SECONDS * 1000,
            "ratio": round(per_session / TARGET_SECONDS, 2),
            "met": per_session <= TARGET_SECONDS,
        }
        summary[tree] = entry
    return summary


def parse_trees(values: Sequence[str]) -> dict[str, Path]:
    """``NAME=PATH`` options as {name: path}; none means this checkout, named ``this``."""
    if not values:
        return {"this": HERE.parent}
    trees: dict[str, Path] = {}
    for value in values:
        name, separator, path = value.partition("=")
        if not separator or not name or not path:
            raise click.BadParameter(f"{value!r}: expected NAME=PATH", param_hint="--tree")
        trees[name] = Path(path).resolve()
    return trees


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


# The tree name under which --plain-sdk rows are recorded.
PLAIN_SDK = "plain-sdk"


def ok_tasks(folder: Path, plain_sdk: bool) -> int:
    """The tasks that ended ok: from run.json, or the plain script's printed counts."""
    if plain_sdk:
        lines = (folder / "output.txt").read_text().strip().splitlines()
        return int(json.loads(lines[-1])["ok"]) if lines else 0
    run_json = next((folder / "runs").glob("*/run.json"), None)
    return int(json.loads(run_json.read_text())["totals"]["ok"]) if run_json else 0


def run_once(
    tree: Path | None, *, cli: Path, base_url: str, tasks: int, concurrency: int
) -> dict[str, Any]:
    """One ``copilot-batch run`` of ``tasks`` tasks from ``tree`` (None: the plain SDK
    script, ``bench/plain_sdk.py --no-login``, instead); its row."""
    with tempfile.TemporaryDirectory(prefix="bench-session-cpu-") as tmp:
        folder = Path(tmp)
        if tree is None:
            command = plain_sdk_command(cli, base_url, tasks, concurrency, no_login=True)
            env = dict(os.environ)
        else:
            command = batch_command(folder, cli, base_url, tasks, concurrency)
            env = {**os.environ, "PYTHONPATH": str(tree)}
        load_before = _load_average()
        measured = run_measured(command, env=env, cwd=folder, output=folder / "output.txt")
        ok = ok_tasks(folder, plain_sdk=tree is None)
    return {
        "tasks": tasks,
        "own_cpu_seconds": round(measured.own_seconds, 2),
        "cpu_per_session_ms": round(measured.own_seconds / tasks * 1000, 2),
        "children_cpu_seconds": round(measured.children_seconds, 2),
        "rusage_cpu_seconds": round(measured.rusage_seconds, 2),
        "wall_seconds": round(measured.wall_seconds, 2),
        "ok": ok,
        "returncode": measured.returncode,
        "load_average": [load_before, _load_average()],
    }


@click.command(help=__doc__)
@click.option("--sizes", default="100,400", show_default=True, help="Comma-separated Ns.")
@click.option("--latency", "-l", default=1.0, show_default=True, help="L, model seconds.")
@click.option("--concurrency", "-c", default=50, show_default=True, help="C.")
@click.option("--repeat", default=3, show_default=True, help="Rounds; figures are medians.")
@click.option("--tree", "trees", multiple=True, help="NAME=PATH, a source tree to run.")
@click.option(
    "--plain-sdk",
    is_flag=True,
    help="Also run bench/plain_sdk.py --no-login: what the SDK alone costs a script.",
)
@cli_path_option
@out_option
def main(
    sizes: str,
    latency: float,
    concurrency: int,
    repeat: int,
    trees: tuple[str, ...],
    plain_sdk: bool,
    cli_path: Path | None,
    out: Path,
) -> None:
    cli = cli_to_run(cli_path)
    chosen: dict[str, Path | None] = {**parse_trees(trees)}
    if plain_sdk:
        chosen[PLAIN_SDK] = None
    counts = sorted(int(size) for size in sizes.split(","))
    started_at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    with ModelServer(latency) as base_url:
        for round_number in range(1, repeat + 1):
            for tasks in counts:
                for name, tree in chosen.items():
                    row = {"tree": name, "round": round_number}
                    row |= run_once(
                        tree, cli=cli, base_url=base_url, tasks=tasks, concurrency=concurrency
                    )
                    click.echo(json.dumps(row))
                    rows.append(row)
    summary = summarise(rows)
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": bench_machine(),
        "cli": str(cli),
        "settings": {"latency": latency, "concurrency": concurrency, "repeat": repeat},
        "trees": {name: str(path or HERE / "plain_sdk.py") for name, path in chosen.items()},
        "rows": rows,
        "summary": summary,
    }
    path = write_result(out, "session-cpu", started_at, result)
    click.echo(json.dumps(summary, indent=2))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
