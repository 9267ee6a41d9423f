"""The run report (report.html) in a real browser: a run of three tasks through the real CLI
at the scripted model (one fails, one edits a file in a copy workspace, one answers), its
report opened from disk in headless Chromium, checked against the DOM contract the page and
these tests share (the run view, the tasks table and its filters and sorting, a task's
transcript and diff, deep links), and the page asks for nothing but its own file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chromium_support import WatchedPage, unavailable

from copilot_batch.errors import ExitCode
from copilot_batch.testing import (
    answer_conversation,
    one_tool_conversation,
    write_job,
    write_script,
)

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:
    unavailable("Playwright for Python is not installed (pip install -e '.[test]')")

pytestmark = [pytest.mark.browser, pytest.mark.cli]

COPILOT_BATCH = [sys.executable, "-m", "copilot_batch"]

EDIT = one_tool_conversation(
    "Finish the notes.",
    "edit",
    {"path": "${workdir}/notes.txt", "old_str": "draft", "new_str": "final"},
    "File ${workdir}/notes.txt updated with changes.",
    "The notes are final.",
)
GREETING = answer_conversation("Say hello to Ada.", "Hello, **Ada**.")
# notes.yaml: edit-notes changes a file; unscripted has no reply in the script, so it fails.
NOTES_JOB = """
    version: 1
    defaults: {model: gpt-4.1, permissions: approve-all, working_directory: project}
    tasks:
      - {id: edit-notes, prompt: Finish the notes., workspace: copy}
      - {id: unscripted, prompt: Nobody scripted this.}
"""
GREETINGS_JOB = """
    version: 1
    defaults: {model: gpt-4.1}
    matrix: {person: [Ada]}
    tasks:
      - {id: "greet-{{ person | lower }}", prompt: "Say hello to {{ person }}."}
