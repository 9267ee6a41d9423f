"""Structured outputs: JSON found in the answer, checked against the schema, one retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot_batch import TaskStatus
from copilot_batch.runtime.structured_output import (
    OutputProblem,
    parse_output,
    retry_prompt,
)
from copilot_batch.testing import read_json, run_job

FINDINGS = {
    "type": "object",
    "required": ["findings"],
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["file", "line", "severity"],
                "properties": {
                    "file": {"type": "string"},
                    "line": {"type": "integer"},
                    "severity": {"enum": ["major", "minor"]},
                },
            },
        }
    },
}
VALID = '{"findings": [{"file": "app.py", "line": 3, "severity": "major"}]}'
WRONG_SEVERITY = '{"findings": [{"file": "app.py", "line": 3, "severity": "huge"}]}'


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (f"Here you go:\n```json\n{VALID}\n```\nDone.", {"file": "app.py"}),
        (VALID, {"file": "app.py"}),
        (f"```json\n{{}}\n```\nthen fixed:\n```json\n{VALID}\n```", {"file": "app.py"}),
    ],
)
def test_the_json_is_the_last_fenced_block_or_the_whole_answer(
    answer: str, expected: dict[str, Any]
) -> None:
    assert parse_output(answer, FINDINGS)["findings"][0].items() >= expected.items()


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "the answer is empty"),
        ("No findings.",
         "the answer (no ```json block found) is not JSON: Expecting value at line 1"),
        ("```json\n{oops}\n```",
         "the ```json block is not JSON: Expecting property name enclosed in double quotes "
         "at line 1"),
        (WRONG_SEVERITY, "$.findings[0].severity: 'huge' is not one of ['major', 'minor']"),
        ('{"findings": "none"}', "$.findings: 'none' is not of type 'array'"),
    ],
)  # fmt: skip
def test_problems_say_what_is_wrong_and_where(answer: str, problem: str) -> None:
    with pytest.raises(OutputProblem) as caught:
        parse_output(answer, FINDINGS)
    assert str(caught.value) == problem


def conversation(prompt: str, *answers: str) -> dict[str, Any]:
    """The prompt, then each answer; every answer but the last is refused once."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "${system}"},
        {"role": "user", "content": prompt},
    ]
    for index, answer in enumerate(answers):
        if index:
            try:
                parse_output(answers[index - 1], FINDINGS)
            except OutputProblem as problem:
                messages.append({"role": "user", "content": retry_prompt(problem)})
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


@pytest.mark.anyio
@pytest.mark.cli
async def test_valid_outputs_are_stored_and_invalid_ones_retried_once(tmp_path: Path) -> None:
    script = tmp_path / "outputs.yaml"
    conversations = [
        conversation("Review app.py.", f"```json\n{VALID}\n```"),
        conversation("Review lib.py.", "Looks fine to me.", f"```json\n{VALID}\n```"),
        conversation("Review cli.py.", WRONG_SEVERITY, WRONG_SEVERITY),
    ]
    script.write_text(yaml.safe_dump({"models": ["gpt-4.1"], "conversations": conversations}))
    (tmp_path / "findings.schema.yaml").write_text(yaml.safe_dump(FINDINGS))
    result = await run_job(
        tmp_path,
        """
        version: 1
        defaults: {output_schema: findings.schema.yaml}
        tasks:
          - {id: first-try, prompt: Review app.py.}
          - {id: second-try, prompt: Review lib.py.}
          - {id: never, prompt: Review cli.py.}
        """,
        replay=(script,),
    )
    by_id = {task.task.id: task for task in result.results}
    expected = {"findings": [{"file": "app.py", "line": 3, "severity": "major"}]}
    assert (by_id["first-try"].status, by_id["first-try"].output) == (TaskStatus.OK, expected)
    assert (by_id["second-try"].status, by_id["second-try"].output) == (TaskStatus.OK, expected)
    never = by_id["never"]
    assert (never.status, never.output, never.error_type) == (
        TaskStatus.FAILED,
        None,
        "OutputInvalidError",
    )
    assert never.error == (
        "the answer does not match output_schema after 2 tries: "
        "$.findings[0].severity: 'huge' is not one of ['major', 'minor']"
    )
    record = read_json(result.folder / "tasks" / "second-try" / "result.json")
    assert record["output"] == expected
    assert record["options"]["output_schema"] == FINDINGS
