"""Isolated workspaces with the real CLI: parallel writing tasks never see each other's
changes, the source is never touched, and each task's patch applies with git."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from git_helpers import git

from copilot_batch import TaskStatus
from copilot_batch.cli import main
from copilot_batch.errors import PatchApplyError
from copilot_batch.run_folder.apply import apply_patch
from copilot_batch.testing import answer_conversation, one_tool_conversation, read_json, run_job

pytestmark = [pytest.mark.cli]

WRITERS = 3


def edit_conversation(task_id: str, replacement: str) -> dict[str, Any]:
    return one_tool_conversation(
        f"Finish the notes for {task_id}.",
        "edit",
        {"path": "${workdir}/notes.txt", "old_str": "draft", "new_str": replacement},
        "File ${workdir}/notes.txt updated with changes.",
        f"{task_id} edited.",
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository whose project/ folder holds notes.txt, the file every task edits."""
    repo = tmp_path / "repo"
    (repo / "project").mkdir(parents=True)
    (repo / "project" / "notes.txt").write_text("status: draft\n")
    (repo / "README.md").write_text("A repository.\n")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    return repo


@pytest.mark.anyio
async def test_parallel_writers_stay_isolated_and_their_patches_apply(
    tmp_path: Path, repository: Path
) -> None:
    tasks = [
        (f"{mode}-{n}", mode) for mode in ("copy", "git-worktree") for n in range(1, WRITERS + 1)
    ]
    script = tmp_path / "edits.yaml"
    conversations = [edit_conversation(task_id, f"final {task_id}") for task_id, _ in tasks]
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": conversations}))
    job = {
        "version": 1,
        "defaults": {"working_directory": "repo/project", "permissions": "approve-all"},
        "tasks": [
            {"id": task_id, "prompt": f"Finish the notes for {task_id}.", "workspace": mode}
            for task_id, mode in tasks
        ],
    }
    result = await run_job(tmp_path, yaml.safe_dump(job), replay=(script,), concurrency=6)

    source = repository / "project" / "notes.txt"
    assert source.read_text() == "status: draft\n"
    assert git("status", "--porcelain", cwd=repository) == ""
    for task_id, mode in tasks:
        task = next(t for t in result.results if t.task.id == task_id)
        assert task.status is TaskStatus.OK, (task_id, task.error)
        record = read_json(result.folder / "tasks" / task_id / "result.json")
        assert record["workspace"]["mode"] == mode
        assert record["options"]["working_directory"] == str(repository / "project")
        patch = (result.folder / record["patch"]).read_text()
        # Each patch holds its own task's change and nobody else's.
        assert [line for line in patch.splitlines() if line.startswith(("+s", "-s"))] == [
            "-status: draft",
            f"+status: final {task_id}",
        ]
        expected_file = "notes.txt" if mode == "copy" else "project/notes.txt"
        assert record["changed_files"] == [expected_file]
        assert not (result.folder / "workspaces" / task_id).exists()
        if mode == "git-worktree":
            branch = record["workspace"]["branch"]
            assert branch == f"copilot-batch/{result.run_id}/{task_id}"
            shown = git("show", f"{branch}:project/notes.txt", cwd=repository)
            assert shown == f"status: final {task_id}\n"
        # The patch applies to the untouched source (paths from its patch_root).
        inside = Path(record["workspace"]["patch_root"]).relative_to(repository)
        directory = [] if inside == Path() else [f"--directory={inside}"]
        git("apply", "--check", *directory, str(result.folder / record["patch"]), cwd=repository)

    # Bring one task's change back; a second, conflicting patch is refused, changing nothing.
    first, second = (
        read_json(result.folder / "tasks" / t / "result.json") for t in ("copy-1", "git-worktree-2")
    )
    await apply_patch(result.folder / first["patch"], Path(first["workspace"]["patch_root"]))
    assert source.read_text() == "status: final copy-1\n"
    with pytest.raises(PatchApplyError, match="does not apply"):
        await apply_patch(result.folder / second["patch"], Path(second["workspace"]["patch_root"]))
    assert source.read_text() == "status: final copy-1\n"


