"""Real git for the workspace tests: commands in a sample repository, and what they left."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*arguments: str, cwd: Path) -> str:
    """git's stdout; a fixed author, and local submodules allowed."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always",
         *arguments],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def branches(repository: Path) -> list[str]:
    """The repository's copilot-batch branches."""
    listing = git(
        "branch", "--list", "copilot-batch/*", "--format=%(refname:short)", cwd=repository
    )
    return listing.split()


def worktrees(repository: Path) -> list[str]:
    """The paths of the repository's worktrees, its main one first."""
    listing = git("worktree", "list", "--porcelain", cwd=repository).splitlines()
    return [line.removeprefix("worktree ") for line in listing if line.startswith("worktree ")]
