"""How long commands that run nothing take to start, against the Copilot SDK's import.

In one run, interleaved round by round so the machine's load falls on all alike, the wall
time of ``python -c "import copilot"``, ``copilot-batch --help`` and ``copilot-batch
validate`` of the example job files that name no custom tools; each the median of
``--repeat`` rounds. The target: each command at most 0.4 × the SDK's import. Writes JSON
to ``bench/results/`` and prints a Markdown table.

    python -m bench.startup --repeat 9
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from .results import machine, out_option, write_result

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
TARGET = 0.4  # each command's share of the SDK's import time, at most
# Example job files without custom tools or hooks: validating them needs no SDK.
JOB_FILES = ("jobs/hello-matrix.yaml", "jobs/summarize-samples.yaml", "jobs/nightly-docs.yaml")
BASELINE = "import copilot"
COMMANDS: Mapping[str, Sequence[str]] = {
    BASELINE: [sys.executable, "-c", "import copilot"],
    "copilot-batch --help": [sys.executable, "-m", "copilot_batch", "--help"],
    "copilot-batch validate": [sys.executable, "-m", "copilot_batch", "validate", *JOB_FILES],
}


def wall_seconds(command: Sequence[str]) -> float:
    """One run of ``command`` from the repository, its output discarded; it must succeed."""
    began = time.perf_counter()
    subprocess.run(command, cwd=REPOSITORY, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - began


def summary(samples: Mapping[str, Sequence[float]]) -> list[dict[str, object]]:
    """Each command's median seconds and its ratio to the SDK's import, against TARGET."""
    medians = {name: statistics.median(times) for name, times in samples.items()}
    rows: list[dict[str, object]] = []
    for name, median in medians.items():
        ratio = median / medians[BASELINE]
        row: dict[str, object] = {"command": name, "median_seconds": round(median, 3)}
        if name != BASELINE:
            row |= {"ratio": round(ratio, 2), "target_met": ratio <= TARGET}
        rows.append(row)
    return rows


def markdown(rows: Sequence[Mapping[str, object]]) -> str:
    lines = [
        "| Command | Median wall time (s) | × `import copilot` | ≤ 0.4 |",
        "| --- | ---: | ---: | --- |",
    ]
    for row in rows:
        met = row.get("target_met")
        verdict = "" if met is None else ("met" if met else "not met")
        ratio = row.get("ratio", 1.0)
        lines.append(f"| `{row['command']}` | {row['median_seconds']} | {ratio} | {verdict} |")
    return "\n".join(lines)


@click.command(help=__doc__)
@click.option("--repeat", default=7, show_default=True, help="Rounds; each runs every command.")
@out_option
def main(repeat: int, out: Path) -> None:
    started_at = datetime.now(UTC)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    wall_seconds(COMMANDS[BASELINE])  # warm the file cache; not counted
    for _ in range(repeat):
        for name, command in COMMANDS.items():
            samples[name].append(wall_seconds(command))
    rows = summary(samples)
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "repeat": repeat,
        "job_files": list(JOB_FILES),
        "samples": {name: [round(time, 3) for time in times] for name, times in samples.items()},
        "rows": rows,
    }
    path = write_result(out, "startup", started_at, result)
    click.echo(markdown(rows))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
