"""Skills and tool lists reach the real CLI: skills loaded from the job's directories,
disabled ones switched off, allow- and denylists shaping the tools the model is offered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from run_helpers import SCRIPTS

from copilot_batch import TaskStatus
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import read_events, read_json, run_at_scripted_model, run_job

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

REPOSITORY = Path(__file__).resolve().parents[2]
SKILL_RECORDING = Path("skills") / "should_load_and_apply_skill_from_skilldirectories.yaml"


def write_recorded_skill(snapshots_dir: Path, folder: Path) -> None:
    """Recreate the SKILL.md of the SDK's skill recording from the context the CLI sent."""
    recording = yaml.safe_load((snapshots_dir / SKILL_RECORDING).read_text())
    context = next(
        message["content"]
        for message in recording["conversations"][0]["messages"]
        if "<skill-context" in str(message.get("content", ""))
    )
    match = re.search(
        r"Base directory for this skill: [^\n]*\n\n(.*)\n\n</skill-context>", context, re.S
    )
    assert match is not None
    (folder / "test-skill").mkdir(parents=True)
    (folder / "test-skill" / "SKILL.md").write_text(
        "---\nname: test-skill\ndescription: Adds a marker to every answer.\n---\n\n"
        + match.group(1)
        + "\n"
    )


async def test_the_agent_loads_a_skill_from_the_jobs_skill_directories(
    tmp_path: Path, snapshots_dir: Path
) -> None:
    write_recorded_skill(snapshots_dir, tmp_path / ".test_skills")
    result = await run_job(
        tmp_path,
        """
        version: 1
        tasks:
          - id: skilled
            prompt: Say hello briefly using the test skill.
            skills: {directories: [.test_skills]}
            permissions: approve-all
        """,
        replay=(snapshots_dir / SKILL_RECORDING,),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    assert task.final_message is not None and "PINEAPPLE_COCONUT_42" in task.final_message
    events = [line["event"] for line in read_events(result, "skilled")]
    [skill_call] = [
        event for event in events
        if event["type"] == "tool.execution_start" and event["data"]["toolName"] == "skill"
    ]  # fmt: skip
    assert skill_call["data"]["arguments"] == {"skill": "test-skill"}
    record = read_json(result.folder / "tasks" / "skilled" / "result.json")
    assert record["options"]["skill_directories"] == [str((tmp_path / ".test_skills").resolve())]


async def test_repository_skills_load_and_a_disabled_one_does_not(tmp_path: Path) -> None:
    result = await run_job(
        tmp_path,
        f"""
        version: 1
        tasks:
          - id: hello
            prompt: Say hello.
            skills:
              directories: ["{REPOSITORY / "skills"}"]
              disabled: [coding-standards]
        """,
        replay=(SCRIPTS / "greetings.yaml",),
    )
    [task] = result.results
    assert task.status is TaskStatus.OK, task.error
    [loaded] = [
        line["event"]["data"]["skills"]
        for line in read_events(result, "hello")
        if line["event"]["type"] == "session.skills_loaded"
    ]
    ours = {
        skill["name"]: skill["enabled"]
        for skill in loaded
        if Path(skill["path"]).parent.parent == REPOSITORY / "skills"
    }
    assert ours == {"code-review": True, "coding-standards": False, "docgen": True}


async def test_tool_allow_and_deny_lists_shape_what_the_model_is_offered(tmp_path: Path) -> None:
    (tmp_path / "job_tools.py").write_text(
        "from copilot import define_tool\n"
        "from pydantic import BaseModel\n\n"
        "class Text(BaseModel):\n    text: str\n\n"
        "@define_tool(description='Upper-case the text')\n"
        "def shout(params: Text) -> str:\n    return params.text.upper()\n"
    )
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts) as model:
        result = await run_at_scripted_model(
            tmp_path,
            model,
            """
            tasks:
              - id: allowlist
                prompt: Say hello.
                tools: {custom: ["job_tools:shout"], available: [view, shout]}
              - id: denylist
                prompt: Say hello.
                tools: {custom: ["job_tools:shout"], excluded: [bash, web_fetch, shout]}
            """,
        )
        offered = [set(request.tools) for request in model.requests]
    assert [task.status for task in result.results] == [TaskStatus.OK, TaskStatus.OK]
    assert {"view", "shout"} in offered
    [denylist] = [tools for tools in offered if tools != {"view", "shout"}]
    assert {"view", "edit", "grep"} <= denylist
    assert not {"bash", "web_fetch", "shout"} & denylist
