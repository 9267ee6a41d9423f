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
            ["2:20: $.matrix.m.file: matrix file {folder}/nope.txt does not exist"],
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
            ["2:30: $.tasks[0].prompt_file: prompt file {folder}/missing.md does not exist"],
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


def test_matrix_values_keep_the_text_they_were_written_with(folder: Path) -> None:
    (folder / "versions.yaml").write_text("- 3.10\n- {py: 3.12, os: NO}\n")
    [job] = load_jobs(
        [
            write(
                folder,
                """
                version: 1
                matrix:
                  py: [3.10, 3.11, 08, 0x1F, 1e3]
                  country: [NO, SE, 2024-01-31]
                tasks:
                  - {id: "t-{{ py }}-{{ country }}", prompt: "Python {{ py }} in {{ country }}"}
                  - id: "f-{{ v.py | default(v) }}"
                    prompt: "{{ v }}"
                    matrix: {v: {file: versions.yaml}}
                """,
            )
        ],
        environ={},
    )
    ids = [task.id for task in job.tasks]
    assert ids[:3] == ["t-3.10-NO", "t-3.10-SE", "t-3.10-2024-01-31"]
    assert {task_id.split("-")[1] for task_id in ids[:15]} == {"3.10", "3.11", "08", "0x1F", "1e3"}
    assert ids[15:] == ["f-3.10", "f-3.12"]
    assert job.tasks[0].prompt == "Python 3.10 in NO"
    # Still numbers: JSON and arithmetic see 3.1, a template's filters too.
    assert job.tasks[0].matrix_values == {"py": 3.1, "country": "NO"}
    assert job.tasks[0].describe()["matrix"] == {"py": 3.1, "country": "NO"}
    assert job.tasks[16].prompt == "{'py': 3.12, 'os': 'NO'}"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("exclude: [{py: 3.1}]", ["3.11"]),
        ("exclude: [{py: '3.10'}]", ["3.11"]),
        ("exclude: [{py: '3.1'}]", ["3.10", "3.11"]),
        ("include: [{py: 3.1, extra: x}]", ["3.10-x", "3.11"]),
        ("include: [{py: 3.12}]", ["3.10", "3.11", "3.12"]),
    ],
)
def test_include_and_exclude_compare_numbers_as_numbers_or_as_written(
    folder: Path, extra: str, expected: list[str]
) -> None:
    task_id = "{{ py }}{% if extra is defined %}-{{ extra }}{% endif %}"
    tasks = expand(
        folder,
        f"""
        version: 1
        matrix: {{py: [3.10, 3.11], {extra}}}
        tasks: [{{id: "{task_id}", prompt: x}}]
        """,
    )
    assert [task_id for task_id, _ in tasks] == expected


def test_a_job_over_max_tasks_is_refused_before_its_matrix_is_built(folder: Path) -> None:
    # 40**6 = 4,096,000,000 combinations: building them would take hours and terabytes.
    keys = ", ".join(f"k{n}: [{', '.join(map(str, range(40)))}]" for n in range(6))
    found = problems(folder, f"version: 1\nmatrix: {{{keys}}}\ntasks: [{{id: a, prompt: x}}]\n")
    assert found == [
        "2:9: $.matrix: the job file would expand to 4,096,000,000 tasks, more than the limit "
        "of 10,000 (by default); this matrix makes 4,096,000,000 combinations. To allow more, "
        "set max_tasks at the top of the job file (at most 100,000)"
    ]


def test_max_tasks_raises_the_limit_up_to_its_own(folder: Path) -> None:
    matrix = "matrix: {a: [" + ", ".join(map(str, range(120))) + "], b: [1, 2]}"
    task = "tasks: [{id: 't{{ a }}-{{ b }}', prompt: x}, {id: 'u{{ a }}-{{ b }}', prompt: x}]"
    assert problems(folder, f"version: 1\nmax_tasks: 400\n{matrix}\n{task}\n") == [
        "3:9: $.matrix: the job file would expand to 480 tasks, more than the limit of 400 "
        "(set by max_tasks); this matrix makes 240 combinations. To allow more, set max_tasks "
        "at the top of the job file (at most 100,000)"
    ]
    assert len(expand(folder, f"version: 1\nmax_tasks: 480\n{matrix}\n{task}\n")) == 480
    assert problems(folder, f"version: 1\nmax_tasks: 100001\n{matrix}\n{task}\n") == [
        "2:12: $.max_tasks: 100001 is greater than the maximum of 100000"
    ]


def test_many_task_entries_count_too(folder: Path) -> None:
    tasks = ", ".join(f"{{id: t{n}, prompt: x}}" for n in range(3))
    assert problems(folder, f"version: 1\nmax_tasks: 2\ntasks: [{tasks}]\n") == [
        "3:8: $.tasks: the job file would expand to 3 tasks, more than the limit of 2 "
        "(set by max_tasks). To allow more, set max_tasks at the top of the job file "
        "(at most 100,000)"
    ]


def test_a_glob_does_not_follow_symlinked_folders(folder: Path) -> None:
    (folder / "src" / "again").symlink_to("..")  # a loop: ** would never end
    tasks = expand(
        folder,
        """
        version: 1
        matrix: {module: {glob: "src/**/*.py"}}
        tasks: [{id: "doc-{{ module | replace('/', '-') }}", prompt: x}]
        """,
    )
    assert [values["module"] for _, values in tasks] == [
        "src/pkg/a.py",
        "src/pkg/b.py",
        "src/pkg/sub/c.py",
    ]


def test_a_task_id_names_a_folder_so_it_has_at_most_200_characters(folder: Path) -> None:
    assert len(expand(folder, f"version: 1\ntasks: [{{id: {'x' * 200}, prompt: x}}]\n")) == 1
    assert problems(folder, f"version: 1\ntasks: [{{id: {'x' * 201}, prompt: x}}]\n") == [
        "2:14: $.tasks[0].id: task id '" + "x" * 58 + "… is 201 characters long; it names the "
        "task's folder, so at most 200"
    ]
