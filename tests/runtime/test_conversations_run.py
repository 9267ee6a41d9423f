"""Conversations through the real CLI: a task's follow-up steps in one session (answers,
usage and output per step, a failed step ending the task, a step's timeout), and its
attachments; and recordings of the SDK's own tests replayed through job files."""

from __future__ import annotations

import base64
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from request_capture import capturing

from copilot_batch import RunResult, TaskStatus
from copilot_batch.runtime.structured_output import output_instructions
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.testing import (
    read_events,
    read_task_result,
    run_at_scripted_model,
    run_job,
    write_script,
)

pytestmark = [pytest.mark.anyio, pytest.mark.cli]


# What the CLI puts before the first prompt after a model switch.
SWITCHED = (
    "<tools_changed_notice>\nThe model has been switched from gpt-4.1 to gpt-5.\n"
    "</tools_changed_notice>\n\n"
)
# How the CLI sends the step with a file's lines, a selection and a folder attached.
SELECTION = (
    "<ide_selection>\nThe user has the following text selected in their IDE. This may or may "
    "not be related to their request.\nFile: src/app.py (lines 3-4)\n```\ndef main():\n"
    "    return 1\n```\n</ide_selection>\n\n\n\n"
)


def tagged(prompt: str, *entries: str) -> str:
    """A prompt as the CLI sends it with file and folder attachments (paths from the
    working directory, which the scripted model writes as ${workdir})."""
    lines = "\n".join(f"* ${{workdir}}/{entry}" for entry in entries)
    return f"{prompt}\n\n\n\n<tagged_files>\n{lines}\n</tagged_files>"


def attached_prompt() -> str:
    return SELECTION + tagged("Read these.", "src/app.py (lines 3-4 of 5 lines)", "src (1 items)")


async def replay_job(folder: Path, script: Path, tasks: str) -> RunResult:
    """Run a job of ``tasks`` whose model is ``script``, replayed."""
    head = (
        "version: 1\ndefaults:\n  model: gpt-4.1\n"
        '  provider: {type: openai, base_url: "http://127.0.0.1:1", api_key: x}\n'
    )
    return await run_job(folder, head + textwrap.dedent(tasks), replay=(script,))


def exchange(*turns: tuple[str, str]) -> dict[str, Any]:
    """A scripted conversation of user prompts and the assistant's plain answers."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "${system}"}]
    for prompt, answer in turns:
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


async def test_steps_run_in_order_in_one_session_each_with_its_answer_usage_and_output(
    tmp_path: Path,
) -> None:
    schema = {"type": "object", "required": ["fixed"]}
    summary = f"Summarise as JSON.\n\n{output_instructions(schema)}"  # as the step sends it
    turns = [
        ("Find the bug.", "The bug is in parse()."),
        ("Fix it.", "Fixed."),
        (summary, '```json\n{"fixed": true}\n```'),
    ]
    # Each request must carry the earlier turns: one conversation, prefixes of it matching.
    script = write_script(tmp_path, [exchange(*turns)])
    (tmp_path / "summary.txt").write_text("Summarise as JSON.")
    result = await replay_job(
        tmp_path,
        script,
        """
        tasks:
          - id: chat
            prompt: Find the bug.
            steps:
              - prompt: Fix it.
              - prompt_file: summary.txt
                output_schema: {type: object, required: [fixed]}
        """,
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    record = read_task_result(result, "chat")
    assert record["final_message"] == turns[2][1]
    assert record["output"] == {"fixed": True}
    steps = record["steps"]
    assert [step["step"] for step in steps] == [0, 1, 2]
    assert [step["final_message"] for step in steps] == [answer for _, answer in turns]
    assert [step["output"] for step in steps] == [None, None, {"fixed": True}]
    assert all(step["status"] == "ok" and step["usage"]["total_tokens"] > 0 for step in steps)
    assert sum(step["usage"]["total_tokens"] for step in steps) == record["usage"]["total_tokens"]
    sent = [
        line["event"]["data"]["content"]
        for line in read_events(result, "chat")
        if line["event"]["type"] == "user.message"
    ]
    assert sent == ["Find the bug.", "Fix it.", summary]


async def test_a_failing_step_ends_the_task_and_later_steps_never_run(tmp_path: Path) -> None:
    # The script knows no answer to the second step: the model fails that turn.
    script = write_script(tmp_path, [exchange(("One.", "First answer."))])
    result = await replay_job(
        tmp_path,
        script,
        """
        tasks:
          - id: chat
            prompt: One.
            steps:
              - prompt: Two.
              - prompt: Three.
        """,
    )
    [task] = result.results
    assert task.status is TaskStatus.FAILED
    record = read_task_result(result, "chat")
    assert [(step["step"], step["status"]) for step in record["steps"]] == [
        (0, "ok"),
        (1, "failed"),
    ]
    assert record["steps"][1]["error"] == record["error"]
    prompts = [line["event"]["data"]["content"] for line in read_events(result, "chat")
               if line["event"]["type"] == "user.message"]  # fmt: skip
    assert prompts == ["One.", "Two."]


async def test_a_step_that_outlasts_its_timeout_ends_the_task_timeout(tmp_path: Path) -> None:
    script = write_script(tmp_path, [exchange(("One.", "First answer."), ("Two.", "Too late."))])
    # The second turn's request (the session's second) is held and never answered.
    hang = Fault("hang", prompt_contains="One.", after=1)
    async with ScriptedModel(load_scripts([script]), faults=[hang]) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - id: chat
                prompt: One.
                timeout: 10m
                steps:
                  - prompt: Two.
                    timeout: 2s
            """,
        )
    [task] = result.results
    assert task.status is TaskStatus.TIMEOUT
    assert task.error is not None and task.error.startswith("steps[0].timeout of 2s expired")
    record = read_task_result(result, "chat")
    assert [step["status"] for step in record["steps"]] == ["ok", "timeout"]


