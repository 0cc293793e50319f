"""A real pycompass server on loopback, an operator of it, and Debian's Chromium driven by Playwright.

The browser adds nothing per database, so these tests run on one SQLite file of their own and not on the
``backend``-parametrized fixtures. Chromium is Debian's ``/usr/bin/chromium`` (``scripts/install-browser.sh``,
which ``make test`` runs); Playwright's own browser download is never used. Each test gets a fresh browser
with a new empty profile, started with the flags this machine needs (no sandbox as root, and no background
networking: the closed network would refuse its connections).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, ViewportSize, async_playwright

from compass import migrate
from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.graphiql import assets
from kernel.settings import Settings
from tests.connector.support import RunningServer
from tests.support import Operator, TenantFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (`make test` runs it)")
    return CHROMIUM


@pytest.fixture(scope="session")
def vendored_graphiql() -> None:
    missing = [str(item.local_path()) for item in assets.required_files() if not assets.is_intact(item)]
    if missing:
        pytest.fail(f"GraphiQL's vendored files are missing, run `python -m kernel.graphiql.assets`: {missing}")


@pytest.fixture(scope="session")
async def browser_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("browser")
    url = f"sqlite+aiosqlite:///{directory / 'compass.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    return Settings(data_dir=directory / "data", database_url=url, log_json=False)


@pytest.fixture(scope="session")
def server(browser_settings: Settings, vendored_graphiql: None) -> Iterator[RunningServer]:
    """``compass serve``'s listeners on loopback, in a thread of their own."""
    running = RunningServer.start(
        browser_settings, browser_settings.data_dir, CertificateAuthority.generate()
    )
    yield running
    running.stop()


@pytest.fixture
async def browser_operator(server: RunningServer) -> AsyncIterator[Operator]:
    """An operator with every scope in a fresh tenant, talking to the running server."""
    database = Database(server.settings.effective_database_url)
    try:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            yield await TenantFactory(server.settings, database, client).operator()
    finally:
        await database.dispose()


@pytest.fixture
async def browser(chromium: Path, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a new empty profile under the test's directory."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "profile",
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def page(browser: BrowserContext) -> Page:
    return browser.pages[0] if browser.pages else await browser.new_page()
