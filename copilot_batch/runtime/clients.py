"""The run's Copilot client: one CLI process, started once, shared by every session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from copilot import CopilotClient, RuntimeConnection

from ..errors import CliStartError

STOP_GRACE_SECONDS = 10.0


@asynccontextmanager
async def open_client(
    cli_path: Path, copilot_home: Path, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[CopilotClient]:
    """Start the CLI with its state in ``copilot_home``; stop it, shielded, on the way out."""
    copilot_home.mkdir(parents=True, exist_ok=True)
    connection = RuntimeConnection.for_stdio(path=str(cli_path))
    if extra_env:
        connection.env = {**os.environ, **extra_env}
    client = CopilotClient(connection=connection, base_directory=str(copilot_home))
    try:
        await client.start()
    except Exception as exc:
        with anyio.CancelScope(shield=True):
            await client.force_stop()
        raise CliStartError(str(cli_path), f"{type(exc).__name__}: {exc}") from exc
    try:
        yield client
    finally:
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(STOP_GRACE_SECONDS) as scope:
                await client.stop()
            if scope.cancelled_caught:
                await client.force_stop()
