"""Collecting a job file's problems, each at its place, while expansion goes on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import JobFileError
from .located_yaml import JsonPathSegment, LocatedDocument, json_path
from .model import SourcePosition

Where = tuple[JsonPathSegment, ...]
MAX_MESSAGE = 500  # characters: a message quotes values, and values can be huge


def clipped(message: str) -> str:
    """``message``, cut to MAX_MESSAGE characters."""
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


class Problems:
    """JobFileErrors for one file, each position and message kept once."""

    def __init__(self, document: LocatedDocument, path: Path) -> None:
        self.document = document
        self.path = path
        self.found: dict[tuple[int, int, str, str], JobFileError] = {}

    def add(self, where: Sequence[JsonPathSegment], message: str, *, of_key: bool = False) -> None:
        position = self.document.position(where, of_key=of_key)
        rendered_path = json_path(where)
        message = clipped(message)
        key = (position.line, position.column, rendered_path, message)
        self.found.setdefault(
            key, JobFileError(self.path, position.line, position.column, rendered_path, message)
        )

    def source(self, where: Sequence[JsonPathSegment]) -> SourcePosition:
        position = self.document.position(where)
        return SourcePosition(self.path, position.line, position.column, json_path(where))
