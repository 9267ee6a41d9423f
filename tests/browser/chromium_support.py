"""Whether the report's browser tests can run here: the system Chromium and Playwright for
Python (where either is missing the tests skip, saying what to install; with
``COPILOT_BATCH_REQUIRE_BROWSER=1``, as in CI, they fail instead), and a page watched while
the tests drive it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Error, Page, Request

REQUIRED = os.environ.get("COPILOT_BATCH_REQUIRE_BROWSER") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip (fail, when the browser is required) the tests for want of ``reason``."""
    if REQUIRED:
        pytest.fail(f"{reason}; COPILOT_BATCH_REQUIRE_BROWSER=1 requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def chromium_executable() -> str:
    """The system Chromium: ``COPILOT_BATCH_CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on PATH. Playwright's own browser download is not used."""
    named = os.environ.get("COPILOT_BATCH_CHROMIUM")
    if named:
        if not os.access(named, os.X_OK):
            unavailable(f"COPILOT_BATCH_CHROMIUM={named} is not an executable file")
        return named
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable(
            "Chromium is not installed (apt-get install chromium, or set COPILOT_BATCH_CHROMIUM)"
        )
    return found


def launch_args() -> list[str]:
    # Chromium refuses to start as root with its own sandbox on (containers, CI runners in
    # Docker); the page is our own file, so running it unsandboxed there is acceptable.
    return ["--no-sandbox"] if os.geteuid() == 0 else []


@dataclass
class WatchedPage:
    """A browser page and what it did: the URLs it requested and its console errors."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_page_error(self, error: Error) -> None:
        self.console_errors.append(f"uncaught: {error.message}")
