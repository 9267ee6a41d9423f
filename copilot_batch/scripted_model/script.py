"""Scripts: recorded or hand-written conversations, in the Copilot SDK's snapshot format.

A script is YAML with ``models`` (names) and ``conversations`` (each a list of
``messages``). Messages are checked for shape on load, so a typo is reported with its
file and line rather than as a request that never matches, and then put in normal form
(:mod:`.normalize`) once, so matching a request is a plain comparison.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ScriptError
from ..files import read_regular_file
from .normalize import Message, normalize_messages

_ROLES = ("system", "user", "assistant", "tool")
_TOP_KEYS = {"models", "conversations", "errors"}
_ERROR_KEYS = {"model", "status", "code", "message", "retryAfterSeconds", "messages"}
NO_CONVERSATIONS = "the script has no conversations: it answers no request"
_log = logging.getLogger(__name__)
_WORKDIR_PATH = re.compile(r"\$\{workdir\}/([^\s\"'`,\\]+)")
_MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id"}
_CALL_KEYS = {"id", "type", "function"}
# As large as a request the server takes (server.py); recordings are a few kilobytes.
MAX_SCRIPT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Conversation:
    """One stored exchange in normal form; ``index`` is its position in the file."""

    index: int
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class RecordedError:
    """An HTTP error the recording got for one request (its ``errors:`` section): served
    whenever a request's messages equal ``messages`` (and its model is ``model``, if set)."""

    status: int
    messages: tuple[Message, ...]
    model: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class Script:
    """One script file: the models it names, its conversations in file order, the HTTP
    errors it recorded, and ``notice``, why it answers nothing (no conversations)."""

    path: Path
    models: tuple[str, ...]
    conversations: tuple[Conversation, ...]
    errors: tuple[RecordedError, ...] = ()
    notice: str | None = None

    @property
    def workdir_paths(self) -> frozenset[str]:
        """The first one to three folders of every ``${workdir}/…`` path the script names."""
        found: set[str] = set()
        for conversation in self.conversations:
            for message in conversation.messages:
                texts = [message.content or ""] + [c.arguments for c in message.tool_calls]
                for match in _WORKDIR_PATH.finditer("\n".join(texts)):
                    parts = match.group(1).split("/")
                    found.update("/".join(parts[:n]) for n in range(1, min(len(parts), 3) + 1))
        return frozenset(found)


class _Located(dict[str, Any]):
    """A YAML mapping that remembers the line it started on, for error messages."""

    line: int | None = None


class _Loader(yaml.SafeLoader):
    """A safe loader whose mappings are :class:`_Located`."""


def _construct_located(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[_Located]:
    mapping = _Located()
    mapping.line = node.start_mark.line + 1
    yield mapping
    mapping.update({str(key): value for key, value in loader.construct_mapping(node).items()})


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_located)


# Builds the error for a problem found in a YAML value, at that value's line.
_Fail = Callable[[Any, str], ScriptError]


def _line(value: Any) -> int | None:
    return value.line if isinstance(value, _Located) else None


