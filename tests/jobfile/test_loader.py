"""Loading job files: valid files expand as documented; every bad input names file:line:col."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot_batch import JobFilesInvalid, load_jobs
from copilot_batch.cli import main
from copilot_batch.errors import NoJobFilesError
from copilot_batch.jobfile import job_schema, resolve_job_paths


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([path], environ=environ or {})
    return [str(error).removeprefix(f"{path}:") for error in caught.value.errors]


def test_issue_example_expands_matrix_templates_and_environment(tmp_path: Path) -> None:
    (tmp_path / "services" / "api").mkdir(parents=True)
    (tmp_path / "services" / "web").mkdir(parents=True)
    job_file = write(
        tmp_path,
        "review.yaml",
        """
        version: 1
        name: review-repos
        description: Review each repository for error handling.
        defaults:
          model: gpt-4.1
          provider:
            type: openai
            base_url: http://127.0.0.1:11434/v1
            api_key: ${OLLAMA_API_KEY}
          system_message: {mode: append, content: "You are a careful reviewer."}
          timeout: 10m
          working_directory: .
        matrix:
          repo: [services/api, services/web]
        tasks:
          - id: review-{{ repo | replace('/', '-') }}
            prompt: |
              Review {{ repo }} for missing error handling. List findings.
            working_directory: "{{ repo }}"
        """,
    )
    [job] = load_jobs([job_file], environ={"OLLAMA_API_KEY": "key-from-env-123"})
    assert job.name == "review-repos"
    assert [task.id for task in job.tasks] == ["review-services-api", "review-services-web"]
    api, web = job.tasks
    assert api.prompt == "Review services/api for missing error handling. List findings.\n"
    assert api.working_directory == (tmp_path / "services" / "api").resolve()
    assert web.matrix_values == {"repo": "services/web"}
    assert api.timeout_seconds == 600
    assert api.permissions.describe() == "deny-all"
    assert api.provider is not None and api.provider["api_key"] == "key-from-env-123"
    assert api.system_message == {"mode": "append", "content": "You are a careful reviewer."}
    # The key never appears in what is written; the spec hash still notices a new key.
    assert "key-from-env-123" not in str(api.describe())
    [rekeyed] = load_jobs([job_file], environ={"OLLAMA_API_KEY": "another-key-456"})
    assert rekeyed.tasks[0].spec_hash() != api.spec_hash()


def test_name_defaults_to_file_stem_and_task_overrides_defaults(tmp_path: Path) -> None:
    job_file = write(
        tmp_path,
        "nightly-docs.yaml",
        """
        version: 1
        defaults: {model: gpt-4.1, timeout: 30, permissions: approve-all}
        tasks:
          - {id: a, prompt: one}
          - {id: b, prompt: two, model: claude-sonnet-4.5, timeout: 1h30m, permissions: deny-all}
        """,
    )
    [job] = load_jobs([job_file], environ={})
    a, b = job.tasks
    assert job.name == "nightly-docs"
    assert (a.model, a.timeout_seconds, a.permissions.default) == ("gpt-4.1", 30.0, "allow")
    assert (b.model, b.timeout_seconds) == ("claude-sonnet-4.5", 5400.0)
    assert b.permissions.default == "deny"
    assert a.working_directory == tmp_path.resolve()


def test_matrix_product_order_is_task_then_combinations(tmp_path: Path) -> None:
    job_file = write(
        tmp_path,
        "m.yaml",
        """
        version: 1
        matrix: {lang: [en, fr], n: [1, 2]}
        tasks:
          - {id: "t-{{ lang }}-{{ n }}", prompt: "say {{ n }} in {{ lang }}"}
          - {id: "u-{{ lang }}-{{ n }}", prompt: "x"}
        """,
    )
    [job] = load_jobs([job_file], environ={})
    assert [task.id for task in job.tasks] == [
        "t-en-1", "t-en-2", "t-fr-1", "t-fr-2", "u-en-1", "u-en-2", "u-fr-1", "u-fr-2",
    ]  # fmt: skip
    assert job.tasks[1].prompt == "say 2 in en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "version: 1\ntasks:\n  - id: [a\n",
            ["4:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"],
            id="yaml-syntax",
        ),
        pytest.param("", ["1:1: $: the job file is empty"], id="empty"),
        pytest.param("- a\n- b\n", ["1:1: $: must be an object, not a list"], id="top-level-list"),
        pytest.param(
            "version: 2\ntasks: [{id: a, prompt: b}]\n",
            ["1:10: $.version: unsupported version 2: this copilot-batch reads version 1"],
            id="version",
        ),
        pytest.param("version: 1\n", ["1:1: $: 'tasks' is a required property"], id="no-tasks"),
        pytest.param(
            "version: 1\ntasks: []\n", ["2:8: $.tasks: must not be empty"], id="empty-tasks"
        ),
        pytest.param(
            "version: 1\ntasks:\n  - id: a\n    promt: hi\n",
            [
                "3:5: $.tasks[0]: 'prompt' is a required property",
                "4:5: $.tasks[0].promt: unknown key 'promt' (did you mean 'prompt'?)",
            ],
            id="unknown-key-typo",
        ),
        pytest.param(
            "version: 1\ncolour: red\ntasks: [{id: a, prompt: b}]\n",
            [
                "2:1: $.colour: unknown key 'colour' (known keys: version, name, description, "
                "cli_url, defaults, matrix, max_tasks, incremental, tasks, budget)"
            ],
            id="unknown-top-level-key",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - id: a\n    prompt: 3\n",
            ["4:13: $.tasks[0].prompt: must be a string, not an integer"],
            id="wrong-type",
        ),
        pytest.param(
            "version: 1\ndefaults: {timeout: 10 minutes}\ntasks: [{id: a, prompt: b}]\n",
            [
                "2:21: $.defaults.timeout: invalid duration '10 minutes': use seconds (90) or "
                "number+unit parts (500ms, 90s, 10m, 1h30m)"
            ],
            id="bad-duration",
        ),
        pytest.param(
            "version: 1\ndefaults: {timeout: 0}\ntasks: [{id: a, prompt: b}]\n",
            ["2:21: $.defaults.timeout: invalid duration 0: must be greater than zero"],
            id="zero-duration",
        ),
        pytest.param(
            "version: 1\ndefaults: {permissions: allow}\ntasks: [{id: a, prompt: b}]\n",
            [
                "2:25: $.defaults.permissions: must be approve-all, deny-all or a policy "
                "with default and rules, not 'allow'"
            ],
            id="bad-permissions",
        ),
        pytest.param(
            "version: 1\ndefaults: {provider: {type: openai}}\ntasks: [{id: a, prompt: b}]\n",
            ["2:22: $.defaults.provider: 'base_url' is a required property"],
            id="provider-missing-base-url",
        ),
        pytest.param(
            "version: 1\nmatrix: {repo: []}\ntasks: [{id: a, prompt: b}]\n",
            ["2:16: $.matrix.repo: must not be empty"],
            id="empty-matrix-list",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - id: a\n    id: b\n    prompt: x\n",
            ["4:5: duplicate key 'id' (first at line 3)"],
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: a b, prompt: x}\n",
            ["3:10: $.tasks[0].id: task id 'a b' may only hold letters, digits, '.', '_' and '-'"],
            id="bad-task-id",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: docs..v2, prompt: x}\n",
            [
                "3:10: $.tasks[0].id: task id 'docs..v2' may not start with '.' or '-', hold "
                "'..', or end with '.' or '.lock' (it names the task's folder and git branch)"
            ],
            id="task-id-git-refuses",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n",
            ["4:10: $.tasks[1].id: duplicate task id 'a' (also at {path}:3:10)"],
            id="duplicate-task-id",
        ),
        pytest.param(
            "version: 1\nmatrix: {repo: [x, y]}\ntasks:\n  - {id: same, prompt: '{{ repo }}'}\n",
            ["4:10: $.tasks[0].id: duplicate task id 'same' (also at {path}:4:10)"],
            id="duplicate-after-expansion",
        ),
        pytest.param(
            "version: 1\nmatrix: {repo: [x]}\ntasks:\n  - {id: 't-{{ repoo }}', prompt: x}\n",
            ["4:10: $.tasks[0].id: template error: 'repoo' is undefined (variables: repo)"],
            id="undefined-template-variable",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - id: a\n    prompt: 'hi {{ name'\n",
            [
                "4:13: $.tasks[0].prompt: template syntax error on template line 1: "
                "unexpected end of template, expected 'end of print statement'."
            ],
            id="template-syntax",
        ),
        pytest.param(
            "version: 1\ndefaults:\n  provider:\n    type: openai\n    base_url: http://x\n"
            "    api_key: ${MISSING_KEY}\ntasks: [{id: a, prompt: b}]\n",
            ["6:14: $.defaults.provider.api_key: environment variable MISSING_KEY is not set"],
            id="missing-env-var",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: a, prompt: x, working_directory: nowhere}\n",
            [
                "3:43: $.tasks[0].working_directory: working directory 'nowhere' "
                "({folder}/nowhere) does not exist"
            ],
            id="missing-working-directory",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: a, prompt: x, tools: {custom: ['no_such_module:x']}}\n",
            [
                "3:41: $.tasks[0].tools.custom[0]: cannot import module 'no_such_module': "
                "ModuleNotFoundError: No module named 'no_such_module'"
            ],
            id="custom-tool-import-error",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: a, prompt: x, tools: {custom: ['json:nothing']}}\n",
            ["3:41: $.tasks[0].tools.custom[0]: module 'json' has no attribute 'nothing'"],
            id="custom-tool-missing-attribute",
        ),
        pytest.param(
            "version: 1\ntasks:\n  - {id: a, prompt: x, tools: {custom: ['json:dumps']}}\n",
            [
                "3:41: $.tasks[0].tools.custom[0]: 'json:dumps' is neither a tool made with "
                "copilot.define_tool nor a tool factory: calling it raised TypeError: "
                "dumps() missing 1 required positional argument: 'obj'"
            ],
            id="custom-tool-not-a-tool",
        ),
        pytest.param(
            "version: 1\nmatrix: {d: [src, ../..]}\n"
            "tasks:\n  - {id: 'a-{{ d|length }}', prompt: x, inputs: ['{{ d }}/*.py']}\n",
            [
                "4:50: $.tasks[0].inputs[0]: input glob '../../*.py' must stay inside the "
                "working directory"
            ],
            id="inputs-outside-the-working-directory",
        ),
    ],
)
def test_bad_input_is_reported_with_position_and_path(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    job_file = tmp_path / "job.yaml"
    job_file.write_text(text, encoding="utf-8")
    wanted = [line.format(path=job_file, folder=tmp_path.resolve()) for line in expected]
    assert problems(job_file) == wanted


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "version: 1\ntasks: [{id: x, prompt: 1}]\nfoo: 1\n")
    second = write(tmp_path, "b.yaml", "version: 1\ntasks: [{id: x, prompt: ok, model: 4}]\n")
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([first, second], environ={})
    assert [str(error) for error in caught.value.errors] == [
        f"{first}:2:25: $.tasks[0].prompt: must be a string, not an integer",
        f"{first}:3:1: $.foo: unknown key 'foo' (known keys: version, name, description, "
        "cli_url, defaults, matrix, max_tasks, incremental, tasks, budget)",
        f"{second}:2:36: $.tasks[0].model: must be a string, not an integer",
    ]


def test_task_ids_must_be_unique_across_job_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "version: 1\ntasks: [{id: x, prompt: a}]\n")
    second = write(tmp_path, "b.yaml", "version: 1\ntasks: [{id: x, prompt: b}]\n")
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([first, second], environ={})
    assert [str(error) for error in caught.value.errors] == [
        f"{second}:2:14: $.tasks[0].id: duplicate task id 'x' (also at {first}:2:14)"
    ]


def test_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert problems(missing) == ["1:1: the job file does not exist"]


def test_paths_and_globs_resolve_in_order_without_repeats(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yaml", "notes.txt"):
        (tmp_path / name).write_text("version: 1\n")
    found = resolve_job_paths([str(tmp_path / "b.yaml"), str(tmp_path / "*.yaml")])
    assert found == [tmp_path / "b.yaml", tmp_path / "a.yaml"]
    with pytest.raises(NoJobFilesError, match=r"no job file matches '.*nothing\*\.yaml'"):
        resolve_job_paths([str(tmp_path / "nothing*.yaml")])


def test_every_key_of_the_published_schema_has_a_description() -> None:
    schema = job_schema()
    definitions = schema["$defs"]
    undescribed: list[str] = []

    def visit(node: object, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, f"{where}[{index}]")
        if not isinstance(node, dict):
            return
        for key, value in node.get("properties", {}).items():
            target = value
            if "$ref" in value and "description" not in value:
                target = definitions[value["$ref"].rsplit("/", 1)[-1]]
            if "description" not in target:
                undescribed.append(f"{where}.{key}")
        for key, value in node.items():
            visit(value, f"{where}/{key}")

    visit(schema, "$")
    assert undescribed == []


def test_yaml_1_2_values_reach_list_dry_run_and_the_spec_as_json(tmp_path: Path) -> None:
    (tmp_path / "option_tools.py").write_text(
        "from copilot import define_tool\n\n"
        "def made(**options):\n"
        "    @define_tool(name='dated', description=str(options))\n"
        "    def dated() -> str:\n"
        "        return ''\n"
        "    return dated\n"
    )
    job = write(
        tmp_path,
        "job.yaml",
        """
        version: 1
        matrix:
          day: [2024-01-31, 12:30]
          flag: [NO, on]
        tasks:
          - id: "t-{{ day | replace(':', '') }}-{{ flag }}"
            prompt: "On {{ day }}: {{ flag }}"
            tools:
              custom: [{use: "option_tools:made", with: {since: 2020-01-01, at: "{{ day }}"}}]
        """,
    )
    [loaded] = load_jobs([job], environ={})
    assert [task.id for task in loaded.tasks] == [
        "t-2024-01-31-NO", "t-2024-01-31-on", "t-1230-NO", "t-1230-on",
    ]  # fmt: skip
    for task in loaded.tasks:
        json.dumps(task.describe(), allow_nan=False)
        task.spec_hash()
    assert loaded.tasks[0].describe()["custom_tools"] == [
        {"use": "option_tools:made", "with": {"since": "2020-01-01", "at": "2024-01-31"}}
    ]
    listed = CliRunner().invoke(main, ["list", str(job)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0] == "t-2024-01-31-NO\tjob\tday=2024-01-31 flag=NO"
    dry_run = CliRunner().invoke(main, ["run", "--dry-run", str(job)])
    assert (dry_run.exit_code, dry_run.output) == (0, listed.output)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!binary aGk=", "2:14: the tag !!binary is not allowed"),
        ("!!set {a, b}", "2:14: the tag !!set is not allowed"),
        ("!!timestamp 2024-01-31", "2:14: the tag !!timestamp is not allowed"),
        ("&r [*r]", "2:18: alias *r is inside the node it names"),
        (".nan", "2:14: .nan is not a number: only finite numbers are allowed"),
    ],
)
def test_values_json_cannot_hold_are_refused_where_they_are(
    tmp_path: Path, value: str, message: str
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(f"version: 1\nmatrix: {{v: [{value}]}}\ntasks: [{{id: 'a', prompt: x}}]\n")
    [problem] = problems(job)
    assert problem.startswith(message)
    result = CliRunner().invoke(main, ["list", str(job)])
    assert result.exit_code == 2, result.output


def test_a_list_as_a_timeout_is_an_error_at_its_key_not_a_traceback(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("version: 1\ntasks:\n  - {id: a, prompt: x, timeout: [1, 2]}\n")
    assert problems(job) == [
        "3:33: $.tasks[0].timeout: invalid duration [1, 2]: use seconds (90) or number+unit "
        "parts (500ms, 90s, 10m, 1h30m)"
    ]
    result = CliRunner().invoke(main, ["validate", str(job)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab._-", min_size=1, max_size=12))
def test_every_task_id_accepted_names_a_git_branch(tmp_path_factory: Any, task_id: str) -> None:
    job = tmp_path_factory.mktemp("id") / "job.yaml"
    job.write_text(f"version: 1\ntasks: [{{id: '{task_id}', prompt: x}}]\n")
    try:
        load_jobs([job], environ={})
    except JobFilesInvalid:
        return
    branch = f"copilot-batch/20261202-000000-abcd/{task_id}"
    checked = subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True)
    assert checked.returncode == 0, branch
