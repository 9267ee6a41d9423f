"""Fixtures shared by the whole suite: the asyncio backend, the real CLI, the recordings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from copilot_batch.runtime.cli_binary import find_cli

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # The Copilot SDK runs on asyncio only.
    return "asyncio"


@pytest.fixture(scope="session")
def cli_path() -> Path:
    """The real Copilot CLI, found the way copilot-batch finds it."""
    return find_cli()


@pytest.fixture(scope="session")
def snapshots_dir() -> Path:
    """Recordings from the Copilot SDK's own test suite, read in place (never copied here).

    Looked for in COPILOT_BATCH_SNAPSHOTS, else ../shared/snapshots beside the repository.
    CI sets COPILOT_BATCH_REQUIRE_SNAPSHOTS=1 so their absence fails rather than skips.
    """
    folder = Path(
        os.environ.get("COPILOT_BATCH_SNAPSHOTS", REPOSITORY.parent / "shared" / "snapshots")
    )
    if not folder.is_dir():
        message = f"recorded snapshots not found at {folder} (set COPILOT_BATCH_SNAPSHOTS)"
        if os.environ.get("COPILOT_BATCH_REQUIRE_SNAPSHOTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder
