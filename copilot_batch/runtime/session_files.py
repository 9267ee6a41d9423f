"""A session's filesystem as the CLI sees it: its state in memory, the work on disk.

A CLI process copilot-batch starts is given a session filesystem (the SDK's ``session_fs``):
CLI 1.0.102 then does each session's file work through a provider copilot-batch supplies,
one per session. That covers the session's state (``events.jsonl`` with every message
verbatim, the workspace and checkpoints, large tool outputs under ``/session-state/temp``)
and also the ``view``, ``create`` and ``edit`` tools (``glob``, ``grep`` and shell commands
use the disk directly). :class:`SessionFiles` keeps the state in memory, dropped with the
session, so a runner killed with SIGKILL leaves none of it on disk, and passes everything
else to the disk unchanged.

Only for CLI processes copilot-batch starts: the CLI refuses further use of a process whose
filesystem provider has gone, which would break a server others share (``--cli-url``).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from copilot.generated.rpc import SessionFSReaddirWithTypesEntry
from copilot.session import SessionFsConfig
from copilot.session_fs_provider import SessionFsFileInfo, SessionFsProvider

from .disk_files import DiskFiles
from .memory_files import MemoryFiles, os_error

# Where the CLI believes a session's state lives; a name only, nothing is made there.
SESSION_STATE_PATH = "/session-state"


def session_fs_config(copilot_home: Path) -> SessionFsConfig:
    """The client's session filesystem, exact bytes included (``view`` of an image)."""
    return {
        "initial_working_directory": str(copilot_home),
        "session_state_path": SESSION_STATE_PATH,
        "conventions": "posix",
        "capabilities": {"binary": True},
    }


class SessionFiles(SessionFsProvider):
    """One session's files: paths under ``/session-state`` or the CLI's own
    ``<copilot_home>/session-state`` (where it also writes the workspace) in memory, every
    other path on disk, relative ones from the session's ``working_directory``."""

    def __init__(self, working_directory: Path, copilot_home: Path) -> None:
        self._disk = DiskFiles(working_directory)
        self._memory = MemoryFiles()
        roots = (PurePosixPath(SESSION_STATE_PATH), PurePosixPath(copilot_home, "session-state"))
        # As text: comparing path objects and their parents cost a tenth of the process's
        # CPU, the CLI asking some 30 times per session.
        self._roots = tuple(str(root) for root in roots)
        self._inside = tuple(f"{root}/" for root in self._roots)

    def _memory_key(self, path: str) -> str | None:
        """The absolute path, when ``path`` is kept in memory."""
        # The text of a Path is normalised (no "//", "." or trailing "/"; ".." stays, as
        # in a comparison of parts); the CLI's own paths mostly are already.
        absolute = path if _normalised(path) else str(self._disk.path(path))
        inside = absolute in self._roots or absolute.startswith(self._inside)
        return absolute if inside else None

    async def read_file(self, path: str) -> str:
        return (await self.read_file_bytes(path)).decode("utf-8")

    async def read_file_bytes(self, path: str) -> bytes:
        if (key := self._memory_key(path)) is not None:
            return self._memory.read(key)
        return await self._disk.read(path)

    async def write_file(self, path: str, content: str, mode: int | None = None) -> None:
        await self._write(path, content.encode("utf-8"), mode, append=False)

    async def write_file_bytes(self, path: str, content: bytes, mode: int | None = None) -> None:
        await self._write(path, content, mode, append=False)

    async def append_file(self, path: str, content: str, mode: int | None = None) -> None:
        await self._write(path, content.encode("utf-8"), mode, append=True)

    async def _write(self, path: str, content: bytes, mode: int | None, append: bool) -> None:
        if (key := self._memory_key(path)) is not None:
            self._memory.write(key, content, append)
        else:
            await self._disk.write(path, content, mode, append)

    async def exists(self, path: str) -> bool:
        if (key := self._memory_key(path)) is not None:
            return self._memory.exists(key)
        return await self._disk.exists(path)

    async def stat(self, path: str) -> SessionFsFileInfo:
        if (key := self._memory_key(path)) is not None:
            return self._memory.stat(key)
        return await self._disk.stat(path)

    async def mkdir(self, path: str, recursive: bool, mode: int | None = None) -> None:
        if (key := self._memory_key(path)) is not None:
            self._memory.mkdir(key, recursive)
        else:
            await self._disk.mkdir(path, recursive, mode)

    async def readdir(self, path: str) -> list[str]:
        return [entry.name for entry in await self.readdir_with_types(path)]

    async def readdir_with_types(self, path: str) -> Sequence[SessionFSReaddirWithTypesEntry]:
        if (key := self._memory_key(path)) is not None:
            return self._memory.entries(key)
        return await self._disk.entries(path)

    async def rm(self, path: str, recursive: bool, force: bool) -> None:
        if (key := self._memory_key(path)) is not None:
            self._memory.rm(key, recursive, force)
        else:
            await self._disk.rm(path, recursive, force)

    async def rename(self, src: str, dest: str) -> None:
        source, target = self._memory_key(src), self._memory_key(dest)
        if source is not None and target is not None:
            self._memory.rename(source, target)
        elif source is None and target is None:
            await self._disk.rename(src, dest)
        else:  # between memory and disk: as across devices
            raise os_error(errno.EXDEV, src)


def _normalised(path: str) -> bool:
    """Whether ``path`` is absolute and spelled as a Path would spell it."""
    return (
        path.startswith("/")
        and "//" not in path
        and "/./" not in path
        and not path.endswith(("/", "/."))
    )
