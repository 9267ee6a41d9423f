"""What a recording shows of its custom tools, and tools that answer as it recorded.

The census (:mod:`bench.recordings`) declares in each job file the custom tools a
recording calls; :func:`recorded_tools` makes them: each answers a call with the result the
recording holds for the same arguments (or for the tool's first call when the arguments
differ), ``${workdir}`` bound to the task's working directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from copilot import Tool, ToolInvocation, ToolResult

# The CLI's own tools (and the recordings' placeholders for the shell tools).
BUILT_IN_TOOLS = frozenset(
    {
        "bash", "read_bash", "write_bash", "stop_bash", "list_bash",
        "${shell}", "${read_shell}", "${write_shell}", "${stop_shell}", "${list_shell}",
        "view", "create", "edit", "str_replace_editor", "apply_patch", "grep", "glob",
        "web_fetch", "web_search", "skill", "sql", "task", "read_agent", "write_agent",
        "list_agents", "report_intent", "ask_user", "update_todo", "store_memory",
        "exit_plan_mode", "fetch_copilot_cli_documentation", "clear_context",
    }
)  # fmt: skip
# A custom tool's name as define_tool takes it; others (``server-tool``) come from MCP.
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WORKDIR = "${workdir}"


def read_recording(path: Path) -> Mapping[str, Any]:
    """A recording's YAML as plain data; an empty mapping when it is not a mapping."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, Mapping) else {}


def messages_of(data: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    """Each conversation's messages (mappings only)."""
    conversations = data.get("conversations")
    result = []
    for conversation in conversations if isinstance(conversations, list) else []:
        raw = conversation.get("messages") if isinstance(conversation, Mapping) else None
        result.append([m for m in raw if isinstance(m, Mapping)] if isinstance(raw, list) else [])
    return result


def canonical_arguments(arguments: Any) -> str:
    """Arguments as compact JSON with sorted keys (text that is not JSON stays as it is)."""
    try:
        return json.dumps(json.loads(str(arguments or "{}")), sort_keys=True)
    except ValueError:
        return str(arguments)


def tool_calls(data: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """Every tool the recording calls: tool name → canonical arguments → the recorded
    result (``None`` when the recording ends before it)."""
    calls: dict[str, dict[str, str | None]] = {}
    for messages in messages_of(data):
        names: dict[str, tuple[str, str]] = {}
        for message in messages:
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, Mapping) else None
                if not isinstance(function, Mapping):
                    continue
                name, arguments = str(function.get("name")), function.get("arguments")
                names[str(call.get("id"))] = (name, canonical_arguments(arguments))
                calls.setdefault(name, {}).setdefault(canonical_arguments(arguments), None)
            found = names.get(str(message.get("tool_call_id")))
            if message.get("role") == "tool" and found is not None:
                calls[found[0]][found[1]] = str(message.get("content") or "")
    return calls


def custom_tools(data: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """The recording's calls of tools that are neither built in nor from MCP servers."""
    return {
        name: results
        for name, results in tool_calls(data).items()
        if name not in BUILT_IN_TOOLS and _TOOL_NAME.fullmatch(name)
    }


def mcp_tools(data: Mapping[str, Any]) -> list[str]:
    """Tools the recording calls whose names only an MCP server gives (``server-tool``)."""
    return sorted(n for n in tool_calls(data) if not _TOOL_NAME.fullmatch(n))


def _answer(results: Mapping[str, str | None], workdir: str) -> Any:
    def handler(invocation: ToolInvocation) -> ToolResult:
        arguments = canonical_arguments(json.dumps(invocation.arguments))
        text = results.get(arguments)
        if text is None:
            text = next((t for t in results.values() if t is not None), "")
        return ToolResult(text_result_for_llm=text.replace(WORKDIR, workdir))

    return handler


def recorded_tools(recording: str, working_directory: Path) -> list[Tool]:
    """A job file's factory: the custom tools ``recording`` calls, answering as recorded."""
    data = read_recording(Path(recording))
    return [
        Tool(
            name=name,
            description=f"The recorded tool {name}",
            handler=_answer(results, str(working_directory)),
            parameters={"type": "object", "additionalProperties": True},
        )
        for name, results in custom_tools(data).items()
    ]
