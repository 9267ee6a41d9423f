"""Skills: folders holding a SKILL.md whose YAML front matter names and describes them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import SkillError
from . import files
from .located_yaml import read_yaml

SKILL_FILE = "SKILL.md"


@dataclass(frozen=True)
class Skill:
    """One skill the CLI would load: its name, what it is for, and its SKILL.md."""

    name: str
    description: str
    path: Path


def discover_skills(directory: Path) -> list[Skill]:
    """The skills in ``directory``: one per sub-folder, each with a valid SKILL.md.

    Raises SkillError for a missing directory, a skill folder given in place of its parent,
    a sub-folder without SKILL.md, or a SKILL.md without a name and description.
    """
    if not directory.is_dir():
        raise SkillError(f"skills directory {directory} does not exist")
    if (directory / SKILL_FILE).is_file():
        raise SkillError(
            f"{directory} is a skill folder; list the folder that holds it ({directory.parent})"
        )
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise SkillError(f"cannot list skills directory {directory}: {exc.strerror}") from None
    skills = [
        read_skill(folder)
        for folder in entries
        if folder.is_dir() and not folder.name.startswith(".")
    ]
    if not skills:
        raise SkillError(f"skills directory {directory} holds no skill folders")
    return skills


def read_skill(folder: Path) -> Skill:
    """The skill in ``folder``, from the front matter of its SKILL.md."""
    skill_file = folder / SKILL_FILE
    if not os.path.lexists(skill_file):
        raise SkillError(f"skill folder {folder} has no {SKILL_FILE}")
    try:
        text = files.read_text(skill_file)
    except ValueError as reason:
        raise SkillError(f"{skill_file} {reason}") from None
    front_matter = _front_matter(text)
    if front_matter is None:
        raise SkillError(f"{skill_file} does not start with YAML front matter (---)")
    document = read_yaml(front_matter)
    if document.problems:
        problem = document.problems[0]
        line = problem.position.line + 1  # the front matter starts after the first ---
        raise SkillError(
            f"{skill_file}: front matter is not valid YAML at line {line}: {problem.message}"
        )
    fields = document.data
    if not isinstance(fields, dict):
        raise SkillError(f"{skill_file}: front matter must be a mapping")
    missing = [key for key in ("name", "description") if not isinstance(fields.get(key), str)]
    if missing:
        raise SkillError(f"{skill_file}: front matter has no {' or '.join(missing)}")
    return Skill(name=fields["name"], description=fields["description"].strip(), path=skill_file)


def _front_matter(text: str) -> str | None:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:index])
    return None
