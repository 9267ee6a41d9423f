"""Incremental runs with the real CLI at the scripted model: an unchanged task starts no
session and reuses its earlier result; a changed input file or prompt runs it again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from copilot_batch import RunResult, TaskStatus
from copilot_batch.cli import main
from copilot_batch.run_folder import RunFolder
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import (
    answer_conversation,
    one_tool_conversation,
    read_json,
    read_task_result,
    run_at_scripted_model,
    write_job,
    write_script,
)

pytestmark = [pytest.mark.cli]

PROMPTS = ("Summarise a.", "Summarise b.", "Summarise a, briefly.", "Summarise b, briefly.")
BODY = """
incremental: true
matrix: {name: [a, b]}
tasks:
  - id: "sum-{{ name }}"
    working_directory: "{{ name }}"
    inputs: ["*.txt"]
    prompt: "Summarise {{ name }}%s."
"""


def answer(prompt: str) -> dict[str, Any]:
    return answer_conversation(prompt, f"Answer to: {prompt}")


def reused_from(result: RunResult) -> dict[str, str | None]:
    return {
        r.task.id: read_task_result(result, r.task.id).get("reused_from") for r in result.results
    }


@pytest.mark.anyio
async def test_only_the_tasks_whose_inputs_or_prompt_changed_start_a_session(
    tmp_path: Path,
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "notes.txt").write_text(f"{name}\n")
        (tmp_path / name / "other.md").write_text("not an input\n")
    script = write_script(tmp_path, [answer(prompt) for prompt in PROMPTS])

    async with ScriptedModel(load_scripts([script])) as model:

        async def run(suffix: str = "") -> tuple[RunResult, int]:
            before = len(model.requests)
            result = await run_at_scripted_model(tmp_path, model, BODY % suffix)
            assert [r.status for r in result.results] == [TaskStatus.OK] * 2
            return result, len(model.requests) - before

        first, first_requests = await run()
        second, second_requests = await run()
        (tmp_path / "a" / "other.md").write_text("changed, but not an input\n")
        third, third_requests = await run()
        (tmp_path / "a" / "notes.txt").write_text("a, changed\n")
        fourth, fourth_requests = await run()
        fifth, fifth_requests = await run(", briefly")

    assert first_requests >= 2 and reused_from(first) == {"sum-a": None, "sum-b": None}
    assert second_requests == third_requests == 0
    assert reused_from(second) == dict.fromkeys(("sum-a", "sum-b"), first.run_id)
    assert reused_from(third) == dict.fromkeys(("sum-a", "sum-b"), second.run_id)
    for task_id in ("sum-a", "sum-b"):  # no session: no event log
        assert not RunFolder.ended(second.folder).events_path(task_id).exists()
        assert (
            read_task_result(second, task_id)["final_message"]
            == (read_task_result(first, task_id)["final_message"])
        )
    assert reused_from(fourth) == {"sum-a": None, "sum-b": third.run_id}
    assert 0 < fourth_requests < first_requests
    assert fifth_requests == first_requests and reused_from(fifth) == {"sum-a": None, "sum-b": None}
    assert second.record["totals"]["reused"] == 2 and fourth.record["totals"]["reused"] == 1
    assert "2 reused from earlier runs" in (second.folder / "summary.md").read_text()


EDIT_JOB = """
version: 1
defaults: {model: gpt-4.1, permissions: approve-all}
tasks:
  - id: notes
    working_directory: project
    workspace: copy
    inputs: ["other.txt"]
    prompt: Finish the notes.
"""


def test_a_reused_patch_is_applied_only_if_it_still_applies(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    notes = project / "notes.txt"
    notes.write_text("status: draft\n")
    (project / "other.txt").write_text("the input\n")
    job = write_job(tmp_path, EDIT_JOB)
    edit = one_tool_conversation(
        "Finish the notes.",
        "edit",
        {"path": "${workdir}/notes.txt", "old_str": "draft", "new_str": "final"},
        "File ${workdir}/notes.txt updated with changes.",
        "Done.",
    )
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": [edit]}))

    def run(*options: str) -> Any:
        command = ["run", str(job), "--replay", str(script), "-q", *options]
        return CliRunner().invoke(main, command)

    ran = run("--out", str(tmp_path / "cache"), "--run-id", "r1", "--incremental")
    assert ran.exit_code == 0, ran.output
    assert notes.read_text() == "status: draft\n"
    reused = run("--out", str(tmp_path / "runs"), "--run-id", "r2", "--cache-from",
                 str(tmp_path / "cache"), "--apply")  # fmt: skip
    assert reused.exit_code == 0, reused.output
    assert "reused      1" in reused.output and "applied notes: notes.txt" in reused.output
    assert notes.read_text() == "status: final\n"
    r2 = read_json(tmp_path / "runs" / "r2" / "tasks" / "notes" / "result.json")
    assert (r2["reused_from"], r2["patch"], r2["attempts"]) == (
        "r1",
        "tasks/notes/changes.patch",
        [],
    )
    assert (tmp_path / "runs" / "r2" / "tasks" / "notes" / "changes.patch").read_text() == (
        tmp_path / "cache" / "r1" / "tasks" / "notes" / "changes.patch"
    ).read_text()

    again = run("--out", str(tmp_path / "runs"), "--run-id", "r3", "--incremental", "--apply")
    assert again.exit_code == 0 and "already applied notes" in again.output, again.output
    notes.write_text("status: rewritten\n")  # not an input: the task is still reused
    refused = run("--out", str(tmp_path / "runs"), "--run-id", "r4", "--incremental", "--apply")
    assert refused.exit_code == 1, refused.output
    assert "reused      1" in refused.output and "refused notes" in refused.output
    assert notes.read_text() == "status: rewritten\n"
