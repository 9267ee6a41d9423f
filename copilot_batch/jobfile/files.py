"""The files and folders a job file names, and the job file itself: read and checked here.

A path in a job file may name a FIFO, a device, a folder, a symlink loop, a name too long
for the file system, or a file of gigabytes. Each is refused with a reason instead of
hanging, exhausting memory or raising: the functions raise ``ValueError`` whose message is
a predicate fit to follow the file's name ("does not exist", "is a FIFO, not a regular file").
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..files import read_regular_file
from .located_yaml import LocatedDocument, position_of, read_yaml

MAX_FILE_BYTES = 1024 * 1024  # a job file, a prompt file, a matrix or schema file, a SKILL.md

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFREG: "a file",
}


def read_text(path: Path) -> str:
    """The UTF-8 text of the regular file ``path``, of at most ``MAX_FILE_BYTES``."""
    _regular(_status(path))
    try:
        # Checked again as it is read: a FIFO may have taken the file's place since.
        data = read_regular_file(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8")
        where = position_of(before, len(before))
        raise ValueError(
            f"is not UTF-8 text ({exc.reason} at line {where.line}, column {where.column})"
        ) from None


def read_data(path: Path) -> LocatedDocument:
    """The JSON or YAML file ``path``, read as YAML 1.2 (which holds JSON), without problems."""
    document = read_yaml(read_text(path))
    if document.problems:
        first = document.problems[0]
        where = first.position
        raise ValueError(f"is invalid at line {where.line}, column {where.column}: {first.message}")
    return document


def regular_file_size(path: Path) -> int:
    """The size in bytes of the regular file ``path`` (of any size: the caller bounds it)."""
    status = _status(path)
    if not stat.S_ISREG(status.st_mode):
        raise ValueError(f"is {_kind(status)}, not a regular file")
    return status.st_size


def directory(path: Path) -> Path:
    """``path`` made absolute with its symlinks resolved, if it is a folder."""
    status = _status(path)
    if not stat.S_ISDIR(status.st_mode):
        raise ValueError(f"is {_kind(status)}, not a folder")
    return path.resolve()


def _status(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except ValueError:
        raise ValueError("has a NUL character in its name") from None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise ValueError("does not exist") from None
        raise ValueError(f"cannot be used: {exc.strerror}") from None


def _regular(status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise ValueError(f"is {_kind(status)}, not a regular file")
    if status.st_size > MAX_FILE_BYTES:
        raise ValueError(_too_big(status.st_size))


def _kind(status: os.stat_result) -> str:
    return _KINDS.get(stat.S_IFMT(status.st_mode), "an unknown kind of file")


def _too_big(size: int) -> str:
    return f"is larger than the limit of {MAX_FILE_BYTES // 1024**2} MiB ({size:,} bytes)"
