"""git, run the way workspaces, ``apply`` and ``clean`` need it: its output, or a
``WorkspaceError`` carrying its stderr."""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from .errors import WorkspaceError

# Commits in workspaces are the tool's own: no hooks, no signing, a fixed author.
_GIT_CONFIG = (
    "-c", "user.name=copilot-batch", "-c", "user.email=copilot-batch@localhost",
    "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
)  # fmt: skip


async def _git_output(arguments: tuple[str, ...], cwd: Path) -> bytes:
    finished = await anyio.run_process(["git", *_GIT_CONFIG, *arguments], cwd=cwd, check=False)
    if finished.returncode != 0:
        command = " ".join(["git", *arguments])
        raise WorkspaceError(command, cwd, finished.stderr.decode(errors="replace").strip())
    return finished.stdout


async def git(*arguments: str, cwd: Path) -> str:
    """Run git; its stdout, or WorkspaceError with its stderr."""
    return (await _git_output(arguments, cwd)).decode(errors="replace")


async def git_paths(*arguments: str, cwd: Path) -> list[str]:
    """The NUL-separated paths a ``-z`` git command prints, as the file system names them
    (names that are not UTF-8 survive)."""
    output = await _git_output(arguments, cwd)
    return [os.fsdecode(path) for path in output.split(b"\0") if path]


async def git_succeeds(*arguments: str, cwd: Path) -> bool:
    """Whether git exits 0: for the commands whose answer is their exit code."""
    try:
        await _git_output(arguments, cwd)
    except WorkspaceError:
        return False
    return True


async def repository_top(directory: Path) -> Path | None:
    try:
        return Path((await git("rev-parse", "--show-toplevel", cwd=directory)).strip())
    except WorkspaceError:
        return None
