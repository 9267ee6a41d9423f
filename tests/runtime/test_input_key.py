"""The input key (pure) and what a task's key is read from on disk (no CLI)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from git_helpers import git
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch.files import hash_regular_file
from copilot_batch.jobfile import TaskSpec, load_jobs
from copilot_batch.runtime.input_key import content_digest, input_key
from copilot_batch.runtime.task_inputs import task_input_key
from copilot_batch.testing import write_job

paths = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=12)
trees = st.dictionaries(paths, st.binary(max_size=20), max_size=5)


def key(spec: str, files: dict[str, bytes], skills: dict[str, bytes] | None = None) -> str:
    digests = {path: content_digest(data) for path, data in files.items()}
    skill_digests = {path: content_digest(data) for path, data in (skills or {}).items()}
    return input_key(spec, skill_digests, digests)


@given(st.text(max_size=8), trees, st.text(max_size=8), trees)
def test_the_key_changes_exactly_when_the_spec_or_a_file_does(
    spec: str, files: dict[str, bytes], other_spec: str, other_files: dict[str, bytes]
) -> None:
    same = spec == other_spec and files == other_files
    assert (key(spec, files) == key(other_spec, other_files)) == same


@given(trees)
def test_the_key_does_not_depend_on_the_order_files_come_in(files: dict[str, bytes]) -> None:
    assert key("s", files) == key("s", dict(reversed(list(files.items()))))


@given(trees)
def test_a_skill_file_is_not_an_input_file(files: dict[str, bytes]) -> None:
    if files:
        assert key("s", files) != key("s", {}, skills=files)


JOB = """
version: 1
defaults: {working_directory: project, model: gpt-4.1}
tasks:
  - {id: all, prompt: Read.}
  - {id: some, prompt: Read., inputs: ["{{ 'a' }}.txt", "docs/**/*.md"]}
"""


@pytest.fixture
def tasks(tmp_path: Path) -> dict[str, TaskSpec]:
    project = tmp_path / "project"
    (project / "docs" / "deep").mkdir(parents=True)
    (project / "a.txt").write_text("a\n")
    (project / "b.txt").write_text("b\n")
    (project / "docs" / "deep" / "c.md").write_text("c\n")
    [job] = load_jobs([write_job(tmp_path, JOB)])
    return {task.id: task for task in job.tasks}


async def keys(tasks: dict[str, TaskSpec], run_path: Path) -> dict[str, str]:
    return {task_id: await task_input_key(task, run_path, None) for task_id, task in tasks.items()}


@pytest.mark.anyio
async def test_inputs_globs_limit_the_files_a_key_counts(
    tmp_path: Path, tasks: dict[str, TaskSpec]
) -> None:
    run_path = tmp_path / "runs" / "r"
    before = await keys(tasks, run_path)
    (tmp_path / "project" / "b.txt").write_text("b, changed\n")
    after_b = await keys(tasks, run_path)
    (tmp_path / "project" / "docs" / "deep" / "c.md").write_text("c, changed\n")
    after_c = await keys(tasks, run_path)
    assert after_b["all"] != before["all"] and after_b["some"] == before["some"]
    assert after_c["all"] != after_b["all"] and after_c["some"] != after_b["some"]
    assert tasks["some"].inputs == ("a.txt", "docs/**/*.md")


@pytest.mark.anyio
async def test_a_run_folder_in_the_working_directory_is_no_input(
    tmp_path: Path, tasks: dict[str, TaskSpec]
) -> None:
    run_path = tmp_path / "project" / "runs" / "r"
    before = await keys(tasks, run_path)
    run_path.mkdir(parents=True)
    (run_path / "run.json").write_text("{}")
    assert await keys(tasks, run_path) == before


@pytest.mark.anyio
async def test_a_git_repository_counts_its_tree_and_uncommitted_changes_not_ignored_files(
    tmp_path: Path, tasks: dict[str, TaskSpec]
) -> None:
    project, run_path = tmp_path / "project", tmp_path / "runs" / "r"
    (project / ".gitignore").write_text("*.log\n")
    git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "initial", cwd=project)
    committed = await task_input_key(tasks["all"], run_path, None)
    (project / "build.log").write_text("ignored\n")
    assert await task_input_key(tasks["all"], run_path, None) == committed
    (project / "a.txt").write_text("a, not committed\n")
    assert await task_input_key(tasks["all"], run_path, None) != committed


@pytest.mark.anyio
async def test_the_spec_skills_and_model_are_in_the_key(
    tmp_path: Path, tasks: dict[str, TaskSpec]
) -> None:
    task, run_path = tasks["some"], tmp_path / "runs" / "r"
    skills = tmp_path / "skills"
    (skills / "docgen").mkdir(parents=True)
    (skills / "docgen" / "SKILL.md").write_text("---\nname: docgen\ndescription: d\n---\nOne.\n")
    with_skills = dataclasses.replace(task, skill_directories=(skills,))
    found = {
        await task_input_key(task, run_path, None),
        await task_input_key(dataclasses.replace(task, prompt="Other."), run_path, None),
        await task_input_key(task, run_path, "claude-sonnet-4.5"),
        await task_input_key(with_skills, run_path, None),
    }
    (skills / "docgen" / "SKILL.md").write_text("---\nname: docgen\ndescription: d\n---\nTwo.\n")
    found.add(await task_input_key(with_skills, run_path, None))
    assert len(found) == 5


@pytest.mark.anyio
async def test_a_fifo_among_the_inputs_is_passed_over_as_a_copy_passes_it(
    tmp_path: Path, tasks: dict[str, TaskSpec]
) -> None:
    task, run_path = dataclasses.replace(tasks["some"], inputs=("a.txt*",)), tmp_path / "r"
    before = await task_input_key(task, run_path, None)
    os.mkfifo(tmp_path / "project" / "a.txt.fifo")  # read, it would block forever
    assert await task_input_key(task, run_path, None) == before


def test_a_file_is_hashed_as_its_content_is_digested_and_refused_past_the_limit(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").write_bytes(b"x" * 3_000_000)
    assert hash_regular_file(tmp_path / "data", 3_000_000) == content_digest(b"x" * 3_000_000)
    with pytest.raises(OSError, match="larger than 2,999,999 bytes"):
        hash_regular_file(tmp_path / "data", 2_999_999)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        hash_regular_file(tmp_path / "fifo", 10)
