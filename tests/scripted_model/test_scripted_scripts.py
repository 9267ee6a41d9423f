"""Loading scripts: every recording loads; a broken script is reported with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from copilot_batch.scripted_model import Message, ScriptError, load_scripts, parse_script

GREETING = """
    models: [gpt-4.1]
    conversations:
      - messages:
          - {role: system, content: "${system}"}
          - {role: user, content: Say hello.}
          - {role: assistant, content: Hello!}
    """


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(text: str, tmp_path: Path) -> ScriptError:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ScriptError) as caught:
        load_scripts([path])
    assert caught.value.path == path
    return caught.value


def test_every_recording_loads(snapshots_dir: Path) -> None:
    scripts = load_scripts([snapshots_dir])
    recordings = sorted(snapshots_dir.rglob("*.yaml"))
    assert recordings, f"no recordings in {snapshots_dir}"
    assert [s.path for s in scripts] == recordings
    assert {m for s in scripts for m in s.models} == {"claude-sonnet-4.5"}


def test_split_replies_in_a_recording_are_coalesced(snapshots_dir: Path) -> None:
    [script] = load_scripts([snapshots_dir / "permissions"])
    [conversation] = script.conversations
    reply = conversation.messages[-1]
    assert reply.content == "I'll view the file first, then make the edit."
    assert [c.name for c in reply.tool_calls] == ["report_intent", "view"]


def test_folders_are_searched_recursively_in_sorted_order_and_files_kept_in_given_order(
    tmp_path: Path,
) -> None:
    b = write(tmp_path, "dir/b.yml", GREETING)
    a = write(tmp_path, "dir/sub/a.yaml", GREETING)
    write(tmp_path, "dir/notes.txt", "not a script")
    first = write(tmp_path, "first.yaml", GREETING)
    scripts = load_scripts([first, tmp_path / "dir"])
    assert [s.path for s in scripts] == [first, b, a]
    assert scripts[0].models == ("gpt-4.1",)
    assert scripts[0].conversations[0].messages == (
        Message("system", "${system}"),
        Message("user", "Say hello."),
        Message("assistant", "Hello!"),
    )


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    error = error_of(
        """
        models: [gpt-4.1]
        conversations:
          - messages:
              - {role: user, content: "unterminated}
        """,
        tmp_path,
    )
    assert error.line is not None and error.line >= 4
    assert "not valid YAML" in error.message
    assert str(error).startswith(f"{error.path}:{error.line}: ")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- just\n- a list\n", None, "a script is a mapping with `models` and `conversations`"),
        ("models: [a]\nconversations: {}\n", 1, "`conversations` must be a list"),
        (
            "errors: [{status: 200, messages: []}]\n",
            1,
            "errors[0].status must be an HTTP error status (400-599)",
        ),
        (
            "errors: [{status: 429, messages: []}]\n",
            1,
            "errors[0].messages must be a non-empty list",
        ),
        (
            "errors:\n  - status: 429\n    retryAfterSeconds: soon\n    messages: [{role: user}]\n",
            2,
            "errors[0].retryAfterSeconds must be a number",
        ),
        ("models: a\nconversations: []\n", 1, "`models` must be a list of model names"),
        (
            "conversation: []\n",
            1,
            "the script has unknown key `conversation` "
            "(expected `conversations`, `errors`, `models`)",
        ),
        (
            "conversations:\n  - messages:\n      - role: user\n        content: hi\n"
            "      - role: robot\n        content: x\n",
            5,
            "conversations[0].messages[1].role must be one of system, user, assistant, tool, "
            "not 'robot'",
        ),
        (
            "conversations:\n  - messages:\n      - role: tool\n        content: x\n",
            3,
            "conversations[0].messages[0] is a tool result and needs a `tool_call_id`",
        ),
        (
            "conversations:\n  - messages:\n      - role: assistant\n        tool_calls:\n"
            "          - id: c\n            function: {name: f, arguments: {a: 1}}\n",
            5,
            "conversations[0].messages[0].tool_calls[0].function needs a `name` and "
            "`arguments` as a string",
        ),
        (
            "conversations:\n  - messages:\n      - role: user\n        content: [a]\n",
            3,
            "conversations[0].messages[0].content must be text",
        ),
        (
            "conversations:\n  - messages: []\n",
            2,
            "conversations[0].messages must be a non-empty list",
        ),
    ],
)
def test_wrong_shape_names_the_place(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    error = error_of(text, tmp_path)
    assert (error.line, error.message) == (line, message)


def test_missing_file_and_empty_folder_are_script_errors(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read the script"):
        load_scripts([tmp_path / "missing.yaml"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScriptError, match=r"no \*\.yaml or \*\.yml script"):
        load_scripts([tmp_path / "empty"])


def test_parse_script_takes_text(tmp_path: Path) -> None:
    script = parse_script(textwrap.dedent(GREETING), tmp_path / "inline.yaml")
    assert script.path == tmp_path / "inline.yaml"
    assert [c.index for c in script.conversations] == [0]
