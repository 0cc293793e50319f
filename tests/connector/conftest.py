"""Fixtures of the Connector tests: real servers on loopback (HTTP and HTTPS), one per backend and settings.

``connector`` is a harness on the default test server; ``connector_with(**settings)`` one on a server started
with those settings (started once per backend and reused). Test servers allow many token calls per second
(tests run back to back from 127.0.0.1); test_abuse_limits.py starts its own with the low limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.settings import Settings
from tests.connector.support import Harness, HarnessFactory, RunningServer, harness

TEST_SERVER_SETTINGS: dict[str, Any] = {"redemptions_per_second": 10_000}

StartServer = Callable[..., RunningServer]


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="session")
def start_server(
    settings: Settings, ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartServer]:
    """Starts (once per backend and settings) a server with TEST_SERVER_SETTINGS updated by the given ones."""
    servers: dict[tuple[tuple[str, str], ...], RunningServer] = {}

    def start(**overrides: Any) -> RunningServer:
        update = {**TEST_SERVER_SETTINGS, **overrides}
        key = tuple(sorted((name, repr(value)) for name, value in update.items()))
        if key not in servers:
            data_dir = tmp_path_factory.mktemp("connector-server")
            servers[key] = RunningServer.start(settings, data_dir, ca, **update)
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture
async def connector_with(
    start_server: StartServer, database: Database, tmp_path: Path
) -> AsyncIterator[HarnessFactory]:
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Harness:
            return await stack.enter_async_context(harness(start_server(**overrides), database, tmp_path))

        yield make


@pytest.fixture
async def connector(connector_with: HarnessFactory) -> Harness:
    return await connector_with()
