"""Usage a provider did not report, in report.html in a real browser: a run through the real
CLI at ``copilot-batch model-server --no-stream-usage`` (a streamed task gets no usage, a
plain one does); the page shows the run's tokens as a lower bound, the tasks without usage
and their estimate, and the task's tokens as such."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chromium_support import WatchedPage, unavailable

from copilot_batch.testing import write_job

try:
    from playwright.sync_api import expect
except ImportError:
    unavailable("Playwright for Python is not installed (pip install -e '.[test]')")

pytestmark = [pytest.mark.browser, pytest.mark.cli]

COPILOT_BATCH = [sys.executable, "-m", "copilot_batch"]
SCRIPT = Path(__file__).resolve().parents[1] / "data" / "scripts" / "greetings.yaml"
JOB = """
    version: 1
    defaults:
      model: gpt-4.1
      provider: {type: openai, base_url: "MODEL_URL", api_key: not-a-secret}
    tasks:
      - {id: streamed, prompt: Say hello., streaming: true}
      - {id: plain, prompt: Say goodbye.}
"""


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run, by ``copilot-batch run`` in a process of its own (Playwright's sync API
    holds this one's event loop)."""
    folder = tmp_path_factory.mktemp("run")
    server = [*COPILOT_BATCH, "model-server", "--script", str(SCRIPT), "--no-stream-usage"]
    with subprocess.Popen(server, stdout=subprocess.PIPE) as model:
        try:
            assert model.stdout is not None
            url = model.stdout.readline().decode().strip()
            write_job(folder, JOB.replace("MODEL_URL", url))
            command = [*COPILOT_BATCH, "run", "job.yaml", "--run-id", "r", "-q"]
            ran = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=240)
        finally:
            model.terminate()
    assert ran.returncode == 0, ran.stderr
    return folder / "runs" / "r"


def test_the_report_shows_unreported_usage_as_unknown_with_its_estimate(
    watched_page: WatchedPage, run_folder: Path
) -> None:
    page = watched_page.page
    run = json.loads((run_folder / "run.json").read_text())
    totals = run["totals"]
    estimate = totals["estimated_tokens"]
    reported = f"{totals['total_tokens']:,}"
    page.goto((run_folder / "report.html").as_uri())
    expect(page.locator("#tokens-card .value")).to_have_text(f"≥ {reported}")
    expect(page.locator("#without-usage-card .value")).to_have_text(
        f"1 tasks, ~{estimate:,} tokens est."
    )
    page.goto(f"{(run_folder / 'report.html').as_uri()}#tasks")
    row = page.locator("#tasks-table tr.task-row")
    expect(row.and_(page.locator("[data-task-id=streamed]")).locator(".tokens")).to_have_text(
        f"≥ 0 (~{estimate:,} est.)"
    )
    expect(row.and_(page.locator("[data-task-id=plain]")).locator(".tokens")).to_have_text(reported)
    page.goto(f"{(run_folder / 'report.html').as_uri()}#task=streamed")
    expect(page.locator("#task-header")).to_contain_text(f"≥ 0 (~{estimate:,} est.) tokens")
    assert watched_page.console_errors == []
