"""The SDK's session options for a task's agents and model options."""

from __future__ import annotations

from typing import Any

from ..jobfile import TaskSpec


def agent_session_options(task: TaskSpec) -> dict[str, Any]:
    """``custom_agents``, ``agent``, ``reasoning_effort`` and ``instruction_directories``
    for ``create_session``, those the task sets."""
    options: dict[str, Any] = {}
    if task.agents:
        options["custom_agents"] = [agent.describe() for agent in task.agents]
    if task.agent is not None:
        options["agent"] = task.agent
    if task.reasoning_effort is not None:
        options["reasoning_effort"] = task.reasoning_effort
    if task.instruction_directories:
        options["instruction_directories"] = [str(path) for path in task.instruction_directories]
    return options
