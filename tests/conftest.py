"""Fixtures shared by the whole suite: the asyncio backend and the recordings. The real
CLI (``copilot_cli``) and the ``cli`` marker come from copilot-batch's pytest plugin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# copilot-batch's plugin is loaded here as well as by its entry point (which needs an
# install that has it): the entry point bears the module's name, so pytest loads it once
# either way. pytester runs the plugin's own test in a fresh pytest session.
pytest_plugins = ["copilot_batch.testing.plugin", "pytester"]

REPOSITORY = Path(__file__).resolve().parents[1]

# Hypothesis's per-example deadline is a wall-clock assertion: on a machine whose cores are
# busy with other work, examples that take 10 ms on an idle one took over 200 ms and failed.
# Slow generation there is the machine, not the strategy.
settings.register_profile(
    "copilot-batch", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# CI (.ci/run) tries the same examples on every run, so a submission is judged on what it
# changed; runs elsewhere keep exploring new examples.
settings.register_profile("ci", parent=settings.get_profile("copilot-batch"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "copilot-batch"))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # The Copilot SDK runs on asyncio only.
    return "asyncio"


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
