"""``agents:`` (custom agents) and ``agent:`` (the one that runs the task)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import files
from .model import AgentSpec
from .problems import Problems, Where

# The CLI's own agents (1.0.102's definitions, and general-purpose, which has none).
BUILTIN_AGENTS = (
    "explore", "task", "general-purpose", "code-review", "research", "rubber-duck",
    "security-review",
)  # fmt: skip

# The agent's texts besides its prompt that are templates.
_TEMPLATES = ("display_name", "description")
# Renders every string in a value as a template over a combination's matrix values;
# None when one failed (reported at its place).
RenderData = Callable[[Any, Where], Any]
# Checks a list of tool names (reported at their places).
ToolCheck = Callable[[Sequence[str], Where], object]


class AgentReader:
    """Reads ``agents:`` entries for each combination; prompt files are read once."""

    def __init__(self, job_folder: Path, problems: Problems) -> None:
        self._job_folder = job_folder
        self._problems = problems
        self._prompt_files: dict[Path, str | None] = {}

    def agents(
        self, raw: Sequence[Mapping[str, Any]], where: Where, render: RenderData, tools: ToolCheck
    ) -> tuple[AgentSpec, ...] | None:
        """The agents, prompts rendered and tools checked; ``None`` if a problem (reported)
        leaves the task without them."""
        found: list[AgentSpec | None] = []
        for index, entry in enumerate(raw):
            agent_where = (*where, index)
            if any(other["name"] == entry["name"] for other in raw[:index]):
                self._problems.add((*agent_where, "name"), f"a second agent {entry['name']!r}")
            if "tools" in entry:
                tools(entry["tools"], (*agent_where, "tools"))
            found.append(self._agent(entry, agent_where, render))
        complete = [agent for agent in found if agent is not None]
        return tuple(complete) if len(complete) == len(found) else None

    def _agent(
        self, entry: Mapping[str, Any], where: Where, render: RenderData
    ) -> AgentSpec | None:
        template = self._prompt_template(entry, where)
        prompt = None if template is None else render(template[0], template[1])
        texts = render({key: entry[key] for key in _TEMPLATES if key in entry}, where)
        if prompt is None or texts is None:
            return None
        optional = ("model", "model_policy", "reasoning_effort")
        return AgentSpec(
            name=entry["name"],
            prompt=prompt,
            **texts,
            tools=tuple(entry["tools"]) if "tools" in entry else None,
            infer=entry.get("infer"),
            skills=tuple(entry["skills"]) if "skills" in entry else None,
            **{key: entry[key] for key in optional if key in entry},
        )

    def _prompt_template(self, entry: Mapping[str, Any], where: Where) -> tuple[str, Where] | None:
        if "prompt" in entry:
            return entry["prompt"], (*where, "prompt")
        path = self._job_folder / entry["prompt_file"]
        if path not in self._prompt_files:
            try:
                self._prompt_files[path] = files.read_text(path)
            except ValueError as reason:
                self._problems.add((*where, "prompt_file"), f"prompt file {path} {reason}")
                self._prompt_files[path] = None
        text = self._prompt_files[path]
        return None if text is None else (text, (*where, "prompt_file"))


def agent_choice(
    name: str | None, where: Where, defined: Iterable[str], problems: Problems
) -> str | None:
    """The agent that runs the task: one ``defined`` in ``agents:`` or a built-in one."""
    if name is None:
        return None
    defined = list(defined)
    if name in defined or name in BUILTIN_AGENTS:
        return name
    close = difflib.get_close_matches(name, [*defined, *BUILTIN_AGENTS], n=1)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else f"defined: {', '.join(defined) or 'none'}; built-in: {', '.join(BUILTIN_AGENTS)}"
    )
    problems.add(where, f"unknown agent {name!r} ({hint})")
    return name
