"""The real filesystem, as the CLI's session filesystem asks for it (:mod:`.session_files`).

Blocking calls run in worker threads so a large file does not stall every session. Bytes
are read and written as they are (no newline translation); text is UTF-8 and a file that
is not UTF-8 is refused rather than changed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
from copilot.generated.rpc import DebugCollectLogsEntryKind, SessionFSReaddirWithTypesEntry
from copilot.session_fs_provider import SessionFsFileInfo, SessionFsWriteFailure

_T = TypeVar("_T")
# What the disk's default permissions are, before the umask, when the CLI names none.
_FILE_MODE, _FOLDER_MODE = 0o666, 0o777


async def _in_thread(call: Callable[[], _T]) -> _T:
    return await anyio.to_thread.run_sync(call)


class DiskFiles:
    """The disk, with relative paths taken from ``working_directory``."""

    def __init__(self, working_directory: Path) -> None:
        self._working_directory = working_directory

    def path(self, path: str) -> Path:
        return self._working_directory / path

    async def read(self, path: str) -> bytes:
        return await _in_thread(self.path(path).read_bytes)

    async def write(self, path: str, content: bytes, mode: int | None, append: bool) -> None:
        await _in_thread(lambda: _write(self.path(path), content, mode, append))

    async def exists(self, path: str) -> bool:
        return await _in_thread(self.path(path).exists)

    async def stat(self, path: str) -> SessionFsFileInfo:
        return await _in_thread(lambda: _stat(self.path(path)))

    async def mkdir(self, path: str, recursive: bool, mode: int | None) -> None:
        target, folder_mode = self.path(path), _FOLDER_MODE if mode is None else mode
        if recursive:
            await _in_thread(lambda: os.makedirs(target, folder_mode, exist_ok=True))
        else:
            await _in_thread(lambda: os.mkdir(target, folder_mode))

    async def entries(self, path: str) -> Sequence[SessionFSReaddirWithTypesEntry]:
        return await _in_thread(lambda: _entries(self.path(path)))

    async def rm(self, path: str, recursive: bool, force: bool) -> None:
        await _in_thread(lambda: _rm(self.path(path), recursive, force))

    async def rename(self, source: str, target: str) -> None:
        await _in_thread(lambda: os.rename(self.path(source), self.path(target)))


def _write(path: Path, content: bytes, mode: int | None, append: bool) -> None:
    """Write like the provider contract asks: parents made; a failure that changed the
    file is a SessionFsWriteFailure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    descriptor = os.open(path, flags, _FILE_MODE if mode is None else mode)
    try:
        with open(descriptor, "wb", closefd=True) as file:
            file.write(content)
    except OSError as error:
        raise SessionFsWriteFailure(str(error)) from error


def _stat(path: Path) -> SessionFsFileInfo:
    status = path.stat()
    born = getattr(status, "st_birthtime", status.st_ctime)  # Linux keeps no birth time here
    return SessionFsFileInfo(
        is_file=path.is_file(),
        is_directory=path.is_dir(),
        size=status.st_size,
        mtime=datetime.fromtimestamp(status.st_mtime, UTC),
        birthtime=datetime.fromtimestamp(born, UTC),
    )


def _entries(path: Path) -> list[SessionFSReaddirWithTypesEntry]:
    with os.scandir(path) as found:
        return [
            SessionFSReaddirWithTypesEntry(
                entry.name,
                DebugCollectLogsEntryKind.DIRECTORY
                if entry.is_dir()
                else DebugCollectLogsEntryKind.FILE,
            )
            for entry in found
        ]


def _rm(path: Path, recursive: bool, force: bool) -> None:
    if not path.exists() and not path.is_symlink():
        if force:
            return
        raise FileNotFoundError(2, os.strerror(2), str(path))
    if path.is_dir() and not path.is_symlink():
        if recursive:
            shutil.rmtree(path)
        else:
            path.rmdir()
    else:
        path.unlink()
