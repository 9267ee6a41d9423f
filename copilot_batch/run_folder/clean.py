"""``copilot-batch clean``: what runs left behind, found from their run folders, and
removed: ``git-worktree`` branches and worktrees in the repositories the tasks worked in,
and the run's ``workspaces/`` folder. The patches and records in the run folder stay."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio

from ..errors import WorkspaceError
from ..git import git
from ..jobfile import parse_duration
from .layout import BRANCH_PREFIX, RunFolder
from .reader import last_written, merged_from, worktree_records

_DAY_SECONDS = 24 * 3600.0
_DAYS = re.compile(r"([0-9]+(?:\.[0-9]+)?)d(.*)")


@dataclass(frozen=True)
class Leftover:
    """One thing a run left behind: a worktree, a branch, or a folder of the run."""

    kind: Literal["worktree", "branch", "folder"]
    target: str  # the worktree's path, the branch's name, the folder's path
    repository: Path | None = None

    def __str__(self) -> str:
        where = f" in {self.repository}" if self.repository is not None else ""
        return f"{self.kind} {self.target}{where}"


@dataclass(frozen=True)
class Removal:
    """A leftover removed (or, with ``--dry-run``, to be removed), or why it could not be."""

    leftover: Leftover
    error: str | None = None


def parse_age(text: str) -> float:
    """Seconds in an age: a duration (``90m``, ``12h``) that may start with days
    (``7d``, ``1d12h``). Raises ``ValueError`` with a message fit to show the user."""
    match = _DAYS.fullmatch(text.strip())
    days, rest = match.groups() if match is not None else ("0", text)
    try:
        seconds = float(days) * _DAY_SECONDS + (parse_duration(rest) if rest else 0.0)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"invalid age {text!r}: use days, hours, minutes… (7d, 1d12h, 90m)")
    return seconds


def runs_older_than(runs: list[Path], seconds: float, now: float | None = None) -> list[Path]:
    """The runs whose run.json was last written at least ``seconds`` before ``now``."""
    now = time.time() if now is None else now
    return [run for run in runs if now - last_written(run) >= seconds]


async def clean_run(run_path: Path, dry_run: bool = False) -> list[Removal]:
    """Remove what the run at ``run_path`` left behind (with ``dry_run``, only say what).

    Holds the run folder's lock meanwhile: a run still going, or being resumed, is refused
    with ``RunLockedError``."""
    run_path = run_path.resolve()
    with RunFolder.ended(run_path).locked():
        leftovers = await find_leftovers(run_path)
        if dry_run:
            return [Removal(leftover) for leftover in leftovers]
        return [await _remove(leftover) for leftover in leftovers]


async def find_leftovers(run_path: Path) -> list[Leftover]:
    """Worktrees first, then branches (a branch checked out in a worktree cannot go), then
    the run's folders."""
    worktrees: list[Leftover] = []
    branches: list[Leftover] = []
    records = worktree_records(run_path)
    run_ids = [run_path.name, *merged_from(run_path)]
    named = [str(record["branch"]) for record in records if record.get("branch")]
    for repository in await _repositories(run_path, records):
        worktrees += await _worktrees(repository, run_path / "workspaces")
        branches += await _branches(repository, run_ids, named)
    folders = [Leftover("folder", str(folder)) for folder in leftover_folders(run_path)]
    return [*worktrees, *branches, *folders]


def leftover_folders(run_path: Path) -> list[Path]:
    """The folders of a run that only a run in progress needs, when they hold anything:
    its workspaces, and the CLI state directories a killed run left. Those go whole: clean
    does not know the job files' secrets to mask the CLI's log with, as resume does."""
    candidates = [run_path / "workspaces", *sorted(run_path.glob("copilot-home*"))]
    return [folder for folder in candidates if _holds_anything(folder)]


def _holds_anything(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


async def _remove(leftover: Leftover) -> Removal:
    repository, target = leftover.repository, leftover.target
    try:
        if repository is None:  # a folder of the run
            await anyio.to_thread.run_sync(shutil.rmtree, target)
        elif leftover.kind == "branch":
            await git("branch", "-D", target, cwd=repository)
        elif Path(target).exists():
            await git("worktree", "remove", "--force", "--force", target, cwd=repository)
        else:  # its folder is gone already: only git's entry for it is left
            await git("worktree", "prune", cwd=repository)
    except (WorkspaceError, OSError) as error:
        return Removal(leftover, str(error))
    return Removal(leftover)


async def _repositories(run_path: Path, records: list[dict[str, Any]]) -> list[Path]:
    """The repositories the run's tasks made worktrees in: those the records name, and
    those of worktrees still in ``workspaces/`` (a killed run may have recorded none)."""
    roots = [record.get("patch_root") for record in records]
    places = [Path(root) for root in roots if isinstance(root, str) and root]
    workspaces = run_path / "workspaces"
    if workspaces.is_dir():
        places += [child for child in workspaces.iterdir() if (child / ".git").is_file()]
    found: list[Path] = []
    for place in places:
        repository = await _main_worktree(place)
        if repository is not None and repository not in found:
            found.append(repository)
    return found


async def _main_worktree(place: Path) -> Path | None:
    """The repository ``place`` belongs to, as the folder of its main worktree (its git
    folder when bare); ``None`` when there is none (any more)."""
    if not place.is_dir():
        return None
    try:
        common = await git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=place)
    except WorkspaceError:
        return None
    git_dir = Path(common.strip())
    return git_dir.parent if git_dir.name == ".git" else git_dir


async def _worktrees(repository: Path, workspaces: Path) -> list[Leftover]:
    """The repository's worktrees inside the run's ``workspaces/`` folder."""
    listing = await git("worktree", "list", "--porcelain", cwd=repository)
    paths = [Path(line[9:]) for line in listing.splitlines() if line.startswith("worktree ")]
    return [
        Leftover("worktree", str(path), repository)
        for path in paths
        if path.is_relative_to(workspaces) and path != workspaces
    ]


async def _branches(repository: Path, run_ids: list[str], named: list[str]) -> list[Leftover]:
    """The repository's branches of the runs ``run_ids``, and those ``named``."""
    heads = "refs/heads/"
    prefixes = [f"{heads}{BRANCH_PREFIX}/{run_id}/" for run_id in run_ids]
    exact = [f"{heads}{name}" for name in named]
    refs = await git("for-each-ref", "--format=%(refname)", heads, cwd=repository)
    return [
        Leftover("branch", ref.removeprefix(heads), repository)
        for ref in refs.splitlines()
        if ref in exact or ref.startswith(tuple(prefixes))
    ]
