"""Job file options for tools, skills, permissions, providers and MCP servers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner
from copilot import CopilotClient
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch import JobFilesInvalid, load_jobs
from copilot_batch.cli import main
from copilot_batch.jobfile.options import cli_url_is_valid
from copilot_batch.jobfile.skills import SkillError, discover_skills

REPOSITORY = Path(__file__).resolve().parents[2]

TOOLS_MODULE = """
from pathlib import Path
from copilot import define_tool
from pydantic import BaseModel

class Text(BaseModel):
    text: str

@define_tool(description="Echo the text")
def echo(params: Text) -> str:
    return params.text

def greeter(greeting: str, working_directory: Path):
    if not greeting:
        raise ValueError("greeting must not be empty")

    @define_tool(name="greet", description=f"Say {greeting} from {working_directory.name}")
    def greet(params: Text) -> str:
        return f"{greeting}, {params.text}"

    return greet
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "job_tools.py").write_text(TOOLS_MODULE)
    skills = tmp_path / "skills"
    for name in ("alpha", "beta"):
        (skills / name).mkdir(parents=True)
        (skills / name / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: The {name} skill.\n---\n# {name}\n"
        )
    return tmp_path


def load_one(folder: Path, text: str, environ: dict[str, str] | None = None) -> list[object]:
    path = folder / "job.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    [job] = load_jobs([path], environ=environ or {})
    return list(job.tasks)


