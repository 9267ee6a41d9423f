"""The run's Copilot client: a CLI process it starts, or a CLI server already running."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from copilot import CopilotClient, RuntimeConnection

from ..errors import CliConnectError, CliStartError, CopilotBatchError

STOP_GRACE_SECONDS = 10.0
# The connection token a CLI server started with ``COPILOT_CONNECTION_TOKEN`` expects.
CONNECTION_TOKEN_VARIABLE = "COPILOT_CONNECTION_TOKEN"


@dataclass(frozen=True)
class CliProcess:
    """Start the CLI at ``path`` with its state (``COPILOT_HOME``) in ``copilot_home``."""

    path: Path
    copilot_home: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CliServer:
    """Connect to a CLI server already running at ``url`` (HOST:PORT, PORT or a URL)."""

    url: str
    connection_token: str | None = None


@asynccontextmanager
async def open_client(cli: CliProcess | CliServer) -> AsyncIterator[CopilotClient]:
    """A started client; stopped (its process too, if ours), shielded, on the way out."""
    client = _client(cli)
    try:
        await client.start()
    except Exception as exc:
        with anyio.CancelScope(shield=True):
            await client.force_stop()
        raise _start_error(cli, exc) from exc
    try:
        yield client
    finally:
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(STOP_GRACE_SECONDS) as scope:
                await client.stop()
            if scope.cancelled_caught:
                await client.force_stop()


def _client(cli: CliProcess | CliServer) -> CopilotClient:
    if isinstance(cli, CliServer):
        return CopilotClient(
            connection=RuntimeConnection.for_uri(cli.url, connection_token=cli.connection_token)
        )
    cli.copilot_home.mkdir(parents=True, exist_ok=True)
    connection = RuntimeConnection.for_stdio(path=str(cli.path))
    if cli.extra_env:
        connection.env = {**os.environ, **cli.extra_env}
    return CopilotClient(connection=connection, base_directory=str(cli.copilot_home))


def _start_error(cli: CliProcess | CliServer, exc: Exception) -> CopilotBatchError:
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(cli, CliServer):
        return CliConnectError(cli.url, reason)
    return CliStartError(str(cli.path), reason)
