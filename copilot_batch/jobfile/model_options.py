"""Options on how the model works: the system message (with ``customize`` sections) and
``instruction_directories``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import files
from .located_yaml import shown
from .problems import Problems, Where

# Where the CLI (1.0.102) reads custom instructions in a folder it is given.
INSTRUCTION_FILES = (
    ".github/copilot-instructions.md",
    ".github/instructions/**/*.instructions.md",
    "AGENTS.md",
    "CLAUDE.md",
    "GEMINI.md",
    ".claude/rules/**/*.md",
)


def system_message_option(
    raw: Mapping[str, Any] | None, content: str | None, sections: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The SDK's SystemMessageConfig: ``mode``, the rendered ``content`` and, with
    ``customize``, the rendered ``sections``."""
    if raw is None:
        return None
    message: dict[str, Any] = {"mode": raw.get("mode", "append")}
    if content is not None:
        message["content"] = content
    if sections:
        message["sections"] = {name: dict(section) for name, section in sections.items()}
    return message


def sections_option(
    raw: Mapping[str, Any] | None,
    where: Where,
    render: Callable[[Any, Where], Any],
    problems: Problems,
) -> dict[str, Any] | None:
    """The system message's ``customize`` sections, their content rendered; ``None`` on a
    problem (reported)."""
    if raw is None:
        return {}
    problem = _sections_problem(raw)
    if problem is not None:
        problems.add((*where, *problem[0]), problem[1])
        return None
    rendered = render(raw.get("sections", {}), (*where, "sections"))
    return None if rendered is None else dict(rendered)


def _sections_problem(raw: Mapping[str, Any]) -> tuple[Where, str] | None:
    """Sections belong to ``customize``; replace, append and prepend need content."""
    sections: Mapping[str, Any] = raw.get("sections", {})
    if sections and raw.get("mode", "append") != "customize":
        return ("sections",), "sections need mode: customize"
    for name, section in sections.items():
        if section["action"] in ("replace", "append", "prepend") and "content" not in section:
            return ("sections", name), f"action {section['action']!r} needs content"
    return None


def instruction_directories_option(
    raw: Sequence[str] | None, where: Where, working_directory: Path, problems: Problems
) -> tuple[Path, ...]:
    """Folders of custom instructions, relative to the working directory, each checked to
    be a folder holding at least one instruction file."""
    directories: list[Path] = []
    for index, entry in enumerate(raw or ()):
        directory = working_directory / entry
        try:
            directory = files.directory(directory)
        except ValueError as reason:
            problems.add((*where, index), f"instruction directory {directory} {reason}")
            continue
        if not any(next(directory.glob(pattern), None) for pattern in INSTRUCTION_FILES):
            problems.add(
                (*where, index),
                f"instruction directory {shown(entry)} ({directory}) holds no instructions: "
                + ", ".join(INSTRUCTION_FILES),
            )
        directories.append(directory)
    return tuple(directories)
