"""Fixtures of the security suite: a real server (HTTP and HTTPS with client certificates) that trusts one proxy
address, and the access matrix the tests fill in and the end of the run prints.

The server is tests/connector/support.py's ``RunningServer``, started once per backend with
``trusted_proxies=["127.0.0.1"]``: the spoofed X-Forwarded-Client-Cert comes from 127.0.0.2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kernel.db import Database
from tests.connector.support import Harness, harness
from tests.fixtures.servers import StartServer
from tests.security.support import MATRIX, SERVER_SETTINGS, table


@pytest.fixture
async def server(start_server: StartServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(start_server(**SERVER_SETTINGS), database, tmp_path) as subject:
        yield subject


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for backend, cells in MATRIX.items():
        terminalreporter.section(f"security: access matrix [{backend}]")
        for line in table(cells):
            terminalreporter.write_line(line)
