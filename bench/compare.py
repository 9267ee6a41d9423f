"""Run the same N tasks three ways against the scripted model, and compare.

1. ``batch``: ``copilot-batch run`` on a job file with N tasks, ``-j C``.
2. ``sdk``: the plain SDK way (``bench/plain_sdk.py``): one client, ``asyncio.gather``
   of sessions with ``send_and_wait``, bounded by a semaphore of C. ``sdk-no-login`` is
   the same script told not to look for a GitHub login, as copilot-batch does: the part of
   the difference that one flag makes.
3. ``shell``: ``xargs -P C`` over ``copilot -p ... --allow-all-tools``, the provider set
   through ``COPILOT_PROVIDER_BASE_URL`` and friends.

Every task sends one prompt; the model (``copilot-batch model-server``, in its own process)
answers after ``--latency`` seconds. Before the ways run, one CLI runs a few sessions at low
concurrency to measure c, its CPU seconds per session, for the lower bound
max(ceil(N/C)·L, N·c/cores). Writes JSON to ``bench/results/`` and prints Markdown tables.

    python -m bench.compare                      # N=100, L=2 s, C=50, all three ways
    python -m bench.compare --scaling 25,50,100,200,400 --ways batch
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from copilot import CopilotClient, PermissionHandler, RuntimeConnection

from copilot_batch.testing.processes import children_running

from .measure import MIB, Measurement, cpu_seconds, lower_bound, measure
from .results import cli_path_option, cli_to_run, out_option, write_result
from .results import machine as bench_machine

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "hello.yaml"
PROMPT = "Say hello."
MODEL = "gpt-4.1"
WAYS = ("batch", "sdk", "sdk-no-login", "shell")


class ModelServer:
    """``copilot-batch model-server`` in its own process, so its CPU counts for no way."""

    def __init__(self, latency: float) -> None:
        self._command = [
            sys.executable, "-m", "copilot_batch", "model-server",
            "--script", str(SCRIPT), "--latency", str(latency),
        ]  # fmt: skip

    def __enter__(self) -> str:
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        return self._process.stdout.readline().strip()

    def __exit__(self, *exc_info: object) -> None:
        self._process.terminate()
        self._process.wait()


def calibrate(cli: Path, base_url: str, sessions: int, concurrency: int) -> float:
    """CPU seconds the CLI spends per session: one CLI (started as copilot-batch starts it,
    without the GitHub login lookups), ``sessions`` sessions, ``concurrency`` at a time;
    the CLI process's CPU before the first session and after the last."""

    async def run() -> float:
        with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as home:
            client = CopilotClient(
                connection=RuntimeConnection.for_stdio(path=str(cli)),
                base_directory=home,
                use_logged_in_user=False,
            )
            await client.start()
            try:
                (cli_pid,) = children_running(cli)
                limit = asyncio.Semaphore(concurrency)

                async def one() -> None:
                    async with (
                        limit,
                        await client.create_session(
                            on_permission_request=PermissionHandler.approve_all,
                            model=MODEL,
                            provider={"type": "openai", "base_url": base_url, "api_key": "x"},
                        ) as session,
                    ):
                        await session.send_and_wait(PROMPT, timeout=120)

                await one()  # the first session also loads what the CLI caches
                before = cpu_seconds(cli_pid)
                await asyncio.gather(*(one() for _ in range(sessions)))
                return (cpu_seconds(cli_pid) - before) / sessions
            finally:
                await client.stop()

    logging.disable(logging.ERROR)  # the SDK's sendAndWait fallback logs a traceback
    return asyncio.run(run())


def job_file(folder: Path, base_url: str, tasks: int) -> Path:
    job = {
        "version": 1,
        "defaults": {
            "model": MODEL,
            "provider": {"type": "openai", "base_url": base_url, "api_key": "x"},
        },
        "matrix": {"n": list(range(1, tasks + 1))},
        "tasks": [{"id": "task-{{ n }}", "prompt": PROMPT}],
    }
    path = folder / "bench.yaml"
    path.write_text(json.dumps(job))  # JSON is YAML
    return path