"""
STATUSES = {"edit-notes": "ok", "unscripted": "failed", "greet-ada": "ok"}


@dataclass(frozen=True)
class Report:
    path: Path

    @property
    def url(self) -> str:
        return self.path.as_uri()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """One run for the whole module (its tests only read its report), made by
    ``copilot-batch run`` in a process of its own: Playwright's sync API holds this one's
    event loop."""
    folder = tmp_path_factory.mktemp("run")
    (folder / "project").mkdir()
    (folder / "project" / "notes.txt").write_text("status: draft\n")
    script = write_script(folder, [EDIT, GREETING])
    write_job(folder, NOTES_JOB, "notes.yaml")
    write_job(folder, GREETINGS_JOB, "greetings.yaml")
    command = [*COPILOT_BATCH, "run", "notes.yaml", "greetings.yaml", "--replay", str(script)]
    ran = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=240)
    assert ran.returncode == ExitCode.TASKS_FAILED, ran.stderr
    [run_folder] = (folder / "runs").iterdir()
    results = (run_folder / "results.jsonl").read_text().splitlines()
    assert {r["id"]: r["status"] for r in map(json.loads, results)} == STATUSES
    path = run_folder / "report.html"
    assert path.is_file(), "the run wrote no report.html"
    return Report(path)


@pytest.fixture
def page(watched_page: WatchedPage, report: Report) -> Iterator[Page]:
    """The report, opened from disk; afterwards, the page must have requested nothing but its
    own file and logged no error."""
    yield watched_page.page
    assert watched_page.console_errors == []
    assert requested(watched_page) <= {report.url}


def requested(watched: WatchedPage) -> set[str]:
    """The URLs the page asked for, fragments cut; data: URIs are inside the page itself."""
    return {url.split("#")[0] for url in watched.requests if not url.startswith("data:")}


def rows(page: Page) -> Locator:
    return page.locator("#tasks-table tr.task-row")


def visible_ids(page: Page) -> list[str]:
    return [
        row.get_attribute("data-task-id") or ""
        for row in rows(page).all()
        if row.get_attribute("hidden") is None
    ]


def open_tasks(page: Page, report: Report) -> None:
    page.goto(f"{report.url}#tasks")
    expect(page.locator("#tasks-view")).to_be_visible()
    expect(rows(page)).to_have_count(len(STATUSES))


def test_the_run_view_shows_the_state_and_the_totals_by_status(page: Page, report: Report) -> None:
    page.goto(report.url)
    view = page.locator("#run-view")
    expect(view).to_be_visible()
    expect(view.locator("#run-state")).to_have_text("finished")
    totals = view.locator("#run-totals")
    expect(totals.locator('[data-status="ok"]')).to_contain_text(re.compile(r"\b2\b"))
    expect(totals.locator('[data-status="failed"]')).to_contain_text(re.compile(r"\b1\b"))
    expect(view.locator("#job-files")).to_contain_text("notes.yaml")
    expect(view.locator("#job-files")).to_contain_text("greetings.yaml")


def test_the_tasks_table_has_a_row_per_task_with_its_status(page: Page, report: Report) -> None:
    open_tasks(page, report)
    for task_id, status in STATUSES.items():
        row = page.locator(f'#tasks-table tr.task-row[data-task-id="{task_id}"]')
        expect(row).to_have_attribute("data-status", status)
        expect(row.locator("td.status")).to_contain_text(status)
        expect(row.locator(".task-id")).to_contain_text(task_id)
    expect(page.locator('tr.task-row[data-task-id="greet-ada"] .job')).to_have_text("greetings")
    expect(page.locator('tr.task-row[data-task-id="greet-ada"] .matrix')).to_contain_text("Ada")
    expect(page.locator('tr.task-row[data-task-id="edit-notes"] .changed-files')).to_contain_text(
        "1"
    )
    for task_id in STATUSES:
        expect(page.locator(f'#timeline .timeline-bar[data-task-id="{task_id}"]')).to_have_count(1)
        expect(
            page.locator(f'.timeline-bar[data-task-id="{task_id}"][data-attempt="1"]')
        ).to_be_visible()


def test_filters_by_status_job_and_text_hide_the_other_rows(page: Page, report: Report) -> None:
    open_tasks(page, report)
    hidden = page.locator("#tasks-table tr.task-row[hidden]")

    page.locator("#filter-status").select_option("failed")
    expect(hidden).to_have_count(2)
    assert visible_ids(page) == ["unscripted"]

    page.locator("#filter-status").select_option("")
    page.locator("#filter-job").select_option("greetings")
    expect(hidden).to_have_count(2)
    assert visible_ids(page) == ["greet-ada"]

    page.locator("#filter-job").select_option("")
    expect(hidden).to_have_count(0)
    page.locator("#filter-text").fill("GREET")  # case-insensitive, on the id
    expect(hidden).to_have_count(2)
    assert visible_ids(page) == ["greet-ada"]
    page.locator("#filter-text").fill("no scripted reply")  # the failed task's error
    expect(hidden).to_have_count(2)
    assert visible_ids(page) == ["unscripted"]
    page.locator("#filter-text").fill("")
    expect(hidden).to_have_count(0)


def test_a_column_header_sorts_the_rows_and_sorts_back(page: Page, report: Report) -> None:
    open_tasks(page, report)
    first = rows(page).first
    ids = sorted(STATUSES)
    by_id = page.locator('#tasks-table th[data-sort="id"]')
    by_id.click()
    expect(first).to_have_attribute("data-task-id", ids[0])
    assert visible_ids(page) == ids
    by_id.click()
    expect(first).to_have_attribute("data-task-id", ids[-1])
    assert visible_ids(page) == ids[::-1]

    # By status (in whichever order the page ranks them): the failed task goes to one end,
    # and clicking again takes it to the other.
    by_status = page.locator('#tasks-table th[data-sort="status"]')
    by_status.click()
    expect(rows(page).nth(1)).to_have_attribute("data-status", "ok")
    end = first.get_attribute("data-status") or ""
    by_status.click()
    expect(first).not_to_have_attribute("data-status", end)
    expect(rows(page).nth(1)).to_have_attribute("data-status", "ok")


def test_a_task_shows_its_tool_call_and_its_coloured_diff(page: Page, report: Report) -> None:
    open_tasks(page, report)
    page.locator('tr.task-row[data-task-id="edit-notes"] .task-id a').click()
    view = page.locator("#task-view")
    expect(view).to_have_attribute("data-task-id", "edit-notes")
    expect(page).to_have_url(f"{report.url}#task=edit-notes")
    call = view.locator(".transcript .tool-call")
    expect(call).to_have_count(1)
    expect(call.locator(".tool-name")).to_have_text("edit")
    arguments = call.locator(".tool-args")
    expect(arguments).to_contain_text('"old_str": "draft"')
    expect(arguments).to_contain_text('"new_str": "final"')
    # The result the model was sent, or the CLI's detailed one (the edit as a diff).
    expect(call.locator(".tool-result")).to_contain_text(
        re.compile(r"notes\.txt updated with changes\.|\+status: final")
    )
    expect(view.locator(".transcript .msg.assistant").last).to_contain_text("The notes are final.")
    diff = view.locator(".diff")
    expect(diff.locator(".diff-file").first).to_contain_text("notes.txt")
    expect(diff.locator(".diff-del")).to_have_text(["-status: draft"])
    expect(diff.locator(".diff-add")).to_have_text(["+status: final"])
    # Coloured: added, removed and other lines are each drawn in their own colours.
    colours = [
        diff.locator(selector).first.evaluate(
            "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor].join()"
        )
        for selector in (".diff-add", ".diff-del", ".diff-hunk")
    ]
    assert len(set(colours)) == 3, colours


def test_a_deep_link_opens_the_task(page: Page, report: Report) -> None:
    page.goto(f"{report.url}#task=unscripted")
    view = page.locator("#task-view")
    expect(view).to_be_visible()
    expect(view).to_have_attribute("data-task-id", "unscripted")
    expect(view.locator("#task-header")).to_contain_text("unscripted")
    expect(view.locator("#task-header")).to_contain_text("failed")
    expect(view.locator("#task-header")).to_contain_text("no scripted reply")
    expect(page.locator("#tasks-view")).to_be_hidden()


def test_an_answer_is_rendered_as_markdown(page: Page, report: Report) -> None:
    page.goto(f"{report.url}#task=greet-ada")
    answer = page.locator("#task-view .transcript .msg.assistant").last
    expect(answer).to_contain_text("Hello, Ada.")
    expect(answer.locator("strong")).to_have_text("Ada")


def test_the_page_requests_nothing_but_its_own_file(
    watched_page: WatchedPage, report: Report
) -> None:
    page = watched_page.page
    page.goto(report.url)
    expect(page.locator("#run-view")).to_be_visible()
    page.locator('nav a[href="#tasks"]').click()
    expect(rows(page)).to_have_count(len(STATUSES))
    page.locator('tr.task-row[data-task-id="edit-notes"] .task-id a').click()
    expect(page.locator("#task-view .diff .diff-add")).to_have_count(1)
    page.locator('nav a[href="#run"]').click()
    expect(page.locator("#run-view")).to_be_visible()
    assert requested(watched_page) == {report.url}
    assert watched_page.console_errors == []