async def test_the_sdks_follow_up_recording_replays_a_file_made_then_read(
    tmp_path: Path, snapshots_dir: Path
) -> None:
    recording = (
        snapshots_dir / "multi_turn" / "should_handle_file_creation_then_reading_across_turns.yaml"
    )
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: greeting
            prompt: >-
              Create a file called 'greeting.txt' with the content 'Hello from multi-turn
              test'.
            permissions: approve-all
            steps:
              - prompt: Read the file 'greeting.txt' and tell me its exact contents.
        """,
        replay=(recording,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert (tmp_path / "greeting.txt").read_text() == "Hello from multi-turn test"
    record = read_task_result(result, "greeting")
    assert "Hello from multi-turn test" in record["final_message"]
    assert record["steps"][0]["final_message"].startswith("Created `greeting.txt`")


async def test_the_sdks_follow_up_recording_replays_a_tool_result_used_later(
    tmp_path: Path, snapshots_dir: Path
) -> None:
    (tmp_path / "secret.txt").write_text("The magic number is 42.")
    recording = snapshots_dir / "multi_turn" / "should_use_tool_results_from_previous_turns.yaml"
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: magic
            prompt: Read the file 'secret.txt' and tell me what the magic number is.
            permissions: approve-all
            steps:
              - prompt: What is that magic number multiplied by 2?
        """,
        replay=(recording,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message == "The magic number (42) multiplied by 2 is **84**."
    steps = read_task_result(result, "magic")["steps"]
    assert [step["tool_calls"] > 0 for step in steps] == [True, False]


async def test_the_sdks_attachment_recording_replays_a_file_attached(
    tmp_path: Path, snapshots_dir: Path
) -> None:
    (tmp_path / "attached-file.txt").write_text("FILE_ATTACHMENT_SENTINEL")
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: attached
            prompt: Read the attached file and reply with its contents.
            permissions: approve-all
            attachments:
              - {file: attached-file.txt, lines: [1, 1], display_name: attached-file.txt}
        """,
        replay=(snapshots_dir / "session" / "should_send_with_file_attachment.yaml",),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message is not None and "FILE_ATTACHMENT_SENTINEL" in task.final_message
    [sent] = [line["event"]["data"] for line in read_events(result, "attached")
              if line["event"]["type"] == "user.message"]  # fmt: skip
    [attachment] = sent["attachments"]
    assert attachment["type"] == "file"
    assert attachment["path"] == str(tmp_path / "attached-file.txt")
    assert attachment["lineRange"] == {"start": 1, "end": 1}


async def test_a_steps_attachments_reach_the_session_in_the_sdks_shapes(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("import os\n\ndef main():\n    return 1\n")
    (tmp_path / "notes.txt").write_text("one\ntwo\n")
    script = write_script(
        tmp_path,
        [
            exchange(
                (tagged("Look.", "notes.txt (3 lines)"), "Looked."), (attached_prompt(), "Seen.")
            )
        ],
    )
    result = await replay_job(
        tmp_path,
        script,
        """
        matrix: {name: [app]}
        tasks:
          - id: look
            prompt: Look.
            attachments: [{file: notes.txt}]
            steps:
              - prompt: Read these.
                attachments:
                  - {file: "src/{{ name }}.py", lines: [3, 4]}
                  - {selection: "src/{{ name }}.py", lines: [3, 4]}
                  - {directory: src}
        """,
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    app = str(tmp_path / "src" / "app.py")
    first, second = [line["event"]["data"]["attachments"] for line in read_events(result, "look")
                     if line["event"]["type"] == "user.message"]  # fmt: skip
    assert [{**entry, "taggedFilesEntry": None} for entry in first] == [
        {
            "type": "file",
            "path": str(tmp_path / "notes.txt"),
            "displayName": "notes.txt",
            "taggedFilesEntry": None,
        }
    ]
    file, selection, folder = second
    assert (file["path"], file["displayName"], file["lineRange"]) == (
        app,
        "src/app.py",
        {"start": 3, "end": 4},
    )
    assert folder["path"] == str(tmp_path / "src")
    assert selection == (
        {
            "type": "selection",
            "filePath": app,
            "displayName": "src/app.py",
            "text": "def main():\n    return 1",
            "selection": {
                "start": {"line": 2, "character": 0},
                "end": {"line": 3, "character": 12},
            },
        }
    )


def sdk_recording(name: str) -> Path:
    """A recording of the SDK's full set, found through COPILOT_BATCH_SDK_SNAPSHOTS."""
    folder = os.environ.get("COPILOT_BATCH_SDK_SNAPSHOTS")
    if not folder:
        pytest.skip("COPILOT_BATCH_SDK_SNAPSHOTS does not name the SDK's recordings")
    path = Path(folder) / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


async def test_a_step_switches_the_model_and_reasoning_effort(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        [exchange(("One.", "First."), (SWITCHED + "Two.", "Second."))],
        models=("gpt-4.1", "gpt-5"),
    )
    result = await replay_job(
        tmp_path,
        script,
        """
        tasks:
          - id: switch
            prompt: One.
            steps:
              - {prompt: Two., model: gpt-5, reasoning_effort: high}
        """,
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    events = [line["event"] for line in read_events(result, "switch")]
    [change] = [event["data"] for event in events if event["type"] == "session.model_change"]
    assert change["newModel"] == "gpt-5"
    record = read_task_result(result, "switch")
    assert list(record["usage_by_model"]) == ["gpt-4.1", "gpt-5"]
    assert [step["model"] for step in record["steps"]] == [None, "gpt-5"]


@pytest.mark.parametrize(
    ("recording", "attachment", "prompt", "answer"),
    [
        (
            "session/should_send_with_directory_attachment.yaml",
            "{directory: attached-directory}",
            "List the attached directory.",
            "readme.txt",
        ),
        (
            "session/should_send_with_selection_attachment.yaml",
            "{selection: selected-file.cs, lines: [2, 2]}",
            "Summarize the selected code.",
            "SELECTION_SENTINEL",
        ),
    ],
)
async def test_the_sdks_attachment_recordings_replay(
    tmp_path: Path, recording: str, attachment: str, prompt: str, answer: str
) -> None:
    path = sdk_recording(recording)
    (tmp_path / "attached-directory").mkdir()
    (tmp_path / "attached-directory" / "readme.txt").write_text("DIRECTORY_ATTACHMENT_SENTINEL")
    # The SDK's test selected part of one line; a job file selects whole lines.
    (tmp_path / "selected-file.cs").write_text('class C {\nstring Value = "SELECTION_SENTINEL";\n}')
    result = await run_job(
        tmp_path,
        f"""
        version: 1
        tasks:
          - id: attached
            prompt: {prompt}
            permissions: approve-all
            attachments: [{attachment}]
        """,
        replay=(path,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message is not None and answer in task.final_message


# A 1x1 PNG, as the SDK's test writes it; the prompt both turns of its recordings send.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
VIEW_IMAGE = "Use the view tool to look at the file test.png and describe what you see"


async def vision_run(folder: Path, script: Path, first: str, then: str) -> list[bool]:
    """Run a task viewing test.png twice, vision as ``first`` says, then as its step's
    ``model_capabilities`` (``then``) say; for each turn, whether the model got an image."""
    (folder / "test.png").write_bytes(PIXEL)
    async with ScriptedModel(load_scripts([script])) as model, capturing(model.base_url) as seen:
        url, bodies = seen
        result = await run_job(
            folder,
            f"""
            version: 1
            defaults:
              model: claude-sonnet-4.5
              provider: {{type: openai, base_url: "{url}", api_key: not-a-secret}}
            tasks:
              - id: vision
                prompt: {VIEW_IMAGE}
                permissions: approve-all
                model_capabilities: {{supports: {{vision: {first}}}}}
                steps:
                  - {{prompt: {VIEW_IMAGE}, model_capabilities: {then}}}
            """,
        )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    events = [line["event"] for line in read_events(result, "vision")]
    [change] = [event["data"] for event in events if event["type"] == "session.model_change"]
    assert change["newModel"] == "claude-sonnet-4.5"
    return [any(_has_image(body) for body in bodies if _turn(body) == turn) for turn in (1, 2)]


def _turn(body: Mapping[str, Any]) -> int:
    """Which turn a request belongs to: how many of the prompts it carries (after the
    CLI's date)."""
    return sum(
        message["role"] == "user" and str(message["content"]).endswith(VIEW_IMAGE)
        for message in body["messages"]
    )


def _has_image(body: Mapping[str, Any]) -> bool:
    """Whether a user message carries an image part (the SDK's test checks the same)."""
    return any(
        message["role"] == "user"
        and isinstance(message["content"], list)
        and any(part.get("type") == "image_url" for part in message["content"])
        for message in body["messages"]
    )


@pytest.mark.parametrize(
    ("recording", "first", "then", "images"),
    [
        # The step names no model: the session's own is re-specified, as the SDK's test does.
        (
            "vision_disabled_then_enabled_via_setmodel.yaml",
            "false",
            "{supports: {vision: true}}",
            [False, True],
        ),
        (
            "vision_enabled_then_disabled_via_setmodel.yaml",
            "true",
            "{supports: {vision: false}}, model: claude-sonnet-4.5",
            [True, False],
        ),
    ],
)
async def test_the_sdks_model_switch_recordings_replay_vision_toggled_by_a_step(
    tmp_path: Path, recording: str, first: str, then: str, images: list[bool]
) -> None:
    path = sdk_recording(f"session_config/{recording}")
    assert await vision_run(tmp_path, path, first, then) == images


def view(call: str) -> dict[str, Any]:
    """The assistant's call of the view tool on test.png."""
    arguments = '{"path":"${workdir}/test.png"}'
    function = {"name": "view", "arguments": arguments}
    return {
        "role": "assistant",
        "tool_calls": [{"id": call, "type": "function", "function": function}],
    }


def viewed(call: str) -> list[dict[str, Any]]:
    """The view tool's result, and the image the CLI adds when the model has vision."""
    return [
        {"role": "tool", "tool_call_id": call, "content": "Viewed image file successfully."},
        {"role": "user", "content": "Image file at path ${workdir}/test.png\n[image]"},
    ]


async def test_a_step_enabling_vision_sends_the_model_the_image_it_views(tmp_path: Path) -> None:
    system, prompt = (
        {"role": "system", "content": "${system}"},
        {"role": "user", "content": VIEW_IMAGE},
    )
    blind = {"role": "assistant", "content": "No image came."}
    first = [system, prompt, view("toolcall_0"), viewed("toolcall_0")[0], blind]
    # Once vision is on, the CLI sends the image of the first turn's view too.
    both = [system, prompt, view("toolcall_0"), *viewed("toolcall_0"), blind, prompt,
            view("toolcall_1"), *viewed("toolcall_1"),
            {"role": "assistant", "content": "A pixel."}]  # fmt: skip
    script = write_script(
        tmp_path, [{"messages": first}, {"messages": both}], models=("claude-sonnet-4.5",)
    )
    assert await vision_run(tmp_path, script, "false", "{supports: {vision: true}}") == [
        False,
        True,
    ]
