"""How one Copilot CLI process ages with the sessions it serves: its memory and its CPU
seconds per session, every ``--window`` sessions.

One CLI, started as copilot-batch starts it (``runtime.clients.open_client``: no GitHub
login lookups, each session's state in copilot-batch's memory), serves ``--sessions``
one-prompt sessions, ``--concurrency`` at a time, with the options copilot-batch gives a
task of the benchmark's job file (``runtime.session.session_options``). The model is
``copilot-batch model-server`` in its own process, answering after ``--latency`` seconds.
After every window the CLI's RSS, its anonymous RSS (where V8's heap lives) and its CPU
seconds over the window are read from ``/proc``. Then, since other work on the machine
changes CPU time too, ``--rounds`` windows of the aged CLI and of a fresh one in turn
compare them under the same load. Writes ``bench/results/cli-aging-*.json``.

    python -m bench.cli_aging                       # 2,000 sessions, 50 at a time, windows of 100
    python -m bench.cli_aging --sessions 500 --window 50
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from copilot import CopilotClient

from copilot_batch.jobfile import TaskSpec, load_jobs
from copilot_batch.runtime.clients import CliProcess, open_client
from copilot_batch.runtime.session import session_options
from copilot_batch.testing.processes import children_running, read_proc

from .compare import PROMPT, ModelServer, job_file
from .measure import MIB, cpu_seconds, rss_bytes
from .results import cli_path_option, cli_to_run, out_option, write_result
from .results import machine as bench_machine


@dataclass(frozen=True)
class Window:
    """The CLI after ``sessions`` sessions, and over the last window of them."""

    sessions: int
    rss_mib: float
    anon_mib: float
    cpu_ms_per_session: float
    wall_seconds: float
    load_average: float  # the machine's, over the last minute: other work inflates CPU time


def anon_bytes(pid: int) -> int:
    """A process's anonymous resident memory (``RssAnon``): its heaps, not its code."""
    for line in (read_proc(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def growth(windows: Sequence[Window]) -> dict[str, Any]:
    """How the CLI aged: memory gained and CPU per session, first window against the last,
    and the memory gained per 100 sessions over the second half (past the warm-up)."""
    first, last = windows[0], windows[-1]
    middle = windows[len(windows) // 2]
    span = last.sessions - middle.sessions
    per_100 = (last.rss_mib - middle.rss_mib) / span * 100 if span else 0.0
    return {
        "rss_mib_first": first.rss_mib,
        "rss_mib_last": last.rss_mib,
        "rss_mib_per_100_sessions_late": round(per_100, 2),
        "cpu_ms_per_session_first": first.cpu_ms_per_session,
        "cpu_ms_per_session_last": last.cpu_ms_per_session,
        "cpu_last_over_first": round(last.cpu_ms_per_session / first.cpu_ms_per_session, 2),
    }


async def _serve(client: CopilotClient, task: TaskSpec, home: Path, count: int, limit: int) -> None:
    """``count`` sessions of ``task`` on ``client``, ``limit`` at a time."""
    semaphore = asyncio.Semaphore(limit)

    async def one() -> None:
        async with semaphore:
            options = session_options(task, lambda _entry: None, home)
            async with await client.create_session(**options) as session:
                await session.send_and_wait(PROMPT, timeout=120)

    await asyncio.gather(*(one() for _ in range(count)))


async def _window(
    client: CopilotClient, pid: int, task: TaskSpec, home: Path, served: int, size: int, limit: int
) -> Window:
    """Serve ``size`` sessions on ``client`` (its CLI is ``pid``); how it stood after."""
    before, started = cpu_seconds(pid), time.monotonic()
    await _serve(client, task, home, size, limit)
    cpu = cpu_seconds(pid) - before
    window = Window(
        sessions=served,
        rss_mib=round(rss_bytes(pid) / MIB, 1),
        anon_mib=round(anon_bytes(pid) / MIB, 1),
        cpu_ms_per_session=round(cpu / size * 1000, 1),
        wall_seconds=round(time.monotonic() - started, 2),
        load_average=round(os.getloadavg()[0], 2),
    )
    click.echo(json.dumps(asdict(window)))
    return window


async def age(
    cli: Path, task: TaskSpec, home: Path, sessions: int, size: int, limit: int, rounds: int
) -> tuple[list[Window], list[tuple[Window, Window]]]:
    """Serve ``sessions`` sessions on one CLI, a Window every ``size`` of them; then
    ``rounds`` windows of it and of a fresh CLI in turn, so both see the same load."""
    async with open_client(CliProcess(cli, home, github_login=False)) as client:
        (pid,) = children_running(cli)
        windows = [
            await _window(client, pid, task, home, served, size, limit)
            for served in range(size, sessions + 1, size)
        ]
        return windows, await _against_fresh(cli, (client, pid), task, home, size, limit, rounds)


async def _against_fresh(
    cli: Path,
    aged: tuple[CopilotClient, int],
    task: TaskSpec,
    home: Path,
    size: int,
    limit: int,
    rounds: int,
) -> list[tuple[Window, Window]]:
    """(aged, fresh) windows in turn; the fresh CLI serves one window first to warm up."""
    async with open_client(CliProcess(cli, home.with_name("fresh"), github_login=False)) as fresh:
        (fresh_pid,) = set(children_running(cli)) - {aged[1]}
        await _window(fresh, fresh_pid, task, home, size, size, limit)
        pairs = []
        for round_ in range(1, rounds + 1):
            old = await _window(*aged, task, home, -1, size, limit)
            new = await _window(fresh, fresh_pid, task, home, size * (round_ + 1), size, limit)
            pairs.append((old, new))
        return pairs


def against_fresh(pairs: Sequence[tuple[Window, Window]]) -> dict[str, float]:
    """The aged CLI's CPU per session and memory over the fresh one's, summed over rounds."""
    old_cpu = sum(old.cpu_ms_per_session for old, _ in pairs)
    new_cpu = sum(new.cpu_ms_per_session for _, new in pairs)
    return {
        "cpu_aged_over_fresh": round(old_cpu / new_cpu, 2),
        "rss_aged_over_fresh": round(pairs[-1][0].rss_mib / pairs[-1][1].rss_mib, 2),
    }


def markdown(windows: Sequence[Window]) -> str:
    lines = [
        "| sessions served | RSS MiB | anonymous RSS MiB | CPU ms per session | load |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {w.sessions} | {w.rss_mib:.0f} | {w.anon_mib:.0f} | {w.cpu_ms_per_session} "
        f"| {w.load_average} |"
        for w in windows
    ]
    return "\n".join(lines)


@click.command(help=__doc__)
@click.option("--sessions", default=2000, show_default=True)
@click.option("--window", default=100, show_default=True, help="Sessions between samples.")
@click.option("--concurrency", "-c", default=50, show_default=True, help="Sessions at once.")
@click.option("--latency", "-l", default=0.0, show_default=True, help="Model seconds.")
@click.option("--rounds", default=3, show_default=True, help="Aged and fresh windows in turn.")
@cli_path_option
@out_option
def main(
    sessions: int,
    window: int,
    concurrency: int,
    latency: float,
    rounds: int,
    cli_path: Path | None,
    out: Path,
) -> None:
    cli = cli_to_run(cli_path)
    started_at = datetime.now(UTC)
    logging.disable(logging.ERROR)  # the SDK's sendAndWait fallback logs a traceback
    with ModelServer(latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (task,) = load_jobs([job_file(folder, base_url, 1)])[0].tasks
        windows, pairs = asyncio.run(
            age(cli, task, folder / "home", sessions, window, concurrency, rounds)
        )
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": bench_machine(),
        "cli": str(cli),
        "settings": {
            "sessions": sessions,
            "window": window,
            "concurrency": concurrency,
            "latency": latency,
        },
        "windows": [asdict(each) for each in windows],
        "growth": growth(windows),
        "rounds": [{"aged": asdict(old), "fresh": asdict(new)} for old, new in pairs],
        "against_fresh": against_fresh(pairs) if pairs else None,
    }
    path = write_result(out, "cli-aging", started_at, result)
    click.echo(markdown(windows))
    click.echo(json.dumps(result["growth"]))
    click.echo(json.dumps(result["against_fresh"]))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
