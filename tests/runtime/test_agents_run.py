"""Agents and model options reach the real CLI and, through it, the model's requests: a
custom agent's prompt and tools, reasoning_effort, instruction directories, a customised
system prompt section, ToolSet selectors; and recordings of them replay through job files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from request_capture import capturing

from copilot_batch import TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import answer_conversation, read_task_result, run_job, write_script

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

AGENT_RECORDING = (
    Path("mcp_and_agents") / "should_accept_custom_agent_configuration_on_session_create.yaml"
)
SECTIONS_RECORDING = (
    Path("system_message_sections") / "should_use_replaced_identity_section_in_response.yaml"
)


def hello_script(folder: Path) -> Path:
    conversation = answer_conversation("Say hi", "hi")
    return write_script(folder, [conversation])


async def requests_of(folder: Path, options: str) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
    """Run one task saying hi with ``options`` (YAML lines at the task's indentation);
    its result.json and the bodies of the requests the model got."""
    folder.mkdir(exist_ok=True)
    script = hello_script(folder)
    async with ScriptedModel(load_scripts([script])) as model, capturing(model.base_url) as seen:
        url, bodies = seen
        job = (
            "version: 1\ndefaults:\n  model: gpt-4.1\n"
            f'  provider: {{type: openai, base_url: "{url}", api_key: not-a-secret}}\n'
            "tasks:\n  - id: hi\n    prompt: Say hi\n" + options
        )
        result = await run_job(folder, job)
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    return read_task_result(result, "hi"), bodies


def system_prompt(body: Mapping[str, Any]) -> str:
    return "\n".join(
        str(message["content"]) for message in body["messages"] if message["role"] == "system"
    )


def tool_names(body: Mapping[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


async def test_a_custom_agent_runs_the_task_with_its_prompt_and_tools(tmp_path: Path) -> None:
    result, [body] = await requests_of(
        tmp_path,
        """\
    agents:
      - name: reviewer
        description: Reviews code
        prompt: You are the REVIEWER_AGENT.
        tools: [view, grep]
    agent: reviewer
""",
    )
    assert "REVIEWER_AGENT" in system_prompt(body)
    assert {"view", "grep"} <= set(tool_names(body))
    assert not {"bash", "edit", "create"} & set(tool_names(body))
    assert result["options"]["agent"] == "reviewer"
    assert result["options"]["agents"][0]["prompt"] == "You are the REVIEWER_AGENT."


async def test_reasoning_effort_reaches_the_model(tmp_path: Path) -> None:
    result, [body] = await requests_of(tmp_path, "    reasoning_effort: high\n")
    assert body["reasoning_effort"] == "high"
    assert result["options"]["reasoning_effort"] == "high"


async def test_instruction_directories_reach_the_system_prompt(tmp_path: Path) -> None:
    rules = tmp_path / "rules" / ".github" / "instructions"
    rules.mkdir(parents=True)
    (rules / "style.instructions.md").write_text("Always mention INSTRUCTION_MARKER.\n")
    result, [body] = await requests_of(tmp_path, "    instruction_directories: [rules]\n")
    assert "INSTRUCTION_MARKER" in system_prompt(body)
    assert result["options"]["instruction_directories"] == [str(tmp_path / "rules")]


async def test_a_customised_section_replaces_the_clis_own(tmp_path: Path) -> None:
    _, [plain] = await requests_of(tmp_path / "plain", "")
    result, [body] = await requests_of(
        tmp_path / "customised",
        """\
    system_message:
      mode: customize
      sections:
        tone: {action: replace, content: TONE_MARKER}
        safety: {action: remove}
""",
    )
    assert "TONE_MARKER" in system_prompt(body)
    assert len(system_prompt(body)) < len(system_prompt(plain))
    assert result["options"]["system_message"]["sections"]["safety"] == {"action": "remove"}


async def test_a_toolset_selector_limits_the_tools_offered(tmp_path: Path) -> None:
    _, [body] = await requests_of(
        tmp_path, '    tools: {available: ["builtin:view", "builtin:grep"]}\n'
    )
    assert sorted(tool_names(body)) == ["grep", "view"]


async def test_an_empty_allowlist_offers_no_tools(tmp_path: Path) -> None:
    _, [body] = await requests_of(tmp_path, "    tools: {available: []}\n")
    assert tool_names(body) == []


async def test_the_recorded_custom_agent_session_replays(
    tmp_path: Path, snapshots_dir: Path
) -> None:
    """What the SDK's test did: a session given a custom agent (not selected), asked 5+5."""
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: sum
            prompt: What is 5+5?
            permissions: approve-all
            agents:
              - name: test-agent
                display_name: Test Agent
                description: A test agent for SDK testing
                prompt: You are a helpful test agent.
                infer: true
        """,
        replay=(snapshots_dir / AGENT_RECORDING,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert "10" in (task.final_message or "")
    assert read_task_result(result, "sum")["options"]["agents"][0]["name"] == "test-agent"


@pytest.mark.skipif(
    not os.environ.get("COPILOT_BATCH_SDK_SNAPSHOTS"),
    reason="the SDK's recordings: set COPILOT_BATCH_SDK_SNAPSHOTS to its test/snapshots",
)
async def test_the_recorded_identity_section_replacement_replays(tmp_path: Path) -> None:
    recording = Path(os.environ["COPILOT_BATCH_SDK_SNAPSHOTS"]) / SECTIONS_RECORDING
    if not recording.is_file():
        pytest.skip(f"{recording} is absent")
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: who
            prompt: Who are you?
            permissions: approve-all
            system_message:
              mode: customize
              sections:
                identity:
                  action: replace
                  content: >-
                    You are a helpful gardening assistant called Botanica. You only answer
                    questions about plants and gardening.
        """,
        replay=(recording,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert "Botanica" in (task.final_message or "")
