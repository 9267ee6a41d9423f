"""The size of report.html and the time to write it, for a run of TASKS tasks of the example
jobs: the tasks of a run of ``jobs/*.yaml`` (``make demo``'s) copied, events, results and
patches whole, under new ids until the run has TASKS of them; then report.html written
from that folder as ``copilot-batch view`` writes it.

    python -m bench.report_size runs/<demo-run-id> [--tasks 400]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from copilot_batch.run_folder import write_html_report


def replicate(source: Path, target: Path, tasks: int) -> None:
    """``source``'s run folder copied to ``target`` with its tasks repeated to ``tasks``."""
    run = json.loads((source / "run.json").read_text(encoding="utf-8"))
    originals: list[dict[str, Any]] = run["tasks"]
    copies = []
    (target / "tasks").mkdir(parents=True)
    for n in range(tasks):
        original = originals[n % len(originals)]
        task_id = f"{original['id']}-{n // len(originals) + 1}"
        shutil.copytree(source / "tasks" / original["id"], target / "tasks" / task_id)
        result_path = target / "tasks" / task_id / "result.json"
        result = json.loads(result_path.read_text(encoding="utf-8"))
        patch = f"tasks/{task_id}/changes.patch" if result.get("patch") else None
        result.update(id=task_id, patch=patch)
        result_path.write_text(json.dumps(result), encoding="utf-8")
        copies.append({**original, "id": task_id, "patch": patch})
    run.update(run_id=target.name, tasks=copies)
    (target / "run.json").write_text(json.dumps(run), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder of the example jobs")
    parser.add_argument("--tasks", type=int, default=400)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        target = Path(temporary) / "report-bench"
        replicate(arguments.run, target, arguments.tasks)
        events = sum(path.stat().st_size for path in target.glob("tasks/*/events.jsonl"))
        started = time.perf_counter()
        report = write_html_report(target)
        seconds = time.perf_counter() - started
        size = report.stat().st_size
    print(f"{arguments.tasks} tasks, events.jsonl {events / 1e6:.1f} MB in all")
    print(f"report.html {size / 1e6:.1f} MB, written in {seconds:.2f} s")


if __name__ == "__main__":
    main()