def problems(folder: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    path = folder / "job.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([path], environ=environ or {})
    return [str(error).removeprefix(f"{path}:") for error in caught.value.errors]


def test_all_step_two_options_expand_for_the_session(folder: Path) -> None:
    [task] = load_one(
        folder,
        """
        version: 1
        cli_url: 127.0.0.1:9999
        matrix: {who: [world]}
        defaults:
          provider:
            type: azure
            base_url: https://example.openai.azure.com
            api_key: ${AZURE_KEY}
            azure: {api_version: "2024-10-21"}
            wire_model: my-deployment
            headers:
              X-Team: {value: docs, secret: false}
              X-Signature: ${SIGNATURE}
        tasks:
          - id: "hello-{{ who }}"
            prompt: Greet {{ who }}.
            tools:
              custom:
                - job_tools:echo
                - {use: "job_tools:greeter", with: {greeting: "Hi {{ who }}"}}
              available: [view, echo, greet]
              excluded: [bash]
            skills: {directories: [skills], disabled: [beta]}
            permissions:
              default: allow
              rules:
                - {kind: write, paths: ["docs/**"], action: allow}
                - {kind: shell, commands: ["git diff*"], action: allow}
            mcp_servers:
              files:
                command: python
                args: [server.py]
                env: {TOKEN: "${MCP_TOKEN}", MODE: {value: quiet, secret: false}}
        """,
        {"AZURE_KEY": "azure-key-123", "SIGNATURE": "sig-456789", "MCP_TOKEN": "mcp-token-000"},
    )
    assert task.provider == {  # type: ignore[attr-defined]
        "type": "azure",
        "base_url": "https://example.openai.azure.com",
        "api_key": "azure-key-123",
        "azure": {"api_version": "2024-10-21"},
        "wire_model": "my-deployment",
        "headers": {"X-Team": "docs", "X-Signature": "sig-456789"},
    }
    assert sorted(task.secrets) == ["azure-key-123", "mcp-token-000", "sig-456789"]  # type: ignore[attr-defined]
    names = [tool.name for ref in task.custom_tools for tool in ref.tools]  # type: ignore[attr-defined]
    assert names == ["echo", "greet"]
    greet = task.custom_tools[1].tools[0]  # type: ignore[attr-defined]
    assert greet.description == f"Say Hi world from {folder.name}"
    assert task.available_tools == ("view", "echo", "greet")  # type: ignore[attr-defined]
    assert task.excluded_tools == ("bash",)  # type: ignore[attr-defined]
    assert task.skill_directories == ((folder / "skills").resolve(),)  # type: ignore[attr-defined]
    assert task.disabled_skills == ("beta",)  # type: ignore[attr-defined]
    assert [r.name for r in task.permissions.rules] == ["rules[0]", "rules[1]"]  # type: ignore[attr-defined]
    assert task.mcp_servers["files"]["tools"] == ["*"]  # type: ignore[attr-defined]
    assert task.mcp_servers["files"]["env"] == {"TOKEN": "mcp-token-000", "MODE": "quiet"}  # type: ignore[attr-defined]

    described = json.dumps(task.describe())  # type: ignore[attr-defined]
    for secret in ("azure-key-123", "sig-456789", "mcp-token-000"):
        assert secret not in described
    assert '"X-Team": "docs"' in described and '"MODE": "quiet"' in described
    assert task.describe()["custom_tools"][1] == {  # type: ignore[attr-defined]
        "use": "job_tools:greeter",
        "with": {"greeting": "Hi world"},
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "permissions: {rules: [{kind: shell, paths: [x], action: allow}]}",
            [
                "3:60: $.tasks[0].permissions.rules[0].paths: a 'shell' rule has no 'paths'; "
                "it takes commands"
            ],
            id="rule-field-of-another-kind",
        ),
        pytest.param(
            "permissions: {rules: [{kind: network, action: allow}]}",
            [
                "3:53: $.tasks[0].permissions.rules[0].kind: must be one of read, write, shell, "
                "url, mcp, custom-tool, memory, hook, not 'network'"
            ],
            id="unknown-permission-kind",
        ),
        pytest.param(
            "permissions: {default: maybe}",
            ["3:47: $.tasks[0].permissions.default: must be one of allow, deny, not 'maybe'"],
            id="bad-default",
        ),
        pytest.param(
            "tools: {available: [veiw]}",
            ["3:44: $.tasks[0].tools.available[0]: unknown tool 'veiw' (did you mean 'view'?)"],
            id="unknown-tool",
        ),
        pytest.param(
            "tools: {custom: ['job_tools:greeter']}",
            [
                "3:41: $.tasks[0].tools.custom[0]: 'job_tools:greeter' is neither a tool made "
                "with copilot.define_tool nor a tool factory: calling it raised TypeError: "
                "greeter() missing 1 required positional argument: 'greeting'"
            ],
            id="factory-without-options",
        ),
        pytest.param(
            "tools: {custom: [{use: 'job_tools:greeter', with: {greeting: ''}}]}",
            [
                "3:41: $.tasks[0].tools.custom[0]: tool factory 'job_tools:greeter': "
                "greeting must not be empty"
            ],
            id="factory-rejects-options",
        ),
        pytest.param(
            "tools: {custom: [{use: 'job_tools:echo', with: {x: 1}}]}",
            [
                "3:41: $.tasks[0].tools.custom[0]: 'job_tools:echo' is a tool, not a factory; "
                "it takes no 'with'"
            ],
            id="with-on-a-tool",
        ),
        pytest.param(
            "tools: {custom: [{use: 'job_tools:greeter', with: {greeting: '{{ nope }}'}}]}",
            [
                "3:85: $.tasks[0].tools.custom[0].with.greeting: template error: 'nope' is "
                "undefined (variables: none; the job has no matrix)"
            ],
            id="factory-option-template",
        ),
        pytest.param(
            "skills: {directories: [nowhere]}",
            [
                "3:47: $.tasks[0].skills.directories[0]: skills directory {folder}/nowhere "
                "does not exist"
            ],
            id="missing-skills-directory",
        ),
        pytest.param(
            "skills: {directories: [skills/alpha]}",
            [
                "3:47: $.tasks[0].skills.directories[0]: {folder}/skills/alpha is a skill "
                "folder; list the folder that holds it ({folder}/skills)"
            ],
            id="skill-folder-instead-of-its-parent",
        ),
        pytest.param(
            "provider: {type: openai, base_url: '${BASE}', api_key: '${KEY}'}",
            [
                "3:59: $.tasks[0].provider.base_url: environment variable BASE is not set",
                "3:79: $.tasks[0].provider.api_key: environment variable KEY is not set",
            ],
            id="missing-environment-variables",
        ),
        pytest.param(
            "provider: {type: openai, base_url: x, headers: {A: {secret: false}}}",
            ["3:75: $.tasks[0].provider.headers.A: 'value' is a required property"],
            id="header-without-value",
        ),
        pytest.param(
            "mcp_servers: {fs: {args: [x]}}",
            ["3:42: $.tasks[0].mcp_servers.fs: 'command' is a required property"],
            id="mcp-server-without-command",
        ),
        pytest.param(
            "mcp_servers: {web: {type: http}}",
            ["3:43: $.tasks[0].mcp_servers.web: 'url' is a required property"],
            id="remote-mcp-server-without-url",
        ),
    ],
)
def test_bad_options_are_reported_at_their_place(
    folder: Path, body: str, expected: list[str]
) -> None:
    text = f"version: 1\ntasks:\n  - {{id: a, prompt: b, {body}}}\n"
    resolved = str(folder.resolve())
    assert problems(folder, text) == [line.format(folder=resolved) for line in expected]


def test_a_skill_folder_without_skill_md_is_an_error(folder: Path) -> None:
    (folder / "skills" / "gamma").mkdir()
    found = problems(
        folder, "version: 1\ntasks:\n  - {id: a, prompt: b, skills: {directories: [skills]}}\n"
    )
    assert found == [
        f"3:47: $.tasks[0].skills.directories[0]: skill folder "
        f"{(folder / 'skills' / 'gamma').resolve()} has no SKILL.md"
    ]


def test_the_repository_skills_have_names_and_descriptions() -> None:
    skills = {skill.name: skill for skill in discover_skills(REPOSITORY / "skills")}
    assert {"docgen", "coding-standards", "code-review"} <= set(skills)
    for name, skill in skills.items():
        assert skill.path.parent.name == name
        assert len(skill.description) > 20


def test_skill_front_matter_is_required(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "SKILL.md").write_text("# No front matter\n")
    with pytest.raises(SkillError, match="does not start with YAML front matter"):
        discover_skills(tmp_path)
    (tmp_path / "plain" / "SKILL.md").write_text("---\nname: plain\n---\n")
    with pytest.raises(SkillError, match="front matter has no description"):
        discover_skills(tmp_path)


