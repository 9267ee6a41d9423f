"""A Copilot client shared by the scripted model's tests (the suite's fixtures are in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from copilot import CopilotClient, RuntimeConnection


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
