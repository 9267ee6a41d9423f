"""Ready-made session hooks, public and importable from job files (``hooks:``).

``redact_secrets`` hides secret values in what tools return before the model reads it;
``audit_log`` appends one JSON line per tool call to a file. Both are factories: a job file
names them with ``{use: copilot_batch.hooks:…, with: {options}}``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .redact import MASK, MIN_SECRET_LENGTH, TOKEN_VARIABLES, Redactor

Hook = Callable[[dict[str, Any], dict[str, str]], dict[str, Any] | None]


class _Redacting:
    """A post_tool_use hook masking ``secrets`` in every string of a tool's result."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = tuple(secrets)  # the loader masks these in everything a run writes
        self._redactor = Redactor(secrets)

    def __call__(
        self, hook_input: dict[str, Any], _invocation: dict[str, str]
    ) -> dict[str, Any] | None:
        result = hook_input.get("toolResult")
        redacted = self._redactor.data(result)
        if redacted == result:
            return None
        return {"modifiedResult": redacted}


def redact_secrets(
    env: Sequence[str] = (), values: Sequence[str] = (), tokens: bool = True
) -> Hook:
    """A ``post_tool_use`` hook that replaces secrets in tool results with ``***``.

    The secrets are the values of the environment variables named in ``env`` (each must be
    set), the strings in ``values``, and with ``tokens`` (the default) the GitHub tokens of
    the environment the Copilot CLI reads. Each must be at least 6 characters long: shorter
    ones would mask ordinary words. The same values are masked in everything the run writes.
    """
    if isinstance(env, str) or isinstance(values, str):
        raise ValueError("env and values are lists")
    unset = [name for name in env if not os.environ.get(name)]
    if unset:
        raise ValueError(f"environment variable(s) not set: {', '.join(unset)}")
    secrets = [os.environ[name] for name in env] + [str(value) for value in values]
    short = [secret for secret in secrets if len(secret) < MIN_SECRET_LENGTH]
    if short:
        raise ValueError(f"a secret is shorter than {MIN_SECRET_LENGTH} characters")
    if tokens:
        secrets += [os.environ[name] for name in TOKEN_VARIABLES if os.environ.get(name)]
    if not secrets:
        raise ValueError("no secret to redact: name environment variables in env, or values")
    return _Redacting(secrets)


_APPEND_LOCK = threading.Lock()


def audit_log(path: str, working_directory: Path) -> Hook:
    """A tool hook that appends one JSON line per call to ``path`` (relative to the task's
    working directory), and changes nothing.

    On ``pre_tool_use`` a line per call the agent asks for, with its arguments; on
    ``post_tool_use`` and ``post_tool_use_failure`` a line per call made, with its result
    or error. Each line has ``at``, ``session_id``, ``hook``, ``tool``, ``arguments`` and
    ``result`` or ``error`` when there is one.
    """
    target = working_directory / path
    if not target.parent.is_dir():
        raise ValueError(f"the folder of {path} does not exist")

    def append(hook_input: dict[str, Any], invocation: dict[str, str]) -> None:
        line: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "session_id": invocation.get("session_id"),
            "hook": _hook_of(hook_input),
            "tool": hook_input.get("toolName"),
            "arguments": hook_input.get("toolArgs"),
            **{key: hook_input[key] for key in ("toolResult", "error") if key in hook_input},
        }
        text = json.dumps(line, default=str, ensure_ascii=False) + "\n"
        with _APPEND_LOCK, target.open("a", encoding="utf-8") as file:
            file.write(text)

    return append


def _hook_of(hook_input: dict[str, Any]) -> str:
    if "toolResult" in hook_input:
        return "post_tool_use"
    if "error" in hook_input:
        return "post_tool_use_failure"
    return "pre_tool_use"


__all__ = ["MASK", "audit_log", "redact_secrets"]
