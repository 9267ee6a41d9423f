"""Answers in a shape a program can read: asking for JSON, finding it, checking it.

The request goes into the system message, not the prompt, so a task's prompt (and the
scripted conversations that replay it) stays what the job file says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from ..errors import OutputProblem

_FENCED_JSON = re.compile(r"```(?:json)?[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL | re.IGNORECASE)


def output_instructions(schema: Mapping[str, Any]) -> str:
    """What the system message asks of a task with an output_schema."""
    return (
        "When you have finished the task, give your final answer as a single JSON value "
        "in one ```json fenced code block, matching this JSON Schema:\n"
        f"```json\n{json.dumps(schema, indent=2)}\n```"
    )


def retry_prompt(problem: OutputProblem) -> str:
    """The message that shows the agent why its answer was refused, once."""
    return (
        f"Your final answer is not valid: {problem}. Reply again with only the corrected "
        "JSON in one ```json fenced code block, matching the JSON Schema you were given."
    )


def parse_output(answer: str | None, schema: Mapping[str, Any]) -> Any:
    """The JSON value in ``answer`` (the last fenced block, else the whole text), checked
    against ``schema``. Raises OutputProblem saying what is wrong."""
    if not answer or not answer.strip():
        raise OutputProblem("the answer is empty")
    blocks = _FENCED_JSON.findall(answer)
    text = blocks[-1] if blocks else answer.strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = "the ```json block" if blocks else "the answer (no ```json block found)"
        raise OutputProblem(f"{where} is not JSON: {exc.msg} at line {exc.lineno}") from None
    error = best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        raise OutputProblem(f"{error.json_path}: {error.message}")
    return value
