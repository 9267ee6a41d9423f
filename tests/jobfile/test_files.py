"""Files a job file names, and the job file itself: only small regular UTF-8 files are read,
and every other kind of path is refused at its key, without hanging or reading it whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from copilot_batch import JobFilesInvalid, load_jobs
from copilot_batch.jobfile import files

LIMIT = files.MAX_FILE_BYTES


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "dir").mkdir()
    (tmp_path / "big.txt").write_bytes(b"x" * (LIMIT + 1))
    (tmp_path / "full.txt").write_bytes(b"x" * LIMIT)
    (tmp_path / "latin1.txt").write_bytes("line one\nnaïve\n".encode("latin-1"))
    return tmp_path


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("fifo", "is a FIFO, not a regular file"),
        ("zero", "is a character device, not a regular file"),
        ("dir", "is a folder, not a regular file"),
        ("loop", "cannot be used: Too many levels of symbolic links"),
        ("x" * 300, "cannot be used: File name too long"),
        ("a\x00b", "has a NUL character in its name"),
        ("missing", "does not exist"),
        ("big.txt/x", "cannot be used: Not a directory"),
        ("big.txt", f"is larger than the limit of 1 MiB ({LIMIT + 1:,} bytes)"),
        ("latin1.txt", "is not UTF-8 text (invalid continuation byte at line 2, column 3)"),
    ],
)
def test_only_small_regular_utf8_files_are_read(folder: Path, name: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        files.read_text(folder / name)
    assert str(refused.value) == reason


def test_a_file_of_exactly_the_limit_is_read(folder: Path) -> None:
    assert len(files.read_text(folder / "full.txt")) == LIMIT


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("fifo", "is a FIFO, not a folder"),
        ("big.txt", "is a file, not a folder"),
        ("loop", "cannot be used: Too many levels of symbolic links"),
        ("x" * 300, "cannot be used: File name too long"),
        ("a\x00b", "has a NUL character in its name"),
        ("missing", "does not exist"),
    ],
)
def test_folders_must_be_folders(folder: Path, name: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        files.directory(folder / name)
    assert str(refused.value) == reason


def test_data_files_report_the_place_of_their_problem(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("- a\n- !!binary aGk=\n")
    with pytest.raises(ValueError, match=r"^is invalid at line 2, column 3: the tag !!binary"):
        files.read_data(tmp_path / "values.yaml")
    (tmp_path / "values.json").write_text('[1, {"a": 1, "a": 2}]')
    with pytest.raises(ValueError, match=r"^is invalid at line 1, column 14: duplicate key 'a'"):
        files.read_data(tmp_path / "values.json")


def problems(path: Path) -> list[str]:
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([path], environ={})
    return [str(error).removeprefix(f"{path}:") for error in caught.value.errors]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("fifo", "is a FIFO, not a regular file"),
        ("zero", "is a character device, not a regular file"),
        ("dir", "is a folder, not a regular file"),
        ("loop", "cannot be used: Too many levels of symbolic links"),
        ("big.txt", f"is larger than the limit of 1 MiB ({LIMIT + 1:,} bytes)"),
    ],
)
def test_a_job_file_that_is_no_small_regular_file_is_refused(
    folder: Path, name: str, reason: str
) -> None:
    assert problems(folder / name) == [f"1:1: the job file {reason}"]


def test_a_job_file_that_is_not_utf8_names_the_line_of_the_bad_byte(folder: Path) -> None:
    job = folder / "job.yaml"
    job.write_bytes(b"version: 1\ntasks: [{id: a, prompt: \xff}]\n")
    assert problems(job) == [
        "1:1: the job file is not UTF-8 text (invalid start byte at line 2, column 25)"
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "tasks: [{id: a, prompt_file: fifo}]",
            "2:30: $.tasks[0].prompt_file: prompt file {folder}/fifo is a FIFO, not a regular file",
            id="prompt-file-fifo",
        ),
        pytest.param(
            "matrix: {m: {file: zero}}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            "2:20: $.matrix.m.file: matrix file {folder}/zero is a character device, not a "
            "regular file",
            id="matrix-file-device",
        ),
        pytest.param(
            "tasks: [{id: a, prompt: x, output_schema: loop}]",
            "2:43: $.tasks[0].output_schema: output schema {folder}/loop cannot be used: Too many "
            "levels of symbolic links",
            id="schema-file-loop",
        ),
        pytest.param(
            "tasks: [{id: a, prompt: x, working_directory: loop}]",
            "2:47: $.tasks[0].working_directory: working directory 'loop' ({folder}/loop) cannot "
            "be used: Too many levels of symbolic links",
            id="working-directory-loop",
        ),
        pytest.param(
            f"tasks: [{{id: a, prompt: x, working_directory: {'x' * 300}}}]",
            "2:47: $.tasks[0].working_directory: working directory '" + "x" * 58 + "… ({folder}/"
            + "x" * 300 + ") cannot be used: File name too long",
            id="working-directory-long-name",
        ),
        pytest.param(
            'tasks: [{id: a, prompt: x, working_directory: "a\\0b"}]',
            "2:47: $.tasks[0].working_directory: working directory 'a\\x00b' ({folder}/a\x00b) "
            "has a NUL character in its name",
            id="working-directory-nul",
        ),
        pytest.param(
            "tasks: [{id: a, prompt: x, skills: {directories: [fifo]}}]",
            "2:51: $.tasks[0].skills.directories[0]: skills directory {folder}/fifo is a FIFO, "
            "not a folder",
            id="skills-fifo",
        ),
        pytest.param(
            "tasks: [{id: a, prompt: x, mcp_servers: {s: {command: x, working_directory: dir/"
            + "y" * 300 + "}}}]",
            "2:77: $.tasks[0].mcp_servers.s.working_directory: {folder}/dir/" + "y" * 300
            + " cannot be used: File name too long",
            id="mcp-working-directory-long-name",
        ),
    ],
)  # fmt: skip
def test_paths_in_a_job_file_are_checked_at_their_key(
    folder: Path, body: str, expected: str
) -> None:
    job = folder / "job.yaml"
    job.write_text(f"version: 1\n{body}\n")
    assert problems(job) == [expected.format(folder=folder)]


def test_a_skill_whose_skill_md_is_a_fifo_is_refused(folder: Path) -> None:
    (folder / "skills" / "s").mkdir(parents=True)
    os.mkfifo(folder / "skills" / "s" / "SKILL.md")
    job = folder / "job.yaml"
    job.write_text("version: 1\ntasks: [{id: a, prompt: x, skills: {directories: [skills]}}]\n")
    assert problems(job) == [
        f"2:51: $.tasks[0].skills.directories[0]: {folder}/skills/s/SKILL.md is a FIFO, "
        "not a regular file"
    ]
