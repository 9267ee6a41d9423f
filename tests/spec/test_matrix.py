"""Matrix sources, include and exclude, task matrices and prompt files."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from copilot_batch import JobFilesInvalid, load_jobs


def write(folder: Path, text: str) -> Path:
    path = folder / "job.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def expand(folder: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    [job] = load_jobs([write(folder, text)], environ={})
    return [(task.id, dict(task.matrix_values)) for task in job.tasks]


def problems(folder: Path, text: str) -> list[str]:
    path = write(folder, text)
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([path], environ={})
    return [str(error).removeprefix(f"{path}:") for error in caught.value.errors]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for module in ("src/pkg/a.py", "src/pkg/b.py", "src/pkg/sub/c.py", "src/notes.txt"):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text("")
    (tmp_path / "repos.txt").write_text("# repositories\napi\n\nweb\n")
    (tmp_path / "repos.yaml").write_text("- {name: api, lang: go}\n- {name: web, lang: ts}\n")
    (tmp_path / "sizes.json").write_text("[1, 2]")
    return tmp_path


def test_glob_values_are_paths_relative_to_the_job_folder(folder: Path) -> None:
    tasks = expand(
        folder,
        """
        version: 1
        matrix: {module: {glob: "src/**/*.py"}}
        tasks: [{id: "doc-{{ module | replace('/', '-') }}", prompt: "{{ module }}"}]
        """,
    )
    assert [values["module"] for _, values in tasks] == [
        "src/pkg/a.py",
        "src/pkg/b.py",
        "src/pkg/sub/c.py",
    ]


def test_file_values_by_line_or_as_a_json_or_yaml_list(folder: Path) -> None:
    tasks = expand(
        folder,
        """
        version: 1
        matrix: {repo: {file: repos.yaml}, size: {file: sizes.json}}
        tasks:
          - {id: "r-{{ repo.name }}-{{ size }}", prompt: "{{ repo.lang }}"}
          - id: "line-{{ repo }}"
            prompt: x
            matrix: {repo: {file: repos.txt}}
        """,
    )
    assert [task_id for task_id, _ in tasks] == [
        "r-api-1", "r-api-2", "r-web-1", "r-web-2", "line-api", "line-web",
    ]  # fmt: skip
    assert tasks[0][1] == {"repo": {"name": "api", "lang": "go"}, "size": 1}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('exclude: [{os: win, py: "3.11"}]', ["lin-3.11", "lin-3.12", "win-3.12"]),
        ("exclude: [{os: win}]", ["lin-3.11", "lin-3.12"]),
        # An include entry extends every combination it matches ...
        ("include: [{os: win, shell: pwsh}]",
         ["lin-3.11", "lin-3.12", "win-3.11-pwsh", "win-3.12-pwsh"]),
        # ... and becomes a new combination when it matches none.
        ('include: [{os: mac, py: "3.12"}]',
         ["lin-3.11", "lin-3.12", "win-3.11", "win-3.12", "mac-3.12"]),
        # Values it added may be overwritten by a later entry; the matrix's own never.
        ('include: [{os: win, shell: pwsh}, {py: "3.12", shell: bash}]',
         ["lin-3.11", "lin-3.12-bash", "win-3.11-pwsh", "win-3.12-bash"]),
        ('exclude: [{py: "3.11"}], include: [{py: "3.11", os: bsd}]',
         ["lin-3.12", "win-3.12", "bsd-3.11"]),
    ],
)  # fmt: skip
def test_include_and_exclude_follow_github_actions(
    folder: Path, extra: str, expected: list[str]
) -> None:
    task_id = "{{ os }}-{{ py }}{% if shell is defined %}-{{ shell }}{% endif %}"
    tasks = expand(
        folder,
        f"""
        version: 1
        matrix: {{os: [lin, win], py: ["3.11", "3.12"], {extra}}}
        tasks: [{{id: "{task_id}", prompt: x}}]
        """,
    )
    assert [task_id for task_id, _ in tasks] == expected


def test_prompt_file_is_a_template(folder: Path) -> None:
    (folder / "prompt.md").write_text("Review {{ repo }}.\n")
    [job] = load_jobs(
        [
            write(
                folder,
                """
                version: 1
                matrix: {repo: [api]}
                tasks: [{id: "r-{{ repo }}", prompt_file: prompt.md}]
                """,
            )
        ],
        environ={},
    )
    assert job.tasks[0].prompt == "Review api.\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "matrix: {m: {glob: 'src/*.rs'}}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:20: $.matrix.m.glob: glob 'src/*.rs' matches no file in {folder}"],
            id="glob-matches-nothing",
        ),
        pytest.param(
            "matrix: {m: {glob: '../*.py'}}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:20: $.matrix.m.glob: glob '../*.py' must stay inside the job file's folder"],
            id="glob-leaves-the-folder",
        ),
        pytest.param(
            "matrix: {m: {file: nope.txt}}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:20: $.matrix.m.file: cannot read matrix file {folder}/nope.txt: "
             "No such file or directory"],
            id="missing-file",
        ),
        pytest.param(
            "matrix: {m: {file: bad.yaml}}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:20: $.matrix.m.file: matrix file {folder}/bad.yaml must hold a list"],
            id="file-not-a-list",
        ),
        pytest.param(
            "matrix: {m: {file: empty.txt}}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:20: $.matrix.m.file: matrix file {folder}/empty.txt holds no values"],
            id="file-without-values",
        ),
        pytest.param(
            "matrix: {m: [1], exclude: [{m: 1}]}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:9: $.matrix: the matrix expands to no combination (exclude removes them all)"],
            id="everything-excluded",
        ),
        pytest.param(
            "matrix: {m: [1], exclude: [{n: 1}]}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:29: $.matrix.exclude[0].n: 'n' is not a key of the matrix (m)"],
            id="exclude-unknown-key",
        ),
        pytest.param(
            "matrix: {m: [1], include: [x]}\ntasks: [{id: 'a{{ m }}', prompt: x}]",
            ["2:28: $.matrix.include[0]: must be an object, not a string"],
            id="include-not-an-object",
        ),
        pytest.param(
            "matrix: {m: {glob: x, file: y}}\ntasks: [{id: a, prompt: x}]",
            ["2:23: $.matrix.m.file: unknown key 'file' (known keys: glob)"],
            id="glob-and-file",
        ),
        pytest.param(
            "tasks: [{id: a, prompt_file: missing.md}]",
            ["2:30: $.tasks[0].prompt_file: cannot read prompt file {folder}/missing.md: "
             "No such file or directory"],
            id="missing-prompt-file",
        ),
        pytest.param(
            "tasks: [{id: a, prompt: x, prompt_file: p.md}]",
            ["2:9: $.tasks[0]: give prompt or prompt_file, not both"],
            id="prompt-and-prompt-file",
        ),
        pytest.param(
            "tasks: [{id: a, prompt_file: p.md}]",
            ["2:30: $.tasks[0].prompt_file: template error: 'who' is undefined "
             "(variables: none; the job has no matrix)"],
            id="prompt-file-undefined-variable",
        ),
        pytest.param(
            "matrix: {m: {file: repos.txt}}\ntasks: [{id: same, prompt: x}]",
            ["3:14: $.tasks[0].id: duplicate task id 'same' (also at {folder}/job.yaml:3:14)"],
            id="duplicate-after-expansion",
        ),
    ],
)  # fmt: skip
def test_matrix_and_prompt_errors_name_their_place(
    folder: Path, body: str, expected: list[str]
) -> None:
    (folder / "bad.yaml").write_text("a: 1\n")
    (folder / "empty.txt").write_text("# nothing\n\n")
    (folder / "p.md").write_text("Hello {{ who }}\n")
    found = problems(folder, f"version: 1\n{body}\n")
    assert found == [line.format(folder=folder) for line in expected]
