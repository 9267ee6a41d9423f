"""Where a profiled process's time went, by area: collapsed stacks (``py-spy record
--format raw``) summed into the areas named in AREAS.

Each sample goes to the area of the innermost frame that names one, so an event parsed
inside the SDK's reader counts as parsing, not as reading, and our own redaction inside the
event writer counts as redaction. Samples with no such frame fall back to the broad owner of
their innermost frame (the SDK, ours, the event loop), then to ``other``.

    py-spy record -r 200 --gil --format raw -o run.raw -- python -m copilot_batch run ...
    python -m bench.profile_areas run.raw > profile.txt
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
    ("ours: results and run.json", r"\(copilot_batch/run_folder/(recorder|run_record|layout)"),
    ("ours: results and run.json", r"\(copilot_batch/(records|run_folder/atomic)\.py"),
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
# What a sample was done for: the first of these functions anywhere in its stack.
CAUSES: Sequence[tuple[str, str]] = (
    ("a session event (parse, dispatch, observe, queue)", "session_event_from_dict"),
    ("a session lifecycle notification", "_session_lifecycle_event_from_dict"),
    ("a session filesystem request", "handle_session_fs"),
    ("a session event (parse, dispatch, observe, queue)", "_dispatch_event"),
    ("writing events.jsonl", "EventLogWriter"),
    ("imports", "_find_and_load"),
    ("the reports", "write_reports"),
    ("result.json", "_write_result"),
    ("sending a JSON-RPC message", "_send_message"),
    ("the SDK's reader thread", "_read_loop"),
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


def causes(lines: Iterable[str]) -> Counter[str]:
    """Samples per cause (CAUSES); ``other`` for the rest."""
    totals: Counter[str] = Counter()
    for frames, count in parse_collapsed(lines):
        stack = ";".join(frames)
        cause = next((name for name, function in CAUSES if function in stack), "other")
        totals[cause] += count
    return totals


def areas(lines: Iterable[str]) -> Counter[str]:
    """Samples per area."""
    totals: Counter[str] = Counter()
    for frames, count in parse_collapsed(lines):
        totals[area_of(frames)] += count
    return totals


def functions(lines: Iterable[str]) -> Counter[str]:
    """Samples per function ("name (file)"), counting each stack once per function in it."""
    totals: Counter[str] = Counter()
    for frames, count in parse_collapsed(lines):
        for function in {frame.rsplit(":", 1)[0] + ")" for frame in frames}:
            totals[function] += count
    return totals


def table(totals: Counter[str], title: str = "area") -> str:
    """Areas or causes as a Markdown table, largest first: samples and share. (``--gil`` samples
    count time holding the GIL, which on a busy machine includes waiting for a CPU: read
    the shares, and take CPU seconds from ``bench/session_cpu.py``.)"""
    total = sum(totals.values())
    lines = [f"| {title} | samples | share |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {count} | {count / total:.1%} |" for name, count in totals.most_common()]
    lines.append(f"| total | {total} | 100% |")
    return "\n".join(lines)


@click.command(help=__doc__)
@click.argument("raw", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--top", default=0, help="Also list the N functions in the most samples.")
def main(raw: Path, top: int) -> None:
    text = raw.read_text(encoding="utf-8").splitlines()
    click.echo(table(areas(text)))
    click.echo()
    click.echo(table(causes(text), "what for"))
    if top:
        click.echo(f"\nThe {top} functions in the most samples (inclusive):\n")
        total = sum(count for _, count in parse_collapsed(text))
        for function, count in functions(text).most_common(top):
            click.echo(f"{count:7d} {count / total:6.1%}  {function}")


if __name__ == "__main__":
    main()
