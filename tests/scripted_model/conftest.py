"""Fixtures for the scripted model's tests: the asyncio backend, the real CLI and a client
running it, the recordings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from copilot import CopilotClient, RuntimeConnection

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_CLI = REPOSITORY / "node_modules" / "@github" / "copilot-linux-x64" / "copilot"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # The Copilot SDK runs on asyncio only. Session scope lets module fixtures be async.
    return "asyncio"


@pytest.fixture(scope="session")
def copilot_cli() -> Path:
    """The real Copilot CLI: COPILOT_CLI_PATH, else the one npm installed in this repository."""
    path = Path(os.environ.get("COPILOT_CLI_PATH") or DEFAULT_CLI)
    if not path.is_file():
        pytest.fail(f"the Copilot CLI is not at {path}; run `npm ci` or set COPILOT_CLI_PATH")
    return path


@pytest.fixture(scope="session")
def recordings() -> Path:
    """The Copilot SDK's recorded conversations, read where they lie (never copied here)."""
    folder = Path(
        os.environ.get("COPILOT_BATCH_SNAPSHOTS", REPOSITORY.parent / "shared" / "snapshots")
    )
    if not folder.is_dir():
        pytest.skip(f"recorded snapshots not found at {folder} (set COPILOT_BATCH_SNAPSHOTS)")
    return folder


@pytest.fixture(scope="module")
async def copilot(
    copilot_cli: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CopilotClient]:
    """One CLI process per test module (each start costs seconds), with its own home."""
    connection = RuntimeConnection.for_stdio(path=str(copilot_cli))
    home = tmp_path_factory.mktemp("copilot-home")
    client = CopilotClient(connection=connection, base_directory=str(home))
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
