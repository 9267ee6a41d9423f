"""``attachments:`` of a task's first prompt or of a step: files, folders, a file's lines,
and files sent inline (images), each checked when the job file is loaded.

Paths are relative to the task's working directory. A line range's text is read here
(a bounded UTF-8 read); a blob's bytes are read when the prompt is sent, so a large matrix
does not hold them all, but its size is checked here.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..files import read_regular_file
from . import files
from .located_yaml import shown
from .problems import Problems, Where

AttachmentKind = Literal["file", "directory", "selection", "blob"]
MAX_BLOB_BYTES = 10 * 1024 * 1024  # a blob is sent inline (base64) in the prompt's request


@dataclass(frozen=True)
class AttachmentSpec:
    """One attachment, its path absolute. ``file``: ``lines`` (1-based, inclusive) the
    agent is pointed at, if any; ``selection``: ``lines`` of a file and their ``text``, sent
    in the prompt; ``blob``: a file sent inline as ``mime_type``."""

    kind: AttachmentKind
    path: Path
    display_name: str  # the name the agent sees
    lines: tuple[int, int] | None = None
    text: str | None = field(default=None, repr=False)
    mime_type: str | None = None

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "type": self.kind,
            "path": str(self.path),
            "display_name": self.display_name,
        }
        if self.lines is not None:
            record["lines"] = list(self.lines)
        if self.mime_type is not None:
            record["mime_type"] = self.mime_type
        return record


def attachments_option(
    raw: list[Mapping[str, Any]], where: Where, working_directory: Path, problems: Problems
) -> tuple[AttachmentSpec, ...] | None:
    """Rendered, schema-valid ``attachments`` entries → attachments; ``None`` when one
    names a path that cannot be attached (reported at its place)."""
    found = [
        _attachment(entry, (*where, index), working_directory, problems)
        for index, entry in enumerate(raw)
    ]
    attachments = [attachment for attachment in found if attachment is not None]
    return tuple(attachments) if len(attachments) == len(found) else None


def _attachment(
    entry: Mapping[str, Any], where: Where, working_directory: Path, problems: Problems
) -> AttachmentSpec | None:
    key = next(key for key in ("file", "selection", "directory", "blob") if key in entry)
    written: str = entry[key]
    path = working_directory / written
    # The SDK reads a user message's attachments back only when each has a name.
    display_name: str = entry.get("display_name", written)
    try:
        if key == "directory":
            return AttachmentSpec("directory", files.directory(path), display_name)
        if key == "blob":
            return _blob(path, display_name, entry.get("mime_type"))
        text = files.read_text(path)  # a regular UTF-8 file of bounded size
    except ValueError as reason:
        problems.add((*where, key), f"attachment {shown(written)} ({path}) {reason}")
        return None
    if "lines" not in entry:
        return AttachmentSpec("file", path.resolve(), display_name)
    lines = text.splitlines()
    start, end = entry["lines"]
    if not start <= end <= len(lines):
        problems.add(
            (*where, "lines"),
            f"lines [{start}, {end}] are not a range of {shown(written)}, which has "
            f"{len(lines):,} lines",
        )
        return None
    if key == "file":  # the CLI reads the lines itself
        return AttachmentSpec("file", path.resolve(), display_name, (start, end))
    selected = "\n".join(lines[start - 1 : end])
    return AttachmentSpec("selection", path.resolve(), display_name, (start, end), selected)


def _blob(path: Path, display_name: str, mime_type: str | None) -> AttachmentSpec:
    size = files.regular_file_size(path)
    if size > MAX_BLOB_BYTES:
        raise ValueError(
            f"is larger than the limit of {MAX_BLOB_BYTES // 1024**2} MiB for a blob "
            f"({size:,} bytes)"
        )
    mime_type = mime_type or mimetypes.guess_type(path.name)[0]
    if mime_type is None:
        raise ValueError("has no known MIME type: give one with mime_type")
    return AttachmentSpec("blob", path.resolve(), display_name, mime_type=mime_type)


def read_blob(attachment: AttachmentSpec) -> bytes:
    """A blob's bytes, read when its prompt is sent (bounded: it may have grown since it was
    checked). Raises OSError."""
    return read_regular_file(attachment.path, MAX_BLOB_BYTES)
