"""The pytest plugin of copilot-batch: the ``cli`` and ``browser`` markers and fixtures for
tests that run job files at the scripted model.

pytest loads it in every session where copilot-batch is installed (entry point ``pytest11``),
so it imports neither the Copilot SDK nor the scripted model's server until a fixture runs.
Turn it off with ``-p no:copilot_batch.testing.plugin``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..scripted_model import ScriptedModel


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cli: starts the real Copilot CLI (deselect with -m 'not cli')"
    )
    config.addinivalue_line(
        "markers",
        "browser: drives the system Chromium through Playwright (deselect with -m 'not browser')",
    )


@pytest.fixture(scope="session")
def copilot_cli() -> Path:
    """The Copilot CLI binary, found the way copilot-batch finds it (``COPILOT_CLI_PATH``,
    ``node_modules``, then ``PATH``)."""
    from ..errors import CliNotFoundError
    from ..runtime import find_cli

    try:
        return find_cli()
    except CliNotFoundError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def scripted_model_scripts() -> Sequence[Path]:
    """The script files (or folders of them) ``scripted_model`` serves: override it."""
    pytest.fail("override the scripted_model_scripts fixture to name the scripts to serve")


@pytest.fixture
async def scripted_model(scripted_model_scripts: Sequence[Path]) -> AsyncIterator[ScriptedModel]:
    """A scripted model serving ``scripted_model_scripts`` on loopback for one test (an
    async fixture: the test runs under anyio, whose ``anyio_backend`` must be asyncio)."""
    from ..scripted_model import ScriptedModel, load_scripts

    async with ScriptedModel(load_scripts(scripted_model_scripts)) as model:
        yield model
