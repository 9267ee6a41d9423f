"""One normal form for chat messages, shared by live requests and stored scripts.

A live request carries things that change from run to run (timestamps, the working
directory, random tool-call ids, the CLI's system prompt); a script holds placeholders
instead. Both sides go through :func:`normalize_messages`, so a request matches a script
exactly when their normal forms are equal. The rules follow the Copilot SDK's own
replaying proxy (``test/harness/replayingCapiProxy.ts``), restricted to what a CLI 1.0.x
run produces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

SYSTEM_PLACEHOLDER = "${system}"
WORKDIR_PLACEHOLDER = "${workdir}"
COMPACTION_PLACEHOLDER = "${compaction_prompt}"

# The CLI's shell tools on Linux and macOS, and the placeholders scripts use for them.
SHELL_TOOL_PLACEHOLDERS: Mapping[str, str] = {
    "bash": "${shell}",
    "read_bash": "${read_shell}",
    "write_bash": "${write_shell}",
    "stop_bash": "${stop_shell}",
    "list_bash": "${list_shell}",
}
_SHELL_TOOL_NAMES = {placeholder: name for name, placeholder in SHELL_TOOL_PLACEHOLDERS.items()}

# Adjacent messages of these roles are merged; user messages joined as the SDK's proxy does.
_COALESCED = ("assistant", "user")
USER_MESSAGE_SEPARATOR = "\n\n\n"

_WORKDIR_LINE = re.compile(r"^\s*\*?\s*Current working directory:\s*(\S.*?)\s*$", re.MULTILINE)
_VOLATILE_USER_BLOCKS = (
    re.compile(r"<current_datetime>.*?</current_datetime>", re.DOTALL),
    re.compile(r"<reminder>.*?</reminder>", re.DOTALL),
    re.compile(r"<system_reminder>.*?</system_reminder>", re.DOTALL),
    re.compile(r"<agent_instructions>.*?</agent_instructions>", re.DOTALL),
    # With session_limits (limits.ai_credits) the CLI tells the model what is left.
    re.compile(r"<session_limits_status>.*?</session_limits_status>", re.DOTALL),
)
_COMPACTION_PROMPT = re.compile(
    r"Please create a detailed summary of the conversation so far\. "
    r"The history is being compacted.*",
    re.DOTALL,
)
# A loaded skill's context holds its folder's absolute path and its SKILL.md, with or
# without front matter depending on the CLI version. A script names the skill only.
SKILL_CONTEXT_PLACEHOLDER = "${skill_context}"
_SKILL_CONTEXT = re.compile(r"(<skill-context\b[^>]*>).*?(</skill-context>)", re.DOTALL)
# Each starts only where a run of digits or a path begins: tried at every character of a
# long run, they would take quadratic time (minutes on 200 KB of minified JSON).
_LARGE_OUTPUT_NAME = re.compile(r"(?<!\d)\d+-copilot-tool-output-[a-z0-9.]+")
_LARGE_OUTPUT_PATH = re.compile(
    r"(?<![^\s\"'`])[^\s\"'`]*[\\/]session-state[\\/]temp[\\/]"
    r"PLACEHOLDER-copilot-tool-output-PLACEHOLDER"
)
_SHELL_EXIT_MARKER = re.compile(r"<shellId:\s*[^>\r\n]+?\s+completed with exit code (-?\d+)>")
_INTERRUPTED = re.compile(
    r"(?:Failed to execute `[^`]+` tool(?: with arguments: .*?)? due to error: "
    r"(?:Error: )?Session aborted|<shell context is being reconfigured; retry the command>)",
    re.DOTALL,
)
_INTERRUPTED_TEXT = "The execution of this tool, or a previous tool was interrupted."
_AVAILABLE_TOOLS = re.compile(
    r"(Tool '[^']+' does not exist\.) Available tools that can be called are [^.]*\."
)
_NORMALIZED_ID = re.compile(r"toolcall_(\d+)")
# A background agent's completion notice, in either wording, names its runtime id twice;
# the SDK's proxy keeps its name and one wording.
_TASK_NOTICE = re.compile(
    r'Agent "([^"]+)" \(([^)]+)\) (?:has completed successfully|has finished processing and is '
    r'now idle)\. Use read_agent with agent_id "[^"]+" to (?:retrieve (?:unread results|the full '
    r"results)|read the results, or write_agent to send follow-up messages)\."
)
_TASK_NOTICE_TEXT = (
    r'Agent "\1" (\2) has completed successfully. Use read_agent with agent_id "\1" to '
    r"retrieve the full results."
)
_PLAN_PREFIX = re.compile(r"^\s*\[\[PLAN\]\]\s*")
_AGENT_STARTED = re.compile(
    r"^Agent started in background with agent_id: (.*?)(\. You'll be notified when it "
    r"completes\. Tell the user you're waiting and end your response, or continue unrelated "
    r"work until notified\.).*$",
    re.DOTALL,
)
_AGENT_STARTED_TEXT = r"Agent started in background with agent_id: \1\2"
_AGENT_ID = re.compile(
    r"^Agent started in background with agent_id: (.*?)\. You'll be notified", re.DOTALL
)
GH_AUTH_PLACEHOLDER = "${gh_auth_required}"
# The gh CLI's "not signed in" text, as GitHub Actions and a local machine word it.
_GH_AUTH = (
    re.compile(
        r"gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment "
        r"variable\. Example:\s*\n\s*env:\s*\n\s*GH_TOKEN: \$\{\{ github\.token \}\}"
    ),
    re.compile(
        r"To get started with GitHub CLI, please run:\s*gh auth login\s*\n\s*Alternatively, "
        r"populate the GH_TOKEN environment variable with a GitHub API authentication token\."
    ),
)
_GH_401 = re.compile(r"(?:HTTP|GraphQL)[ \t:]+401")
_EXIT_LINE = re.compile(r"<exited with exit code \d+>")
# read_agent's report: its state and times change from run to run.
_READ_AGENT: tuple[tuple[re.Pattern[str], str, int], ...] = (  # pattern, replacement, count
    (re.compile(r"^Agent is idle \(waiting for messages\)\."), "Agent completed.", 1),
    (
        re.compile(r"^Agent completed\. (.*), status: idle,"),
        r"Agent completed. \1, status: completed,",
        1,
    ),
    (re.compile(r", total_turns: \d+(?=\r?\n|$)"), ", total_turns: 0, duration: 0s", 1),
    (re.compile(r"\r?\n\r?\n\[Turn \d+\]\r?\n"), "\n\n", 1),
    (re.compile(r"\belapsed: \d+(?:\.\d+)?s\b"), "elapsed: 0s", 0),
    (re.compile(r"\bduration: \d+(?:\.\d+)?s\b"), "duration: 0s", 0),
)
_NUMBERED_LINE = re.compile(r"(\d+)\.(?: (.*))?")


@dataclass(frozen=True)
class ToolCall:
    """One function call an assistant message asks for; ``arguments`` is a JSON string."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """A chat message in normal form. ``content`` is ``None`` when there is no text."""

    role: str
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The OpenAI wire shape, without empty fields."""
        data: dict[str, Any] = {"role": self.role}
        if self.content is not None:
            data["content"] = self.content
        if self.tool_calls:
            data["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data

    def canonical(self) -> str:
        """The form messages are compared in: JSON with sorted keys."""
        return canonical_json(self.to_json())


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys, as JavaScript's ``JSON.stringify`` of sorted data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def working_directory(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The session's working directory, read from the system prompt the CLI sends."""
    for message in messages:
        content = message.get("content")
        if message.get("role") == "system" and isinstance(content, str):
            found = _WORKDIR_LINE.search(content)
            if found:
                return found.group(1).rstrip("/") or "/"
    return None


def normalize_user_text(text: str) -> str:
    """Drop the blocks the CLI adds around a prompt (time, reminders, instructions)."""
    text = _SKILL_CONTEXT.sub(rf"\1{SKILL_CONTEXT_PLACEHOLDER}\2", text)
    text = _TASK_NOTICE.sub(_TASK_NOTICE_TEXT, text)
    for block in _VOLATILE_USER_BLOCKS:
        text = block.sub("", text)
    text = _PLAN_PREFIX.sub("", text, count=1)
    return _COMPACTION_PROMPT.sub(COMPACTION_PLACEHOLDER, text).strip()


def normalize_gh_auth(text: str) -> str:
    """The gh CLI's "not signed in" help, in any environment's wording, as one placeholder."""
    for wording in _GH_AUTH:
        text = wording.sub(GH_AUTH_PLACEHOLDER, text)
    if not _GH_401.search(text):
        return text
    lines, kept = text.split("\n"), []
    index = 0
    while index < len(lines):
        line = lines[index]
        end = next(
            (j for j in range(index + 1, len(lines)) if _EXIT_LINE.fullmatch(lines[j].strip())),
            None,
        )
        if _GH_401.search(line) and "Requires authentication" in line and end is not None:
            kept += [GH_AUTH_PLACEHOLDER, "<exited with exit code 4>"]
            index = end + 1
            continue
        kept.append(line)
        index += 1
    return "\n".join(kept)


def normalize_read_agent(text: str) -> str:
    """A ``read_agent`` report without its state words and times."""
    for pattern, replacement, count in _READ_AGENT:
        text = pattern.sub(replacement, text, count=count)
    return text


def agent_runtime_id(text: str) -> str | None:
    """The runtime id in a ``task`` result that started a background agent."""
    found = _AGENT_ID.match(text)
    return found.group(1) if found else None


def normalize_tool_result(text: str) -> str:
    """Unwrap the success envelope, canonicalise JSON, and blank out run-specific details."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply for it
        result = text.strip()
    else:
        if (
            isinstance(parsed, dict)
            and parsed.get("resultType") == "success"
            and ("textResultForLlm" in parsed)
        ):
            inner = parsed["textResultForLlm"]
            result = inner if isinstance(inner, str) else canonical_json(inner)
        else:
            result = canonical_json(parsed)
    result = _LARGE_OUTPUT_NAME.sub("PLACEHOLDER-copilot-tool-output-PLACEHOLDER", result)
    result = _LARGE_OUTPUT_PATH.sub(
        "/session-state/temp/PLACEHOLDER-copilot-tool-output-PLACEHOLDER", result
    )
    result = _SHELL_EXIT_MARKER.sub(r"<exited with exit code \1>", result)
    result = _AVAILABLE_TOOLS.sub(r"\1", result)
    result = normalize_read_agent(normalize_gh_auth(result))
    result = _AGENT_STARTED.sub(_AGENT_STARTED_TEXT, result)
    return _INTERRUPTED_TEXT if _INTERRUPTED.fullmatch(result) else result


def strip_line_numbers(text: str) -> str:
    """The text of a ``view`` result without its ``N. `` line prefixes, when every line has
    one and they count up: the recordings' CLI numbered lines, CLI 1.0.102 does not."""
    lines = [_NUMBERED_LINE.fullmatch(line) for line in text.split("\n")]
    numbers = [int(found.group(1)) for found in lines if found]
    if len(numbers) < len(lines) or numbers != list(range(numbers[0], numbers[0] + len(lines))):
        return text
    return "\n".join(found.group(2) or "" for found in lines if found).strip()


def normalize_arguments(arguments: str) -> str:
    """Re-serialise tool-call arguments compactly; empty arguments become ``{}``."""
    if not arguments.strip():
        return "{}"
    try:
        return json.dumps(json.loads(arguments), separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply for it
        return arguments


def _text(content: Any) -> str | None:
    """Text of a message's content: a string, or the parts of a multimodal message."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, Mapping) and part.get("type") == "image_url":
                parts.append("[image]")
        return "\n".join(parts)
    return None


def _message(raw: Mapping[str, Any]) -> Message:
    """Normalise one message on its own: content by role, arguments canonically."""
    role = str(raw.get("role", ""))
    text = _text(raw.get("content"))
    if role == "system":
        text = SYSTEM_PLACEHOLDER
    elif role == "user" and text is not None:
        text = normalize_user_text(text)
    elif role == "tool" and text is not None:
        text = normalize_tool_result(text)
    calls = tuple(
        ToolCall(
            id=str(call.get("id", "")),
            name=str(call.get("function", {}).get("name", "")),
            arguments=normalize_arguments(str(call.get("function", {}).get("arguments") or "")),
        )
        for call in raw.get("tool_calls") or ()
        if isinstance(call, Mapping)
    )
    call_id = raw.get("tool_call_id")
    return Message(
        role=role,
        content=text or None,
        tool_calls=calls,
        tool_call_id=str(call_id) if call_id is not None else None,
    )


def _renumber_tool_calls(messages: list[Message]) -> list[Message]:
    """Tool-call ids become ``toolcall_0``, ``toolcall_1``… in order of first appearance;
    shell tool names become their placeholders."""
    ids: dict[str, str] = {}

    def new_id(old: str) -> str:
        return ids.setdefault(old, f"toolcall_{len(ids)}")

    result = []
    for message in messages:
        calls = tuple(
            ToolCall(new_id(c.id), SHELL_TOOL_PLACEHOLDERS.get(c.name, c.name), c.arguments)
            for c in message.tool_calls
        )
        call_id = message.tool_call_id
        if call_id is not None:
            call_id = ids.get(call_id, call_id)
        result.append(replace(message, tool_calls=calls, tool_call_id=call_id))
    return result


def _agent_name(arguments: str, unnamed: int) -> str:
    """The name a ``task`` call gives its agent, or the SDK's proxy's name for the
    ``unnamed``-th task call (counting every task call before it)."""
    try:
        name = json.loads(arguments).get("name")
    except (ValueError, RecursionError, AttributeError):
        name = None
    if isinstance(name, str):
        return name
    return "background-agent" if unnamed == 0 else f"background-agent-{unnamed}"


def _rename_agents(arguments: str, names: Mapping[str, str]) -> str:
    """``agent_id`` and ``agent_ids`` in ``read_agent``/``write_agent`` arguments renamed."""
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments
    if not isinstance(parsed, dict) or not names:
        return arguments
    if isinstance(parsed.get("agent_id"), str):
        parsed["agent_id"] = names.get(parsed["agent_id"], parsed["agent_id"])
    if isinstance(parsed.get("agent_ids"), list):
        parsed["agent_ids"] = [
            names.get(i, i) if isinstance(i, str) else i for i in parsed["agent_ids"]
        ]
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)


def _agent_runtime_names(messages: Sequence[Message]) -> dict[str, str]:
    """Background agents' runtime ids → the names their ``task`` calls gave them."""
    by_call: dict[str, str] = {}
    names: dict[str, str] = {}
    for message in messages:
        for call in message.tool_calls:
            if call.name == "task":
                by_call[call.id] = _agent_name(call.arguments, len(by_call))
        runtime_id = agent_runtime_id(message.content or "") if message.role == "tool" else None
        name = by_call.get(message.tool_call_id or "")
        if runtime_id and name:
            names[runtime_id] = name
    return names


def _name_background_agents(messages: list[Message]) -> list[Message]:
    """Background agents' runtime ids become their names, in the ``task`` result that
    started each, in ``read_agent``/``write_agent`` arguments and in later tool results."""
    names: dict[str, str] = {}
    every = _agent_runtime_names(messages)
    result = []
    for message in messages:
        calls = tuple(
            replace(c, arguments=_rename_agents(c.arguments, names))
            if c.name in ("read_agent", "write_agent")
            else c
            for c in message.tool_calls
        )
        content = message.content
        runtime_id = agent_runtime_id(content or "") if message.role == "tool" else None
        if runtime_id in every:
            names[runtime_id] = every[runtime_id]
        if content and message.role == "tool":
            for old, new in names.items():
                content = content.replace(old, new)
        result.append(replace(message, content=content, tool_calls=calls))
    return result


def background_agent_ids(raw_messages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """A live request's background agents: name → runtime id (what a reply's
    ``read_agent``/``write_agent`` arguments are expanded with)."""
    messages = _renumber_tool_calls([_message(m) for m in raw_messages])
    return {name: runtime for runtime, name in _agent_runtime_names(messages).items()}


def _strip_view_line_numbers(messages: list[Message]) -> list[Message]:
    """Results of the ``view`` tool lose their line numbers (see :func:`strip_line_numbers`)."""
    names = {call.id: call.name for message in messages for call in message.tool_calls}
    return [
        replace(m, content=strip_line_numbers(m.content))
        if m.role == "tool" and m.content and names.get(m.tool_call_id or "") == "view"
        else m
        for m in messages
    ]


def _tool_result_order(message: Message) -> tuple[int, int, str]:
    found = _NORMALIZED_ID.fullmatch(message.tool_call_id or "")
    return (0, int(found.group(1)), "") if found else (1, 0, message.tool_call_id or "")


def _sort_tool_results(messages: list[Message]) -> list[Message]:
    """Parallel tools may finish in any order; each run of tool results is sorted by call."""
    result: list[Message] = []
    for is_tool, run in groupby(messages, key=lambda message: message.role == "tool"):
        group = list(run)
        result.extend(sorted(group, key=_tool_result_order) if is_tool else group)
    return result


def _placeholder_workdir(messages: list[Message], workdir: str) -> list[Message]:
    """Every occurrence of the working directory becomes ``${workdir}`` (JSON-escaped inside
    tool-call arguments), as in the SDK's proxy, so an expanded reply normalises back."""
    escaped = json.dumps(workdir, ensure_ascii=False)[1:-1]
    return [
        replace(
            message,
            content=message.content.replace(workdir, WORKDIR_PLACEHOLDER)
            if message.content
            else message.content,
            tool_calls=tuple(
                replace(c, arguments=c.arguments.replace(escaped, WORKDIR_PLACEHOLDER))
                for c in message.tool_calls
            ),
        )
        for message in messages
    ]


def coalesce(messages: Iterable[Message]) -> list[Message]:
    """Merge adjacent assistant messages (a streamed reply split in two) and adjacent user
    messages, so a split and an unsplit recording of one exchange compare equal."""
    result: list[Message] = []
    for message in messages:
        previous = result[-1] if result else None
        if previous is None or previous.role != message.role or message.role not in _COALESCED:
            result.append(message)
            continue
        separator = USER_MESSAGE_SEPARATOR if message.role == "user" else ""
        texts = [t for t in (previous.content, message.content) if t]
        result[-1] = replace(
            previous,
            content=separator.join(texts) or None,
            tool_calls=previous.tool_calls + message.tool_calls,
        )
    return result


def normalize_messages(
    raw_messages: Sequence[Mapping[str, Any]], workdir: str | None = None
) -> tuple[Message, ...]:
    """The normal form of a conversation: each message normalised, tool calls renumbered,
    ``view`` results without line numbers, tool results in call order, ``workdir``
    replaced by its placeholder, then adjacent messages coalesced. A user message that
    held only volatile blocks (the CLI's session_limits_status after a tool result) goes."""
    kept = [m for m in map(_message, raw_messages) if m.role != "user" or m.content]
    messages = _name_background_agents(_renumber_tool_calls(kept))
    messages = _sort_tool_results(_strip_view_line_numbers(messages))
    if workdir:
        messages = _placeholder_workdir(messages, workdir)
    return tuple(coalesce(messages))


def expand_reply(
    message: Message, workdir: str | None, agent_ids: Mapping[str, str] | None = None
) -> Message:
    """Undo the placeholders in a stored reply for one live session: shell tool names,
    ``${workdir}`` (JSON-escaped inside arguments) when the working directory is known, and
    background agents' names in ``read_agent``/``write_agent`` calls as their runtime ids."""
    value = workdir or WORKDIR_PLACEHOLDER
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    content = message.content
    calls = []
    for call in message.tool_calls:
        arguments = call.arguments.replace(WORKDIR_PLACEHOLDER, escaped)
        if call.name in ("read_agent", "write_agent"):
            arguments = _rename_agents(arguments, agent_ids or {})
        calls.append(ToolCall(call.id, _SHELL_TOOL_NAMES.get(call.name, call.name), arguments))
    return replace(
        message,
        content=content.replace(WORKDIR_PLACEHOLDER, value) if content else content,
        tool_calls=tuple(calls),
    )
