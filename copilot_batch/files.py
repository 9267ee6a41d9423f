"""Reading a file someone named, safely: never blocking on a FIFO, never reading a device
or a folder, never more than a limit."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

_CHUNK = 1024 * 1024


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit`` of
    them. Raises OSError for anything else; its ``strerror`` reads after "cannot be read:"
    ("it is a folder", "Permission denied")."""
    with os.fdopen(_open_regular(path), "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"it is larger than {limit:,} bytes")
    return data


def hash_regular_file(path: Path, limit: int) -> str:
    """The SHA-256 (hex) of the regular file at ``path``, read in chunks, refused as
    :func:`read_regular_file` refuses (more than ``limit`` bytes included)."""
    digest, size = hashlib.sha256(), 0
    with os.fdopen(_open_regular(path), "rb") as file:
        while chunk := file.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise OSError(errno.EFBIG, f"it is larger than {limit:,} bytes")
            digest.update(chunk)
    return digest.hexdigest()


def _open_regular(path: Path) -> int:
    """A descriptor of the regular file at ``path``; a FIFO is opened without waiting."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "it is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "it is not a regular file (a FIFO, socket or device)")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
