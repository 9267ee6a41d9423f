"""Files and folders in memory, for one session's state (:mod:`.session_files`)."""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Sequence
from datetime import UTC, datetime

from copilot.generated.rpc import DebugCollectLogsEntryKind, SessionFSReaddirWithTypesEntry
from copilot.session_fs_provider import SessionFsFileInfo

FILE, FOLDER = DebugCollectLogsEntryKind.FILE, DebugCollectLogsEntryKind.DIRECTORY


def os_error(code: int, path: str) -> OSError:
    """The error the disk would raise (its subclass: FileNotFoundError for ENOENT...)."""
    return OSError(code, os.strerror(code), path)


class MemoryFiles:
    """POSIX paths (absolute, or relative to ``/``) to bytes, and the folders holding them."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self._folders: set[str] = {"/"}
        self._created = datetime.now(UTC)

    def read(self, path: str) -> bytes:
        key = _key(path)
        if key not in self._files:
            raise os_error(errno.EISDIR if key in self._folders else errno.ENOENT, path)
        return self._files[key]

    def write(self, path: str, content: bytes, append: bool = False) -> None:
        key = _key(path)
        if key in self._folders:
            raise os_error(errno.EISDIR, path)
        self._add_folders(posixpath.dirname(key))
        self._files[key] = (self._files.get(key, b"") if append else b"") + content

    def exists(self, path: str) -> bool:
        key = _key(path)
        return key in self._files or key in self._folders

    def stat(self, path: str) -> SessionFsFileInfo:
        key = _key(path)
        if key in self._files:
            size = len(self._files[key])
            return SessionFsFileInfo(True, False, size, self._created, self._created)
        if key in self._folders:
            return SessionFsFileInfo(False, True, 0, self._created, self._created)
        raise os_error(errno.ENOENT, path)

    def mkdir(self, path: str, recursive: bool) -> None:
        key = _key(path)
        if key in self._files:
            raise os_error(errno.EEXIST, path)
        if not recursive:
            if key in self._folders:
                raise os_error(errno.EEXIST, path)
            if posixpath.dirname(key) not in self._folders:
                raise os_error(errno.ENOENT, path)
        self._add_folders(key)

    def entries(self, path: str) -> Sequence[SessionFSReaddirWithTypesEntry]:
        key = _key(path)
        if key not in self._folders:
            raise os_error(errno.ENOTDIR if key in self._files else errno.ENOENT, path)
        found = {name: FILE for name in self._files if _parent(name) == key}
        found |= {name: FOLDER for name in self._folders if _parent(name) == key}
        return [
            SessionFSReaddirWithTypesEntry(posixpath.basename(name), kind)
            for name, kind in sorted(found.items())
        ]

    def rm(self, path: str, recursive: bool, force: bool) -> None:
        key = _key(path)
        if not self.exists(path):
            if force:
                return
            raise os_error(errno.ENOENT, path)
        inside = self._inside(key)
        if inside and not recursive:
            raise os_error(errno.ENOTEMPTY, path)
        for name in [key, *inside]:
            self._files.pop(name, None)
            self._folders.discard(name)

    def rename(self, source: str, target: str) -> None:
        old, new = _key(source), _key(target)
        if not self.exists(source):
            raise os_error(errno.ENOENT, source)
        self._add_folders(posixpath.dirname(new))
        for name in [old, *self._inside(old)]:
            moved = new + name[len(old) :]
            if name in self._files:
                self._files[moved] = self._files.pop(name)
            else:
                self._folders.discard(name)
                self._folders.add(moved)

    def _inside(self, key: str) -> list[str]:
        prefix = key.rstrip("/") + "/"
        return [name for name in (*self._files, *self._folders) if name.startswith(prefix)]

    def _add_folders(self, key: str) -> None:
        while key not in self._folders:
            if key in self._files:
                raise os_error(errno.ENOTDIR, key)
            self._folders.add(key)
            key = posixpath.dirname(key)


def _key(path: str) -> str:
    """One spelling per path: absolute, normalised."""
    return posixpath.normpath(posixpath.join("/", path))


def _parent(key: str) -> str | None:
    return None if key == "/" else posixpath.dirname(key)