def test_each_job_folder_gets_its_own_tools_module(tmp_path: Path) -> None:
    jobs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "tools.py").write_text(
            "from copilot import define_tool\n\n"
            f"@define_tool(name='{name}_tool', description='{name}')\n"
            "def tool() -> str:\n    return ''\n"
        )
        job = folder / "job.yaml"
        job.write_text(
            "version: 1\ntasks: [{id: " + name + ", prompt: x, tools: {custom: ['tools:tool']}}]\n"
        )
        jobs.append(job)
    loaded = load_jobs(jobs, environ={})
    names = [tool.name for job in loaded for ref in job.tasks[0].custom_tools for tool in ref.tools]
    assert names == ["first_tool", "second_tool"]


HOSTILE_TOOLS = """
import sys

class Stop(BaseException):
    pass

def exits(**options):
    sys.exit(3)

def stops(**options):
    raise Stop("stopped")

def breaks(**options):
    raise RuntimeError("broken")

def interrupted(**options):
    raise KeyboardInterrupt
"""


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("hostile:exits", "tool factory 'hostile:exits' raised SystemExit: 3"),
        ("hostile:stops", "tool factory 'hostile:stops' raised Stop: stopped"),
        ("hostile:breaks", "tool factory 'hostile:breaks' raised RuntimeError: broken"),
        ("exits_at_import:x", "cannot import module 'exits_at_import': SystemExit: no tools"),
        ("stops_at_import:x", "cannot import module 'stops_at_import': Stop: at import"),
    ],
)
def test_a_tool_module_or_factory_that_raises_anything_is_an_error_at_its_entry(
    folder: Path, entry: str, expected: str
) -> None:
    (folder / "hostile.py").write_text(HOSTILE_TOOLS)
    (folder / "exits_at_import.py").write_text("import sys\nsys.exit('no tools')\n")
    (folder / "stops_at_import.py").write_text(
        "class Stop(BaseException):\n    pass\n\nraise Stop('at import')\n"
    )
    text = f"version: 1\ntasks:\n  - {{id: a, prompt: b, tools: {{custom: ['{entry}']}}}}\n"
    assert problems(folder, text) == [f"3:41: $.tasks[0].tools.custom[0]: {expected}"]
    result = CliRunner().invoke(main, ["validate", str(folder / "job.yaml")])
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_a_module_name_too_long_for_the_file_system_is_not_found(folder: Path) -> None:
    name = "x" * 300
    text = f"version: 1\ntasks:\n  - {{id: a, prompt: b, tools: {{custom: ['{name}:y']}}}}\n"
    [problem] = problems(folder, text)
    assert problem.startswith("3:41: $.tasks[0].tools.custom[0]: cannot import module 'xxx")
    assert "ModuleNotFoundError: No module named 'xxx" in problem


def test_a_factory_interrupted_by_the_user_stops_the_loading(folder: Path) -> None:
    (folder / "hostile.py").write_text(HOSTILE_TOOLS)
    text = "version: 1\ntasks:\n  - {id: a, prompt: b, tools: {custom: ['hostile:interrupted']}}\n"
    (folder / "job.yaml").write_text(text)
    with pytest.raises(KeyboardInterrupt):
        load_jobs([folder / "job.yaml"], environ={})


@pytest.mark.parametrize(
    "url",
    ["8080", "127.0.0.1:8080", "localhost:1", ":3000", "http://h.example:80", "https://h:65535",
     "[::1]:80", "http://[::1]:8080"],
)  # fmt: skip
def test_a_cli_url_names_a_port_and_maybe_a_host(url: str) -> None:
    assert cli_url_is_valid(url)


@pytest.mark.parametrize(
    "url",
    ["not a url", "http://", "host:99999", "host:0", "::1", "a:b:c", " ", "h:", "[::1]",
     "[nope]:80", "http://h:80/path", "ftp://h:1", "-1", "99999", "h:+80", "h:٨٠", "a b:80",
     "h:" + "0" * 5000],
)  # fmt: skip
def test_a_cli_url_the_sdk_cannot_use_is_refused(folder: Path, url: str) -> None:
    assert not cli_url_is_valid(url)
    text = f"version: 1\ncli_url: {json.dumps(url)}\ntasks: [{{id: a, prompt: b}}]\n"
    [problem] = problems(folder, text)
    assert problem.startswith("2:10: $.cli_url: cli_url ")
    assert problem.endswith("is not PORT, HOST:PORT, [IPv6]:PORT or http(s):// and one of them "
                            "(a port from 1 to 65535)")  # fmt: skip


URL_LIKE = r"(https?://)?(\[[0-9a-f:]{0,10}\]|[a-z0-9.:-]{0,12}):?[0-9]{0,6}"


@given(st.text(max_size=30) | st.from_regex(URL_LIKE, fullmatch=True))
def test_every_cli_url_a_job_file_takes_the_sdk_takes_too(url: str) -> None:
    if cli_url_is_valid(url):
        CopilotClient._parse_cli_url(cast(CopilotClient, None), url)
