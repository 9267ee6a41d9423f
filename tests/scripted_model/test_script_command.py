"""``copilot-batch script``: a finished task's conversation rebuilt as a script that
replays it, and the no-match diagnosis a task's error carries."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from copilot_batch.cli import main
from copilot_batch.scripted_model import load_script

SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "scripts"
JOB = """
version: 1
defaults: {working_directory: work, permissions: approve-all}
tasks:
  - {id: edit-notes, prompt: Change draft to final in notes.txt.}
"""


def run(folder: Path, script: Path, run_id: str) -> dict[str, object]:
    """Run the edit-notes job replaying ``script``; its task's result.json."""
    (folder / "work").mkdir(exist_ok=True)
    (folder / "work" / "notes.txt").write_text("status: draft\n")
    job = folder / "job.yaml"
    job.write_text(textwrap.dedent(JOB))
    out = ["--out", str(folder / "runs"), "--run-id", run_id, "-q"]
    CliRunner().invoke(main, ["run", str(job), "--replay", str(script), *out])
    result: dict[str, object] = json.loads(
        (folder / "runs" / run_id / "tasks" / "edit-notes" / "result.json").read_text()
    )
    return result


@pytest.mark.cli
def test_a_rebuilt_script_replays_the_task(tmp_path: Path) -> None:
    first = run(tmp_path, SCRIPTS / "edit_notes.yaml", "first")
    printed = CliRunner().invoke(
        main, ["script", "first", "edit-notes", "--out", str(tmp_path / "runs")]
    )
    assert printed.exit_code == 0, printed.output
    rebuilt = tmp_path / "rebuilt.yaml"
    rebuilt.write_text(printed.output)
    assert "/work" not in printed.output.replace("${workdir}", "")  # no machine path
    [conversation] = load_script(rebuilt).conversations
    assert [m.role for m in conversation.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    again = run(tmp_path, rebuilt, "again")
    assert (again["status"], again["final_message"]) == ("ok", first["final_message"])
    assert (again["tool_calls"], (tmp_path / "work" / "notes.txt").read_text()) == (
        1,
        "status: final\n",
    )


@pytest.mark.cli
def test_a_task_with_no_logged_prompt_is_refused(tmp_path: Path) -> None:
    run(tmp_path, SCRIPTS / "edit_notes.yaml", "r")
    (tmp_path / "runs" / "r" / "tasks" / "edit-notes" / "events.jsonl").write_text("")
    printed = CliRunner().invoke(main, ["script", str(tmp_path / "runs" / "r"), "edit-notes"])
    assert printed.exit_code == 2
    assert "task 'edit-notes' logged no prompt to rebuild a script from" in printed.output


@pytest.mark.cli
def test_a_task_past_its_script_names_what_to_add(tmp_path: Path) -> None:
    whole = (SCRIPTS / "edit_notes.yaml").read_text()
    cut = whole[: whole.index("      - role: tool")]  # the first conversation, before its result
    short = tmp_path / "short.yaml"
    short.write_text(cut)
    result = run(tmp_path, short, "r")
    assert result["status"] == "failed"
    error = str(result["error"])
    assert "to add at the conversation's end, then an assistant reply (YAML):" in error
    assert "- role: tool\n  content: File ${workdir}/notes.txt updated with changes." in error
