"""``steps:``: the follow-up turns of a task's session, after its first prompt, in order.

Read in two stages like the task itself: once per task entry (prompt files read, output
schemas and timeouts checked: ``step_templates``), then once per matrix combination
(prompts and attachment paths rendered: the expander's ``StepSpec``s).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import files
from .attachments import AttachmentSpec, attachments_option
from .durations import duration_option
from .model_capabilities import capabilities_option
from .options import output_schema_option
from .problems import Problems, Where

AgentMode = Literal["interactive", "plan", "autopilot"]


@dataclass(frozen=True)
class StepSpec:
    """One follow-up turn: its prompt (rendered) and what changes before it is sent."""

    prompt: str
    attachments: tuple[AttachmentSpec, ...] = ()
    model: str | None = None
    reasoning_effort: str | None = None
    # Passed to set_model, with the session's current model when the step names none.
    model_capabilities: Mapping[str, Any] | None = None
    mode: AgentMode | None = None
    output_schema: Mapping[str, Any] | None = None
    timeout_seconds: float | None = None

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {"prompt": self.prompt}
        if self.attachments:
            record["attachments"] = [attachment.describe() for attachment in self.attachments]
        optional = {
            "model": self.model,
            "reasoning_effort": self.reasoning_effort,
            "model_capabilities": self.model_capabilities,
            "mode": self.mode,
            "output_schema": dict(self.output_schema) if self.output_schema else None,
            "timeout_seconds": self.timeout_seconds,
        }
        record.update({key: value for key, value in optional.items() if value is not None})
        return record


@dataclass(frozen=True)
class StepTemplate:
    """A step as one task entry has it: its prompt template and where it was written,
    its attachments unrendered, and the options every combination shares."""

    where: Where
    prompt: tuple[str, Where]
    attachments: list[Any] | None
    model: str | None
    reasoning_effort: str | None
    model_capabilities: Mapping[str, Any] | None
    mode: AgentMode | None
    output_schema: dict[str, Any] | None
    timeout_seconds: float | None


def step_templates(
    raw_steps: list[Mapping[str, Any]], where: Where, folder: Path, problems: Problems
) -> tuple[StepTemplate, ...] | None:
    """A task entry's schema-valid ``steps``; ``None`` when one cannot be used (reported)."""
    found = [
        _step_template(raw, (*where, index), folder, problems)
        for index, raw in enumerate(raw_steps)
    ]
    steps = [step for step in found if step is not None]
    return tuple(steps) if len(steps) == len(found) else None


Render = Callable[[str, Where], str | None]  # a template at its place, or None (reported)
RenderData = Callable[[Any, Where], Any]  # every string in data rendered, or None


def rendered_attachments(
    raw: list[Any] | None,
    where: Where,
    render_data: RenderData,
    working_directory: Path,
    problems: Problems,
) -> tuple[AttachmentSpec, ...] | None:
    """Attachments with their paths rendered and checked; ``None`` on a problem (reported)."""
    if raw is None:
        return ()
    rendered = render_data(raw, where)
    if rendered is None:
        return None
    return attachments_option(rendered, where, working_directory, problems)


def rendered_steps(
    templates: tuple[StepTemplate, ...],
    render: Render,
    render_data: RenderData,
    working_directory: Path,
    problems: Problems,
) -> tuple[StepSpec, ...] | None:
    """One combination's steps; ``None`` when a prompt or attachment failed (reported)."""
    steps: list[StepSpec] = []
    failed = False
    for template in templates:
        prompt = render(*template.prompt)
        attachments = rendered_attachments(
            template.attachments,
            (*template.where, "attachments"),
            render_data,
            working_directory,
            problems,
        )
        if prompt is None or attachments is None:
            failed = True
            continue
        steps.append(
            StepSpec(
                prompt=prompt,
                attachments=attachments,
                model=template.model,
                reasoning_effort=template.reasoning_effort,
                model_capabilities=template.model_capabilities,
                mode=template.mode,
                output_schema=template.output_schema,
                timeout_seconds=template.timeout_seconds,
            )
        )
    return None if failed else tuple(steps)


def _step_template(
    raw: Mapping[str, Any], where: Where, folder: Path, problems: Problems
) -> StepTemplate | None:
    reported = len(problems.found)
    prompt = _prompt(raw, where, folder, problems)
    timeout = duration_option(raw.get("timeout"), (*where, "timeout"), problems)
    schema = output_schema_option(
        raw.get("output_schema"), (*where, "output_schema"), folder, problems
    )
    capabilities = capabilities_option(
        raw.get("model_capabilities"), (*where, "model_capabilities"), problems
    )
    if prompt is None or len(problems.found) > reported:
        return None
    return StepTemplate(
        where=where,
        prompt=prompt,
        attachments=raw.get("attachments"),
        model=raw.get("model"),
        reasoning_effort=raw.get("reasoning_effort"),
        model_capabilities=capabilities,
        mode=raw.get("mode"),
        output_schema=schema,
        timeout_seconds=timeout,
    )


def _prompt(
    raw: Mapping[str, Any], where: Where, folder: Path, problems: Problems
) -> tuple[str, Where] | None:
    """The step's prompt template and where it was written (its file read)."""
    if "prompt" in raw:
        return raw["prompt"], (*where, "prompt")
    where = (*where, "prompt_file")
    prompt_file = folder / raw["prompt_file"]
    try:
        return files.read_text(prompt_file), where
    except ValueError as reason:
        problems.add(where, f"prompt file {prompt_file} {reason}")
        return None
