"""What ``run --record`` costs: a 50-task run at a scripted model standing in for the real
provider, with and without ``--record``, alternating, in one invocation; prints the medians
of wall time and CPU time (the whole process tree) and their ratios.

    python -m bench.record_overhead --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.measure import Measurement, measure

BENCH = Path(__file__).resolve().parent
TASKS = 50
JOB = f"""
version: 1
defaults:
  model: gpt-4.1
  provider: {{type: openai, base_url: "${{MODEL_URL}}"}}
matrix: {{n: {list(range(TASKS))}}}
tasks:
  - {{id: "hello-{{{{ n }}}}", prompt: Say hello.}}
"""


def _one_run(folder: Path, record: bool, index: int, env: dict[str, str]) -> Measurement:
    command = [sys.executable, "-m", "copilot_batch", "run", str(folder / "job.yaml"), "-q"]
    command += ["--out", str(folder / "runs"), "--run-id", f"{record}-{index}"]
    if record:
        command += ["--record", str(folder / f"recording-{index}")]
    measured = measure(command, env=env, cwd=folder, stdout=folder / f"out-{record}-{index}")
    if measured.returncode != 0:
        raise SystemExit(f"run failed: {(folder / f'out-{record}-{index}').read_text()}")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "job.yaml").write_text(JOB, encoding="utf-8")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "copilot_batch",
                "model-server",
                "--script",
                str(BENCH / "hello.yaml"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            env = {**os.environ, "MODEL_URL": server.stdout.readline().strip()}
            runs: dict[bool, list[Measurement]] = {False: [], True: []}
            for index in range(repeat):
                for record in (False, True):
                    runs[record].append(_one_run(folder, record, index, env))
        finally:
            server.terminate()
            server.wait()
    _report(runs)


def _report(runs: dict[bool, list[Measurement]]) -> None:
    def wall(record: bool) -> float:
        return statistics.median(m.wall_seconds for m in runs[record])

    def cpu(record: bool) -> float:
        return statistics.median(m.cpu_seconds for m in runs[record])

    print(f"{TASKS} tasks, median of {len(runs[False])} runs each")
    for name, figure in (("wall", wall), ("cpu", cpu)):
        plain, recorded = figure(False), figure(True)
        print(f"{name}: {plain:.2f}s plain, {recorded:.2f}s --record, {recorded / plain:.3f}x")


if __name__ == "__main__":
    main()
