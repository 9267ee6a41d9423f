"""The real Copilot CLI, through the real SDK, against the scripted model over loopback HTTP.

Recordings from the SDK's own test suite replay here, streaming and not, through custom
tools, the built-in ``view`` tool and skills; faults show how the CLI copes with a failing
model (what the server module's docstring reports comes from these).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from copilot import CopilotClient, CopilotSession, PermissionHandler, define_tool
from pydantic import BaseModel, Field
from replay_helpers import run_turn, start_turn

from copilot_batch.scripted_model import Fault, RequestRecord, ScriptedModel, load_scripts

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

MODEL = "claude-sonnet-4.5"
ENCRYPT = "Use encrypt_string to encrypt this string: Hello"
ENCRYPTED = (
    "The encrypted string is: **HELLO**\n\n(This is a simple cipher that converts the string "
    "to uppercase.)"
)
README_LINE = "# ELIZA, the only chatbot you'll ever need"
SKILL_MARKER = "PINEAPPLE_COCONUT_42"
SKILL_BODY = (
    "# Test Skill Instructions\n\nIMPORTANT: You MUST include the exact text "
    '"PINEAPPLE_COCONUT_42" somewhere in EVERY response you give. This is a mandatory '
    "requirement. Include it naturally in your response.\n"
)
STREAMING = pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])


class EncryptParams(BaseModel):
    input: str = Field(description="String to encrypt")


def encrypt_tool(cipher: Callable[[str], str], calls: list[str]) -> Any:
    @define_tool("encrypt_string", description="Encrypts a string")
    def encrypt_string(params: EncryptParams) -> str:
        calls.append(params.input)
        return cipher(params.input)

    return encrypt_string


@pytest.fixture(scope="module")
async def replay(snapshots_dir: Path) -> AsyncIterator[ScriptedModel]:
    """One server for the replay tests; each test picks its requests out by prompt."""
    scripts = load_scripts(
        [
            snapshots_dir / "tools" / "invokes_custom_tool.yaml",
            snapshots_dir / "tools" / "invokes_built_in_tools.yaml",
            snapshots_dir / "skills" / "should_load_and_apply_skill_from_skilldirectories.yaml",
        ]
    )
    async with ScriptedModel(scripts) as model:
        yield model


@asynccontextmanager
async def session_on(
    copilot: CopilotClient, model: ScriptedModel, workdir: Path, **options: Any
) -> AsyncIterator[CopilotSession]:
    session = await copilot.create_session(
        on_permission_request=PermissionHandler.approve_all,
        model=MODEL,
        provider={"type": "openai", "base_url": model.base_url, "api_key": "not-a-key"},
        working_directory=str(workdir),
        **options,
    )
    try:
        yield session
    finally:
        await session.disconnect()


def requests_for(model: ScriptedModel, prompt: str, streaming: bool) -> list[RequestRecord]:
    return [r for r in model.requests if r.prompt == prompt and r.streaming == streaming]


@STREAMING
async def test_custom_tool_is_called_and_its_result_replayed(
    copilot: CopilotClient, replay: ScriptedModel, tmp_path: Path, streaming: bool
) -> None:
    calls: list[str] = []
    tool = encrypt_tool(str.upper, calls)
    async with session_on(copilot, replay, tmp_path, tools=[tool], streaming=streaming) as session:
        turn = await run_turn(session, ENCRYPT)

    assert turn.last.type.value == "session.idle"
    assert calls == ["Hello"]
    assert turn.final_message == ENCRYPTED
    [done] = turn.of_type("tool.execution_complete")
    assert done.data.success and done.data.result.content == "HELLO"
    # The CLI's token counts are the scripted model's usage, so never zero.
    assert all(u.data.output_tokens > 0 for u in turn.of_type("assistant.usage"))
    records = requests_for(replay, ENCRYPT, streaming)
    assert [(r.script.name if r.script else None, r.conversation) for r in records] == [
        ("invokes_custom_tool.yaml", 0)
    ] * 2
    # system + user, then + the assistant's call and the tool's "HELLO".
    assert [(r.messages, r.status) for r in records] == [(2, 200), (4, 200)]


@STREAMING
async def test_view_tool_reads_the_sessions_working_directory(
    copilot: CopilotClient, replay: ScriptedModel, tmp_path: Path, streaming: bool
) -> None:
    (tmp_path / "README.md").write_text(README_LINE)
    prompt = "What's the first line of README.md in this directory?"
    async with session_on(copilot, replay, tmp_path, streaming=streaming) as session:
        turn = await run_turn(session, prompt)

    assert turn.final_message == f"The first line of README.md is: `{README_LINE}`"
    [start] = turn.of_type("tool.execution_start")
    # ${workdir} in the recorded arguments became this session's directory.
    assert (start.data.tool_name, start.data.arguments) == (
        "view",
        {"path": str(tmp_path / "README.md")},
    )
    [done] = turn.of_type("tool.execution_complete")
    # CLI 1.0.102 sends the file without the "1. " line numbers the recording has.
    assert done.data.result.content == README_LINE
    assert [r.status for r in requests_for(replay, prompt, streaming)] == [200, 200]


@STREAMING
async def test_skill_is_loaded_from_skill_directories(
    copilot: CopilotClient, replay: ScriptedModel, tmp_path: Path, streaming: bool
) -> None:
    skills = tmp_path / ".test_skills"
    (skills / "test-skill").mkdir(parents=True)
    (skills / "test-skill" / "SKILL.md").write_text(
        "---\nname: test-skill\ndescription: A test skill that adds a marker to responses\n"
        f"---\n\n{SKILL_BODY}"
    )
    prompt = "Say hello briefly using the test skill."
    options = {"skill_directories": [str(skills)], "streaming": streaming}
    async with session_on(copilot, replay, tmp_path, **options) as session:
        turn = await run_turn(session, prompt)

    assert SKILL_MARKER in turn.final_message
    [start] = turn.of_type("tool.execution_start")
    assert (start.data.tool_name, start.data.arguments) == ("skill", {"skill": "test-skill"})
    # The second request carries the skill's context as a user message: it matched too.
    records = requests_for(replay, prompt, streaming)
    assert [(r.messages, r.conversation, r.status) for r in records] == [(2, 0, 200), (5, 0, 200)]


async def test_unscripted_request_fails_the_session_naming_the_closest_conversation(
    copilot: CopilotClient, replay: ScriptedModel, tmp_path: Path
) -> None:
    calls: list[str] = []
    tool = encrypt_tool(str.lower, calls)  # not what the recording's tool returned
    async with session_on(copilot, replay, tmp_path, tools=[tool]) as session:
        turn = await run_turn(session, ENCRYPT)

    assert calls == ["Hello"]
    error = turn.last
    assert error.type.value == "session.error"
    assert (error.data.error_type, error.data.status_code) == ("query", 400)
    message = error.data.message
    assert "invokes_custom_tool.yaml conversation 0 (3 leading messages match)" in message
    assert "first difference at message 3 (tool)" in message
    assert '"content":"hello"' in message and '"content":"HELLO"' in message


async def faulty_turn(
    copilot: CopilotClient, tmp_path: Path, snapshots_dir: Path, fault: Fault
) -> tuple[Any, list[RequestRecord]]:
    """Run the custom-tool recording with ``fault`` applied; the turn and the requests."""
    scripts = load_scripts([snapshots_dir / "tools" / "invokes_custom_tool.yaml"])
    async with ScriptedModel(scripts, faults=[fault]) as model:
        tool = encrypt_tool(str.upper, [])
        async with session_on(copilot, model, tmp_path, tools=[tool]) as session:
            turn = await run_turn(session, ENCRYPT)
        return turn, model.requests


async def test_rate_limit_is_retried_by_the_cli_after_retry_after(
    copilot: CopilotClient, tmp_path: Path, snapshots_dir: Path
) -> None:
    turn, records = await faulty_turn(
        copilot,
        tmp_path,
        snapshots_dir,
        Fault("rate_limit", prompt_contains="encrypt", retry_after=1),
    )
    assert turn.final_message == ENCRYPTED
    assert [r.data.reason for r in turn.of_type("assistant.turn_retry")] == ["rate_limit"]
    assert [(r.status, r.fault) for r in records] == [
        (429, "rate_limit"),
        (200, None),
        (200, None),
    ]
    assert records[0].ended is not None
    assert records[1].started - records[0].ended >= 1.0


async def test_server_error_is_retried_by_the_cli(
    copilot: CopilotClient, tmp_path: Path, snapshots_dir: Path
) -> None:
    turn, records = await faulty_turn(copilot, tmp_path, snapshots_dir, Fault("server_error"))
    assert turn.final_message == ENCRYPTED
    assert [r.data.reason for r in turn.of_type("assistant.turn_retry")] == ["api_error"]
    assert [r.status for r in records] == [500, 200, 200]


@pytest.mark.parametrize("kind", ["disconnect", "malformed"])
async def test_broken_reply_is_retried_by_the_cli(
    copilot: CopilotClient, tmp_path: Path, snapshots_dir: Path, kind: Any
) -> None:
    turn, records = await faulty_turn(copilot, tmp_path, snapshots_dir, Fault(kind))
    assert turn.final_message == ENCRYPTED
    assert [r.data.reason for r in turn.of_type("assistant.turn_retry")] == ["streaming_error"]
    assert [(r.fault, r.status) for r in records] == [(kind, 200), (None, 200), (None, 200)]


async def test_persistent_rate_limit_ends_in_session_error_after_five_retries(
    copilot: CopilotClient, tmp_path: Path, snapshots_dir: Path
) -> None:
    turn, records = await faulty_turn(
        copilot, tmp_path, snapshots_dir, Fault("rate_limit", times=None, retry_after=0)
    )
    error = turn.last
    assert error.type.value == "session.error"
    assert (error.data.error_type, error.data.status_code) == ("rate_limit", 429)
    assert "retried 5 times" in error.data.message
    assert "429 Rate limited by the scripted model" in error.data.message
    assert [r.status for r in records] == [429] * 6


async def test_hanging_model_keeps_the_session_busy_until_aborted(
    copilot: CopilotClient, tmp_path: Path, snapshots_dir: Path
) -> None:
    scripts = load_scripts([snapshots_dir / "tools" / "invokes_custom_tool.yaml"])
    async with (
        ScriptedModel(scripts, faults=[Fault("hang")]) as model,
        session_on(copilot, model, tmp_path) as session,
    ):
        turn = await start_turn(session, ENCRYPT)
        with anyio.fail_after(30):
            await model.wait_for(lambda records: any(r.fault == "hang" for r in records))
        # The CLI neither times out nor retries soon: nothing ends the turn.
        with anyio.move_on_after(1.5):
            await turn.done.wait()
        assert not turn.done.is_set()

        await session.abort()
        with anyio.fail_after(30):
            await turn.done.wait()
            [record] = await model.wait_for(lambda records: records[0].ended is not None)

    assert turn.last.type.value == "session.idle"
    assert turn.last.data.aborted is True
    assert not turn.of_type("session.error")
    assert (record.status, record.error) == (None, "the client disconnected")