def parse_script(text: str, path: Path) -> Script:
    """Parse one script's text; ``path`` names it in errors and in match reports."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScriptError(path, line, f"not valid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise ScriptError(path, None, f"not valid YAML: {error}") from None
    except RecursionError:
        raise ScriptError(path, None, "not valid YAML: nested too deeply") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise ScriptError(path, None, f"not valid YAML: {error}") from None

    def fail(where: Any, message: str) -> ScriptError:
        return ScriptError(path, _line(where) or _line(data), message)

    if not isinstance(data, Mapping):
        raise ScriptError(path, None, "a script is a mapping with `models` and `conversations`")
    _check_keys(data, _TOP_KEYS, "the script", fail)
    models = data.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise fail(data, "`models` must be a list of model names")
    conversations = data.get("conversations")
    if conversations is None:
        conversations = []
    if not isinstance(conversations, list):
        raise fail(data, "`conversations` must be a list")
    errors = data.get("errors") or []
    if not isinstance(errors, list):
        raise fail(data, "`errors` must be a list")
    result = []
    for index, conversation in enumerate(conversations):
        where = f"conversations[{index}]"
        if not isinstance(conversation, Mapping):
            raise fail(data, f"{where} must be a mapping with `messages`")
        _check_keys(conversation, {"messages"}, where, fail)
        messages = _checked_messages(conversation, where, fail)
        result.append(Conversation(index, normalize_messages(messages)))
    recorded = tuple(_recorded_error(e, f"errors[{n}]", data, fail) for n, e in enumerate(errors))
    notice = None if result else NO_CONVERSATIONS
    return Script(path, tuple(models), tuple(result), recorded, notice)


def _checked_messages(parent: Mapping[str, Any], where: str, fail: _Fail) -> list[Any]:
    messages = parent.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail(parent, f"{where}.messages must be a non-empty list")
    for number, message in enumerate(messages):
        _check_message(message, f"{where}.messages[{number}]", parent, fail)
    return messages


def _optional(entry: Mapping[str, Any], key: str, kind: type, where: str, fail: _Fail) -> Any:
    value = entry.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise fail(entry, f"{where}.{key} must be {'a number' if kind is int else 'text'}")
    return value


def _recorded_error(entry: Any, where: str, parent: Any, fail: _Fail) -> RecordedError:
    """One ``errors:`` entry: an HTTP status of 400-599 and the request's messages."""
    if not isinstance(entry, Mapping):
        raise fail(parent, f"{where} must be a mapping with `status` and `messages`")
    _check_keys(entry, _ERROR_KEYS, where, fail)
    status = entry.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise fail(entry, f"{where}.status must be an HTTP error status (400-599)")
    retry_after = _optional(entry, "retryAfterSeconds", int, where, fail)
    if retry_after is not None and not 0 <= retry_after <= 86400:
        raise fail(entry, f"{where}.retryAfterSeconds must be 0 to 86400 seconds")
    return RecordedError(
        status=status,
        messages=normalize_messages(_checked_messages(entry, where, fail)),
        model=_optional(entry, "model", str, where, fail),
        code=_optional(entry, "code", str, where, fail),
        message=_optional(entry, "message", str, where, fail),
        retry_after=retry_after,
    )


def _check_keys(mapping: Mapping[str, Any], allowed: set[str], where: str, fail: _Fail) -> None:
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        expected = ", ".join(f"`{key}`" for key in sorted(allowed))
        raise fail(mapping, f"{where} has unknown key `{unknown[0]}` (expected {expected})")


def _check_message(message: Any, where: str, parent: Any, fail: _Fail) -> None:
    """Reject what the matcher could never use: unknown roles, non-text content, bad calls."""
    if not isinstance(message, Mapping):
        raise fail(parent, f"{where} must be a mapping with `role`")
    _check_keys(message, _MESSAGE_KEYS, where, fail)
    role = message.get("role")
    if role not in _ROLES:
        raise fail(message, f"{where}.role must be one of {', '.join(_ROLES)}, not {role!r}")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise fail(message, f"{where}.content must be text")
    calls = message.get("tool_calls")
    if calls is not None and (role != "assistant" or not isinstance(calls, list)):
        raise fail(message, f"{where}.tool_calls must be a list, on an assistant message")
    for number, call in enumerate(calls or []):
        call_where = f"{where}.tool_calls[{number}]"
        if not isinstance(call, Mapping):
            raise fail(message, f"{call_where} must be a mapping")
        _check_keys(call, _CALL_KEYS, call_where, fail)
        function = call.get("function")
        if not isinstance(call.get("id"), str) or not isinstance(function, Mapping):
            raise fail(call, f"{call_where} needs an `id` and a `function`")
        if not isinstance(function.get("name"), str) or not isinstance(
            function.get("arguments", ""), str
        ):
            raise fail(call, f"{call_where}.function needs a `name` and `arguments` as a string")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise fail(message, f"{where} is a tool result and needs a `tool_call_id`")


def load_script(path: Path) -> Script:
    """Read and parse one script file."""
    try:
        text = read_regular_file(path, MAX_SCRIPT_BYTES).decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"the script is not UTF-8 text (byte {error.start})"
        raise ScriptError(path, None, problem) from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise ScriptError(path, None, f"cannot read the script: {_reason(error)}") from None
    return parse_script(text, path)


def load_scripts(paths: Iterable[str | Path]) -> list[Script]:
    """Load script files and folders (every ``*.yaml``/``*.yml`` inside, recursively, sorted),
    in the order given; that order is the order conversations are tried in."""
    scripts: list[Script] = []
    for given in paths:
        path = Path(given)
        try:
            files = _script_files(path)
        except (OSError, ValueError) as error:
            raise ScriptError(path, None, f"cannot read the script: {_reason(error)}") from None
        for file in files:
            script = load_script(file)
            if script.notice is not None:
                _log.warning("%s: %s", file, script.notice)
            scripts.append(script)
    return scripts


def _script_files(path: Path) -> list[Path]:
    """``path`` itself, or the script files of the folder it names."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise ScriptError(path, None, "the folder holds no *.yaml or *.yml script")
    return files


def _reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)
