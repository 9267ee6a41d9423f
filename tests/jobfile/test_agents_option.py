"""agents:, agent:, reasoning_effort, instruction_directories, system_message sections and
ToolSet selectors: what a task gets, and each bad value reported at its place."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading import load, problems

from copilot_batch.jobfile.tool_sets import selector_problem

JOB = """\
version: 1
matrix: {lang: [py, go]}
defaults:
  reasoning_effort: medium
tasks:
  - id: review-{{ lang }}
    prompt: Review
    agents:
      - name: reviewer
        description: Reviews {{ lang }}
        prompt_file: agent.md
        tools: [view, grep]
        model: gpt-4.1
        reasoning_effort: high
        infer: false
    agent: reviewer
    instruction_directories: ['rules/{{ lang }}']
    system_message:
      mode: customize
      sections:
        identity: {action: replace, content: "You are the {{ lang }} reviewer."}
        safety: {action: remove}
    tools: {available: ["builtin:view", "builtin:*", "custom:*"], excluded: ["mcp:*"]}
"""


def test_a_task_gets_its_agents_and_model_options_rendered(tmp_path: Path) -> None:
    (tmp_path / "agent.md").write_text("You review {{ lang }} code.\n")
    for lang in ("py", "go"):
        (tmp_path / "rules" / lang).mkdir(parents=True)
        (tmp_path / "rules" / lang / "AGENTS.md").write_text(f"{lang} rules\n")
    python, go = load(tmp_path, JOB)
    options = python.describe()
    assert options["agents"] == [
        {
            "name": "reviewer",
            "prompt": "You review py code.\n",
            "description": "Reviews py",
            "tools": ["view", "grep"],
            "model": "gpt-4.1",
            "reasoning_effort": "high",
            "infer": False,
        }
    ]
    assert options["agent"] == "reviewer"
    assert options["reasoning_effort"] == "medium"
    assert options["instruction_directories"] == [str(tmp_path / "rules" / "py")]
    assert options["system_message"] == {
        "mode": "customize",
        "sections": {
            "identity": {"action": "replace", "content": "You are the py reviewer."},
            "safety": {"action": "remove"},
        },
    }
    assert options["available_tools"] == ["builtin:view", "builtin:*", "custom:*"]
    assert go.describe()["agents"][0]["prompt"] == "You review go code.\n"
    assert python.spec_hash() != go.spec_hash()


def test_without_them_a_task_has_none(tmp_path: Path) -> None:
    [task] = load(tmp_path, "version: 1\ntasks: [{id: a, prompt: x}]\n")
    options = task.describe()
    assert (options["agents"], options["agent"], options["reasoning_effort"]) == ([], None, None)
    assert options["instruction_directories"] == []


def test_a_built_in_agent_may_run_the_task(tmp_path: Path) -> None:
    [task] = load(tmp_path, "version: 1\ntasks: [{id: a, prompt: x, agent: explore}]\n")
    assert task.agent == "explore"


# Each bad option, the text its problem is placed at, and how the problem reads.
BAD = [
    ("agent: reviewr", "reviewr", "$.tasks[0].agent: unknown agent 'reviewr' (did you mean"),
    ("agent: zzz", "zzz", "$.tasks[0].agent: unknown agent 'zzz' (defined: none; built-in:"),
    ("reasoning_effort: huge", "huge", "$.tasks[0].reasoning_effort: must be one of low, medium"),
    ("agents: [{name: a b, prompt: x}]", "a b", "$.tasks[0].agents[0].name: 'a b' does not"),
    ("agents: [{name: a}]", "{name", "$.tasks[0].agents[0]: 'prompt' is a required"),
    ("agents: [{name: a, prompt_file: no.md}]", "no.md", "$.tasks[0].agents[0].prompt_file:"),
    ("agents: [{name: a, prompt: x, tools: [veiw]}]", "veiw", "$.tasks[0].agents[0].tools[0]:"),
    ("agents: [{name: a, prompt: '{{ x'}]", "'{{", "$.tasks[0].agents[0].prompt: template"),
    (
        "agents: [{name: a, prompt: x}, {name: a, prompt: y}]",
        "a, prompt: y",
        "$.tasks[0].agents[1].name: a second agent 'a'",
    ),
    ("instruction_directories: [nowhere]", "nowhere", "$.tasks[0].instruction_directories[0]:"),
    ("instruction_directories: [.]", ".]", "$.tasks[0].instruction_directories[0]: instruction"),
    (
        "system_message: {mode: customize, sections: {identiy: {action: remove}}}",
        "identiy",
        "$.tasks[0].system_message.sections.identiy: unknown key 'identiy' (did you mean",
    ),
    (
        "system_message: {mode: customize, sections: {tone: {action: append}}}",
        "{action",
        "$.tasks[0].system_message.sections.tone: action 'append' needs content",
    ),
    (
        "system_message: {content: x, sections: {tone: {action: remove}}}",
        "{tone",
        "$.tasks[0].system_message.sections: sections need mode: customize",
    ),
    ("system_message: {mode: replace}", "{mode", "$.tasks[0].system_message: 'content' is"),
    ("tools: {available: ['builtin:veiw']}", "'builtin", "$.tasks[0].tools.available[0]: unkno"),
    ("tools: {available: ['*']}", "'*'", "$.tasks[0].tools.available[0]: unknown tool '*' (there"),
    ("tools: {excluded: ['any:x']}", "'any", "$.tasks[0].tools.excluded[0]: unknown tool source"),
    ("tools: {excluded: ['mcp:gh-x']}", "'mcp", "$.tasks[0].tools.excluded[0]: 'mcp:gh-x' names"),
]


@pytest.mark.parametrize(("options", "at", "expected"), BAD)
def test_bad_values_are_reported_at_their_place(
    tmp_path: Path, options: str, at: str, expected: str
) -> None:
    line = f"  - {{id: a, prompt: x, {options}}}"
    found = problems(tmp_path, f"version: 1\ntasks:\n{line}\n")
    place = f"3:{line.index(at) + 1}: "
    assert any(problem.startswith(place + expected) for problem in found), found


_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(source=st.sampled_from(["builtin", "custom", "mcp", "other", ""]), name=_NAMES)
def test_any_selector_is_accepted_or_explained(source: str, name: str) -> None:
    problem = selector_problem(f"{source}:{name}", ["view"], ["shout"], ["gh"])
    named = re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None and (
        (source, name) in (("builtin", "view"), ("custom", "shout"))
        or (source == "mcp" and name.startswith("gh-"))
    )
    assert (problem is None) is (source in ("builtin", "custom", "mcp") and (name == "*" or named))


_AGENTS = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
            "prompt": st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1).filter(
                lambda text: "{" not in text and text.strip()
            ),
        },
        optional={"infer": st.booleans(), "description": st.just("d")},
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda agent: agent["name"],
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agents=_AGENTS)
def test_any_agents_load_as_written(tmp_path: Path, agents: list[dict[str, Any]]) -> None:
    job = {"version": 1, "tasks": [{"id": "a", "prompt": "x", "agents": agents}]}
    [task] = load(tmp_path, json.dumps(job, ensure_ascii=False))  # JSON is YAML
    assert [agent.describe() for agent in task.agents] == agents