def batch_command(
    folder: Path, cli: Path, base_url: str, tasks: int, concurrency: int, *extra: str
) -> list[str]:
    """``copilot-batch run`` of the benchmark's job file of ``tasks`` tasks, then ``extra``."""
    return [
        sys.executable, "-m", "copilot_batch", "run",
        str(job_file(folder, base_url, tasks)), "--out", str(folder / "runs"),
        "-j", str(concurrency), "--cli-path", str(cli), "--quiet", *extra,
    ]  # fmt: skip


def plain_sdk_command(
    cli: Path, base_url: str, tasks: int, concurrency: int, *, no_login: bool
) -> list[str]:
    """``bench/plain_sdk.py`` on the same tasks: the plain SDK way."""
    return [
        sys.executable, str(HERE / "plain_sdk.py"), "--cli", str(cli),
        "--base-url", base_url, "--model", MODEL, "--prompt", PROMPT,
        "--tasks", str(tasks), "--concurrency", str(concurrency),
    ] + (["--no-login"] if no_login else [])  # fmt: skip


def run_way(
    way: str, *, cli: Path, base_url: str, tasks: int, concurrency: int, clients: int | None
) -> dict[str, Any]:
    """Run one way in a fresh temporary folder; its measurement and task outcomes."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{way}-") as tmp:
        folder = Path(tmp)
        env = {**os.environ}
        if way == "batch":
            extra = ["--clients", str(clients)] if clients else []
            command = batch_command(folder, cli, base_url, tasks, concurrency, *extra)
        elif way.startswith("sdk"):
            no_login = way == "sdk-no-login"
            command = plain_sdk_command(cli, base_url, tasks, concurrency, no_login=no_login)
        else:
            (folder / "out").mkdir()
            env |= {
                "COPILOT_HOME": str(folder / "home"),
                "COPILOT_OFFLINE": "true",
                "COPILOT_PROVIDER_BASE_URL": base_url,
                "COPILOT_PROVIDER_API_KEY": "x",
                "COPILOT_MODEL": MODEL,
            }
            each = (
                f'"{cli}" -p "{PROMPT}" --allow-all-tools --no-auto-update '
                "> out/$1.txt 2>&1; echo $? > out/$1.rc"
            )
            command = [
                "sh", "-c",
                f'seq 1 {tasks} | xargs -P {concurrency} -I%TASK% sh -c \'{each}\' _ %TASK%',
            ]  # fmt: skip
        measured = measure(command, env=env, cwd=folder, stdout=folder / "output.txt")
        ok, failed = _outcomes(way, folder, tasks)
    return _row(way, measured, tasks, ok, failed)


def _outcomes(way: str, folder: Path, tasks: int) -> tuple[int, int]:
    """(ok, failed) tasks, from what each way leaves behind."""
    if way == "batch":
        run_json = next((folder / "runs").glob("*/run.json"), None)
        totals = json.loads(run_json.read_text())["totals"] if run_json else {}
        ok = totals.get("ok", 0)
    elif way.startswith("sdk"):
        lines = (folder / "output.txt").read_text().strip().splitlines()
        ok = json.loads(lines[-1])["ok"] if lines and lines[-1].startswith("{") else 0
    else:
        ok = sum(path.read_text().strip() == "0" for path in (folder / "out").glob("*.rc"))
    return ok, tasks - ok


def _row(way: str, measured: Measurement, tasks: int, ok: int, failed: int) -> dict[str, Any]:
    return {
        "way": way,
        "tasks": tasks,
        "wall_seconds": round(measured.wall_seconds, 2),
        "cpu_seconds": round(measured.cpu_seconds, 2),
        "user_seconds": round(measured.user_seconds, 2),
        "system_seconds": round(measured.system_seconds, 2),
        "peak_rss_mib": round(measured.peaks.rss_bytes / MIB),
        "peak_pss_mib": round(measured.peaks.pss_bytes / MIB),
        "peak_processes": measured.peaks.processes,
        "tasks_per_second": round(tasks / measured.wall_seconds, 2),
        "ok": ok,
        "failed": failed,
        "returncode": measured.returncode,
    }


def compare(rows: Sequence[dict[str, Any]], bound: float) -> dict[str, Any]:
    """Ratios to copilot-batch, and the targets they meet or miss."""
    batch = next(row for row in rows if row["way"] == "batch")
    over_bound = round(batch["wall_seconds"] / bound, 2)
    ratios: dict[str, Any] = {"batch_wall_over_lower_bound": over_bound}
    for row in rows:
        if row["way"] != "batch":
            ratios[row["way"]] = {
                "speedup": round(row["wall_seconds"] / batch["wall_seconds"], 2),
                "cpu_ratio": round(row["cpu_seconds"] / batch["cpu_seconds"], 2),
                "batch_rss_share": round(batch["peak_rss_mib"] / row["peak_rss_mib"], 3),
                "batch_pss_share": round(batch["peak_pss_mib"] / row["peak_pss_mib"], 3),
            }
    targets: dict[str, bool] = {"within_1.5x_of_lower_bound": over_bound <= 1.5}
    if "sdk" in ratios:
        targets["2x_faster_than_sdk"] = ratios["sdk"]["speedup"] >= 2
    if "shell" in ratios:
        targets["4x_faster_than_shell"] = ratios["shell"]["speedup"] >= 4
        targets["under_quarter_of_shell_memory"] = ratios["shell"]["batch_rss_share"] < 0.25
    return {"ratios": ratios, "targets": targets}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    columns = [
        ("way", "way"), ("tasks", "N"), ("wall_seconds", "wall s"), ("cpu_seconds", "CPU s"),
        ("system_seconds", "of which kernel s"), ("peak_rss_mib", "peak RSS MiB"),
        ("peak_pss_mib", "peak PSS MiB"), ("peak_processes", "processes"),
        ("tasks_per_second", "tasks/s"), ("failed", "failed"),
    ]  # fmt: skip
    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + " --- |" * len(columns))
    lines += ["| " + " | ".join(str(row[key]) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)


@click.command(help=__doc__)
@click.option("--tasks", "-n", default=100, show_default=True, help="N, tasks per run.")
@click.option("--latency", "-l", default=2.0, show_default=True, help="L, model seconds.")
@click.option("--concurrency", "-c", default=50, show_default=True, help="C.")
@click.option("--ways", default=",".join(WAYS), show_default=True, help="Which ways to run.")
@click.option("--scaling", default="", help="Comma-separated Ns: run each way at each N.")
@click.option("--clients", type=int, help="--clients for copilot-batch (default: its own).")
@click.option("--calibration-sessions", default=20, show_default=True)
@cli_path_option
@out_option
def main(
    tasks: int,
    latency: float,
    concurrency: int,
    ways: str,
    scaling: str,
    clients: int | None,
    calibration_sessions: int,
    cli_path: Path | None,
    out: Path,
) -> None:
    cli = cli_to_run(cli_path)
    chosen = [way.strip() for way in ways.split(",") if way.strip()]
    unknown = set(chosen) - set(WAYS)
    if unknown:
        raise click.BadParameter(f"unknown ways {sorted(unknown)}; choose from {WAYS}")
    sizes = [int(size) for size in scaling.split(",")] if scaling else [tasks]
    machine = bench_machine()
    started_at = datetime.now(UTC)
    with ModelServer(latency) as base_url:
        cpu_per_session = calibrate(cli, base_url, calibration_sessions, machine["cpus"])
        click.echo(f"c = {cpu_per_session:.3f} CPU s per session; {machine['cpus']} CPUs")
        runs: list[dict[str, Any]] = []
        for size in sizes:
            rows = []
            for way in chosen:
                row = run_way(
                    way,
                    cli=cli,
                    base_url=base_url,
                    tasks=size,
                    concurrency=concurrency,
                    clients=clients,
                )
                click.echo(json.dumps(row))
                rows.append(row)
            bound = lower_bound(size, concurrency, latency, cpu_per_session, machine["cpus"])
            run: dict[str, Any] = {
                "tasks": size,
                "lower_bound_seconds": round(bound, 2),
                "rows": rows,
            }
            if "batch" in chosen:
                run |= compare(rows, bound)
            runs.append(run)
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine,
        "cli": str(cli),
        "settings": {"latency": latency, "concurrency": concurrency, "clients": clients},
        "cpu_per_session": round(cpu_per_session, 3),
        "runs": runs,
    }
    path = write_result(out, "scaling" if scaling else "compare", started_at, result)
    click.echo(markdown([row for run in runs for row in run["rows"]]))
    for run in runs:
        if "targets" in run:
            click.echo(f"N={run['tasks']}: lower bound {run['lower_bound_seconds']} s; "
                       f"{json.dumps(run['ratios'])}; {json.dumps(run['targets'])}")  # fmt: skip
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
