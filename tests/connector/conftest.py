"""Fixtures of the Connector tests: harnesses on real servers on loopback (HTTP and HTTPS), one per backend and
settings (tests/fixtures/servers.py starts them).

``connector`` is a harness on the default test server; ``connector_with(**settings)`` one on a server started
with those settings (started once per backend and reused). Test servers allow many token calls per second
(tests run back to back from 127.0.0.1); test_abuse_limits.py starts its own with the low limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from kernel.db import Database
from tests.connector.support import Harness, HarnessFactory, harness
from tests.fixtures.servers import StartServer


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
