"""Fixtures of the report's browser tests: the system Chromium driven headless by Playwright,
and a page that records every request it makes and every console error, and leaves a
screenshot in the test's ``tmp_path`` (CI keeps pytest's temporary folders as artifacts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from chromium_support import WatchedPage, chromium_executable, launch_args, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Chromium, headless, for one test module (Playwright's sync API keeps its own event
    loop; it lives only while the module's tests run)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=launch_args()
        )
        yield browser
        browser.close()


@pytest.fixture
def watched_page(chromium: Browser, tmp_path: Path) -> Iterator[WatchedPage]:
    """A fresh page whose requests and console errors are recorded; when the test ends its
    screenshot is saved as ``tmp_path/screenshot.png``, pass or fail."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    watched = WatchedPage(context.new_page())
    watched.page.on("request", watched._on_request)
    watched.page.on("console", watched._on_console)
    watched.page.on("pageerror", watched._on_page_error)
    try:
        yield watched
    finally:
        watched.page.screenshot(path=tmp_path / "screenshot.png", full_page=True)
        context.close()
