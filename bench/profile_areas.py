"""Where a profiled process's time went, by area: collapsed stacks (``py-spy record
--format raw``) summed into the areas named in AREAS.

Each sample goes to the area of the innermost frame that names one, so an event parsed
inside the SDK's reader counts as parsing, not as reading, and our own redaction inside the
event writer counts as redaction. Samples with no such frame fall back to the broad owner of
their innermost frame (the SDK, ours, the event loop), then to ``other``.

    py-spy record -r 200 --gil --format raw -o run.raw -- python -m copilot_batch run ...
    python -m bench.profile_areas run.raw [--tasks 400] > profile.txt
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

# (area, pattern over one frame as py-spy writes it: "function (file:line)"), innermost wins.
AREAS: Sequence[tuple[str, str]] = (
    ("imports and start-up", r"^_find_and_load |^_handle_fromlist |^import_module "),
    ("SDK: timestamp parsing (dateutil)", r"\(dateutil/"),
    ("SDK: event parsing", r"from_dict \(copilot/|^from_\w+ \(copilot/"),
    ("SDK: event dispatch", r"_dispatch_event \(copilot/|handle_notification \(copilot/"),
    ("ours: event to_dict", r"to_dict \(copilot/"),
    ("ours: redaction", r"\(copilot_batch/redact\.py"),
    ("structlog", r"\(structlog/"),
    ("ours: event writer", r"\(copilot_batch/run_folder/events\.py"),
    ("ours: session observer", r"_SessionObserver|\(copilot_batch/runtime/sandbox\.py"),
    ("ours: reports", r"\(copilot_batch/run_folder/(reports|html)"),
    ("ours: results and run.json", r"\(copilot_batch/(run_folder/(recorder|run_record|layout|atomic)|records)\.py"),
    ("ours: session filesystem", r"\(copilot_batch/runtime/(session|memory|disk)_files\.py"),
    ("ours: live view and output", r"\(copilot_batch/terminal/"),
    ("SDK: JSON-RPC reading and writing", r"\(copilot/_jsonrpc\.py"),
)  # fmt: skip
# When no area matches: the owner of the innermost frame that has one.
OWNERS: Sequence[tuple[str, str]] = (
    ("ours: other", r"\(copilot_batch/"),
    ("SDK: other", r"\(copilot/"),
    ("anyio/asyncio", r"\((anyio|asyncio)/"),
)
_AREAS = [(name, re.compile(pattern)) for name, pattern in AREAS]
_OWNERS = [(name, re.compile(pattern)) for name, pattern in OWNERS]


def parse_collapsed(lines: Iterable[str]) -> Iterable[tuple[list[str], int]]:
    """(frames outermost first, samples) per line of collapsed stacks."""
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def area_of(frames: Sequence[str]) -> str:
    """The area of one stack: the innermost frame naming an area, else an owner."""
    for rules in (_AREAS, _OWNERS):
        for frame in reversed(frames):
            for name, pattern in rules:
                if pattern.search(frame):
                    return name
    return "other"


def areas(lines: Iterable[str]) -> Counter[str]:
    """Samples per area."""
    totals: Counter[str] = Counter()
    for frames, count in parse_collapsed(lines):
        totals[area_of(frames)] += count
    return totals


def table(totals: Counter[str], rate: int, tasks: int | None) -> str:
    """The areas as a Markdown table, largest first: samples, share, and (with ``tasks``)
    milliseconds per task at ``rate`` samples a second."""
    total = sum(totals.values())
    header = "| area | samples | share |" + (" ms per task |" if tasks else "")
    lines = [header, "|" + " --- |" * (4 if tasks else 3)]
    for name, count in totals.most_common():
        row = f"| {name} | {count} | {count / total:.1%} |"
        if tasks:
            row += f" {count / rate / tasks * 1000:.2f} |"
        lines.append(row)
    lines.append(f"| total | {total} | 100% |" + (f" {total / rate / tasks * 1000:.2f} |" if tasks else ""))
    return "\n".join(lines)


@click.command(help=__doc__)
@click.argument("raw", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rate", default=200, show_default=True, help="py-spy's samples a second.")
@click.option("--tasks", type=int, help="Tasks in the run: adds milliseconds per task.")
def main(raw: Path, rate: int, tasks: int | None) -> None:
    with open(raw, encoding="utf-8") as lines:
        click.echo(table(areas(lines), rate, tasks))


if __name__ == "__main__":
    main()
