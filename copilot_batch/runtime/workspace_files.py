"""What a ``copy`` workspace holds: the files git would take from the working directory,
never a run folder, less the task's ``workspace_exclude`` patterns; and the copying."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from ..git import git, git_paths, git_succeeds, repository_top
from ..run_folder.layout import RunFolder

# Tracked files and untracked ones that no ignore rule (.gitignore, info/exclude, the
# user's core.excludesFile) leaves out.
_LISTING = ("ls-files", "-z", "--cached", "--others", "--exclude-standard")


@dataclass(frozen=True)
class CopiedFiles:
    """How much went into a workspace: files (symlinks included) and their bytes."""

    files: int = 0
    bytes: int = 0


async def files_to_copy(
    source: Path, left_out: Iterable[Path], exclude: Sequence[str] = ()
) -> list[str]:
    """The files (POSIX paths relative to ``source``) a copy of ``source`` holds: what git
    would take, less those under the ``left_out`` folders and those ``exclude`` matches
    (gitignore patterns, relative to ``source``). Sorted."""
    skipped = [relative for folder in left_out if (relative := _strictly_inside(folder, source))]
    excluded = GitIgnoreSpec.from_lines(exclude)
    return sorted(
        path
        for path in set(await _listed(source))
        if not any(path == folder or path.startswith(f"{folder}/") for folder in skipped)
        and not excluded.match_file(path)
    )


async def _listed(folder: Path) -> list[str]:
    """What git would take from ``folder``, the files of nested repositories and submodules
    included. Outside a repository (or in an ignored folder of one) an empty repository of
    its own lists the files, honouring ``folder``'s .gitignore files."""
    if await repository_top(folder) is not None and not await git_succeeds(
        "check-ignore", "-q", ".", cwd=folder
    ):
        paths = await git_paths(*_LISTING, cwd=folder)
    else:
        with tempfile.TemporaryDirectory(prefix="copilot-batch-listing-") as empty:
            await git("init", "-q", "--bare", empty, cwd=folder)
            tree = (f"--git-dir={empty}", f"--work-tree={folder}")
            paths = await git_paths(*tree, *_LISTING, cwd=folder)
    files: list[str] = []
    for path in (path.rstrip("/") for path in paths):
        inside = folder / path
        if inside.is_dir() and not inside.is_symlink():
            # git lists a nested repository or a submodule as its folder; its .git stays out.
            if (inside / ".git").exists():
                files += [f"{path}/{nested}" for nested in await _listed(inside)]
            continue
        files.append(path)
    return files


def run_folders(run_path: Path, source: Path) -> list[Path]:
    """Folders a copy of ``source`` never holds: --out (the parent of the run folder at
    ``run_path``, absolute) and the run's folder, and, when --out is ``source`` itself,
    every run folder in it."""
    out = run_path.parent
    folders = [out, run_path]
    if out == source:
        folders += [child for child in out.iterdir() if RunFolder.holds_a_run(child)]
    return folders


def _strictly_inside(folder: Path, parent: Path) -> str | None:
    """``folder`` relative to ``parent`` (POSIX), when it lies below it."""
    try:
        relative = folder.relative_to(parent)
    except ValueError:
        return None
    return relative.as_posix() if relative.parts else None


def copy_files(source: Path, destination: Path, paths: Iterable[str]) -> CopiedFiles:
    """Copy ``paths`` from ``source`` to ``destination``: files with their mode, symlinks as
    symlinks. A path gone since it was listed (deleted but still tracked) is skipped, and
    so is anything git would not hold (a FIFO, a socket, a device)."""
    files = size = 0
    for path in paths:
        origin, target = source / path, destination / path
        try:
            status = origin.lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISLNK(status.st_mode):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(origin))
        elif stat.S_ISREG(status.st_mode):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
            size += status.st_size
        else:
            continue
        files += 1
    return CopiedFiles(files, size)


def measure(root: Path, paths: Iterable[str]) -> CopiedFiles:
    """The files and bytes of ``paths`` under ``root`` (a worktree git checked out)."""
    files = size = 0
    for path in paths:
        try:
            status = (root / path).lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        files += 1
        size += status.st_size if stat.S_ISREG(status.st_mode) else 0
    return CopiedFiles(files, size)
