"""What an incremental run keys a task on, read from disk before any session starts: the
task's skills' files and its input files (its ``inputs`` globs, or the files a ``copy``
workspace would take), each hashed through a bounded read that never waits on a FIFO."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterable
from pathlib import Path

import anyio
import anyio.to_thread
from structlog.typing import FilteringBoundLogger
from wcmatch import glob

from ..errors import WorkspaceError
from ..files import hash_regular_file
from ..jobfile import TaskSpec
from .input_key import content_digest, input_key
from .workspace_files import files_to_copy, run_folders

# A guard against a runaway glob or folder, as for glob: matrices.
MAX_INPUT_FILES = 100_000
# The largest file hashed; a larger one leaves the task without a key (it runs).
MAX_INPUT_FILE_BYTES = 1024 * 1024 * 1024
# ** does not enter symlinked folders, so a symlink loop cannot make a glob run forever.
_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB
# Tasks whose files are listed and hashed at once.
_KEYS_AT_ONCE = 8


async def task_input_key(task: TaskSpec, run_path: Path, model: str | None) -> str:
    """The task's input key, with ``--model`` (``model``) applied as the run applies it.
    Raises OSError, ValueError or WorkspaceError when a file cannot be listed or read."""
    spec = dataclasses.replace(task, model=model) if model else task
    source = task.working_directory.resolve()
    if task.inputs is None:
        paths = await files_to_copy(source, run_folders(run_path, source), task.workspace_exclude)
    else:
        paths = _globbed(source, task.inputs, run_folders(run_path, source))
    inputs = await anyio.to_thread.run_sync(_digests, source, paths)
    skills = await anyio.to_thread.run_sync(_skill_digests, task.skill_directories)
    return input_key(spec.spec_hash(), skills, inputs)


def _globbed(source: Path, patterns: Iterable[str], left_out: Iterable[Path]) -> list[str]:
    """The files (not folders) the ``patterns`` match under ``source``, never in a run
    folder; POSIX paths relative to ``source``."""
    found = glob.iglob(list(patterns), flags=_GLOB_FLAGS, root_dir=source)
    matches = list(itertools.islice(found, MAX_INPUT_FILES + 1))
    if len(matches) > MAX_INPUT_FILES:
        raise ValueError(f"the inputs match more than {MAX_INPUT_FILES:,} paths")
    skipped = [folder.resolve() for folder in left_out]
    return sorted(
        Path(match).as_posix()
        for match in matches
        if os.path.isfile(source / match)
        and not any((source / match).resolve().is_relative_to(folder) for folder in skipped)
    )


def _digests(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """Each path's content digest; a symlink counts as its target's name, as a copy keeps
    it. A file gone since it was listed counts as gone."""
    digests: dict[str, str] = {}
    for path in paths:
        file = root / path
        if file.is_symlink():
            digests[path] = "symlink:" + content_digest(os.fsencode(os.readlink(file)))
        elif file.exists():
            digests[path] = hash_regular_file(file, MAX_INPUT_FILE_BYTES)
    return digests


def _skill_digests(directories: Iterable[Path]) -> dict[str, str]:
    """Every file of every skills directory (``<index>/<path>``), so an edited SKILL.md or
    script of a skill changes the key."""
    digests: dict[str, str] = {}
    for index, directory in enumerate(directories):
        files = _globbed(directory.resolve(), ["**"], ())
        for path, digest in _digests(directory.resolve(), files).items():
            digests[f"{index}/{path}"] = digest
    return digests


async def input_keys(
    tasks: Iterable[TaskSpec], run_path: Path, model: str | None, log: FilteringBoundLogger
) -> dict[str, str]:
    """Each task's input key, a few at a time. A task whose inputs cannot be listed or
    read gets none (logged): it runs, and a later run cannot reuse it."""
    keys: dict[str, str] = {}
    limiter = anyio.CapacityLimiter(_KEYS_AT_ONCE)

    async def key_of(task: TaskSpec) -> None:
        async with limiter:
            try:
                keys[task.id] = await task_input_key(task, run_path, model)
            except (OSError, ValueError, WorkspaceError) as error:
                log.warning("the task's inputs cannot be read; it runs", task_id=task.id,
                            error=str(error))  # fmt: skip

    async with anyio.create_task_group() as group:
        for task in tasks:
            group.start_soon(key_of, task)
    return keys