@pytest.mark.anyio
async def test_a_task_that_changes_nothing_has_no_patch(
    tmp_path: Path, repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out, as `make demo` gives
    script = tmp_path / "quiet.yaml"
    conversation = answer_conversation("Look, do not touch.", "Nothing to change.")
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": [conversation]}))
    result = await run_job(
        tmp_path,
        "version: 1\ntasks: [{id: quiet, prompt: 'Look, do not touch.', workspace: git-worktree, "
        "working_directory: repo}]\n",
        replay=(script,),
        out_dir=Path("runs"),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert (task.patch, task.changed_files) == (None, [])
    # Its branch held nothing: it is gone, and so is its worktree.
    assert git("branch", "--list", "copilot-batch/*", cwd=repository) == ""
    assert git("worktree", "list", "--porcelain", cwd=repository).count("worktree ") == 1


def test_run_apply_brings_changes_back_apply_again_says_already_applied(
    tmp_path: Path, repository: Path
) -> None:
    script = tmp_path / "edit.yaml"
    conversation = edit_conversation("solo", "final")
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": [conversation]}))
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\n"
        "tasks: [{id: solo, prompt: Finish the notes for solo., workspace: copy,\n"
        "         working_directory: repo/project, permissions: approve-all}]\n"
    )
    runs = tmp_path / "runs"
    notes = repository / "project" / "notes.txt"
    ran = CliRunner().invoke(
        main,
        ["run", str(job), "--replay", str(script), "--out", str(runs), "--run-id", "r1", "--apply"],
    )
    assert ran.exit_code == 0, ran.output
    assert "applied solo: notes.txt" in ran.output
    assert notes.read_text() == "status: final\n"

    again = CliRunner().invoke(main, ["apply", str(runs / "r1")])
    assert again.exit_code == 0, again.output
    assert again.output == "already applied solo: notes.txt\n"
    assert notes.read_text() == "status: final\n"

    # Neither in place nor applicable: refused, and the file is left as it is.
    notes.write_text("status: rewritten\n")
    conflict = CliRunner().invoke(main, ["apply", str(runs / "r1")])
    assert conflict.exit_code == 1
    assert "refused solo" in conflict.output and "does not apply" in conflict.output
    assert notes.read_text() == "status: rewritten\n"


@pytest.mark.anyio
@pytest.mark.parametrize("in_git", [False, True], ids=["plain-folder", "git-repository"])
async def test_a_copy_from_the_project_root_leaves_out_runs_and_ignored_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_git: bool
) -> None:
    """The job file at the root of a project, run from there with the default --out runs:
    the copy holds the project's files, not the run folder (which holds the copy), not
    earlier runs, and not what .gitignore leaves out."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "notes.txt").write_text("status: draft\n")
    (project / "src" / "app.py").write_text("print('app')\n")
    (project / ".gitignore").write_text("node_modules/\n.venv/\n")
    for folder in ("node_modules/left-pad", ".venv/lib"):
        (project / folder).mkdir(parents=True)
        (project / folder / "index.js").write_text("module.exports = 1;\n")
    (project / "runs" / "20260101-000000-aaaa" / "tasks").mkdir(parents=True)
    (project / "runs" / "20260101-000000-aaaa" / "run.json").write_text("{}\n")
    if in_git:
        git("init", "-q", cwd=project)
        git("add", "notes.txt", ".gitignore", cwd=project)
        git("commit", "-q", "-m", "initial", cwd=project)
    script = project / "edit.yaml"
    conversation = edit_conversation("root", "final")
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": [conversation]}))
    monkeypatch.chdir(project)
    result = await run_job(
        project,
        "version: 1\n"
        "tasks: [{id: root, prompt: Finish the notes for root., workspace: copy,\n"
        "         permissions: approve-all}]\n",
        replay=(script,),
        out_dir=Path("runs"),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    record = read_json(result.folder / "tasks" / "root" / "result.json")
    # notes.txt, src/app.py, .gitignore, edit.yaml and job.yaml: nothing else.
    expected = ["notes.txt", "src/app.py", ".gitignore", "edit.yaml", "job.yaml"]
    assert record["workspace"]["copied_files"] == len(expected)
    assert record["workspace"]["copied_bytes"] == sum(
        (project / name).stat().st_size for name in expected
    )
    assert record["changed_files"] == ["notes.txt"]
    assert (project / "notes.txt").read_text() == "status: draft\n"
