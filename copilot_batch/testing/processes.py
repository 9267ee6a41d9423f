"""The processes below this one, read from Linux's ``/proc``: a test finds the Copilot CLI a
run started (to kill it, or to check that none is left behind). The benchmark measures the
same process trees."""

from __future__ import annotations

import os
from pathlib import Path


def read_proc(path: str) -> str | None:
    """The text of a ``/proc`` file, or None when its process has ended meanwhile."""
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def stat_fields(text: str) -> list[str]:
    """The fields of ``/proc/PID/stat`` text after the command name, from field 3 (state).
    The name may hold spaces and parentheses, so they are counted from its last ``)``."""
    return text[text.rindex(")") + 2 :].split()


def process_parents() -> dict[int, int]:
    """Every live process's parent pid, by pid."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (text := read_proc(f"/proc/{entry}/stat")) is not None:
            parents[int(entry)] = int(stat_fields(text)[1])
    return parents


def executable_of(pid: int) -> str | None:
    """The resolved path of the program ``pid`` runs, or None when it has ended."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def children_running(executable: Path, parent: int | None = None) -> list[int]:
    """Pids of the children of ``parent`` (default: this process) that run ``executable``."""
    parent = os.getpid() if parent is None else parent
    target = os.path.realpath(executable)
    return [
        pid
        for pid, its_parent in process_parents().items()
        if its_parent == parent and executable_of(pid) == target
    ]
