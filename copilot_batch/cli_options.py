"""Checks of command-line option values that click's types do not make: run ids, --out
folders, CLI server addresses, numbers that must be finite. Each returns the value or
raises ``click.BadParameter`` / :class:`OptionError` before anything starts."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import click

from .errors import OptionError
from .jobfile import cli_url_is_valid
from .run_folder import name_problem

_MAX_NAME_BYTES = 255  # one component of a path, on every common file system


def run_id(value: str | None) -> str | None:
    """--run-id: a name for a folder, nothing that reaches outside --out."""
    if value is not None and (problem := name_problem(value, "the run id")):
        raise click.BadParameter(problem)
    return value


def cli_url(value: str | None) -> str | None:
    """--cli-url: PORT, HOST:PORT or a URL http(s)://HOST:PORT, with a port 1-65535."""
    if value is None:
        return None
    if not cli_url_is_valid(value):
        raise click.BadParameter(
            f"{value!r} is not PORT, HOST:PORT or http://HOST:PORT (a port from 1 to 65535)"
        )
    return value


def clients(count: int | None, concurrency: int) -> None:
    """--clients: no more CLI processes than sessions at once, or some would stay idle."""
    if count is not None and count > concurrency:
        raise click.BadParameter(
            f"{count} CLI processes for {concurrency} sessions at once would leave some idle",
            param_hint="'--clients'",
        )


def host(value: str) -> str:
    """--host: a host name or an address to listen on, not empty, no spaces or controls."""
    if not value or len(value) > 253 or not value.isprintable() or " " in value:
        raise click.BadParameter(f"{value!r} is not a host name or an IP address")
    return value


def finite(value: float | None) -> float | None:
    """A number that is not NaN or infinite (click's FloatRange lets both through)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


def new_run_folder(out_dir: Path, run_id: str | None, option: str = "--run-id") -> None:
    """The run folder ``out_dir/run_id`` can be made: --out is (or can become) a writable
    folder, and the run folder does not exist yet. Nothing is left on disk."""
    out_problem = writable_folder_problem(out_dir)
    if out_problem is not None:
        raise OptionError("--out", str(out_dir), out_problem)
    if run_id is not None and os.path.lexists(out_dir / run_id):
        raise OptionError(option, run_id, f"{out_dir / run_id} already exists; give a new run id")


def writable_folder_problem(folder: Path) -> str | None:
    """Why copilot-batch could not make folders in ``folder`` (made first if missing), or
    None. Tried for real in its nearest existing parent, which ``access()`` cannot tell for
    /proc, read-only mounts or root."""
    if "\0" in str(folder):
        return "holds a NUL character"
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        if len(existing.name.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
            return f"the name {existing.name[:40]!r}… is longer than {_MAX_NAME_BYTES} bytes"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".copilot-batch-check-", dir=existing))
    except OSError as error:
        return f"cannot make folders in {existing}: {error.strerror or error}"
    return None
