"""Fixtures of the security suite: a real server (HTTP and HTTPS with client certificates) that trusts one proxy
address, and the access matrix the tests fill in and the end of the run prints.

The server is tests/connector/support.py's ``RunningServer``, started once per backend with
``trusted_proxies=["127.0.0.1"]``: the spoofed X-Forwarded-Client-Cert comes from 127.0.0.2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.settings import Settings
from tests.connector.support import Harness, RunningServer, harness

TRUSTED_PROXY = "127.0.0.1"
UNTRUSTED_ADDRESS = "127.0.0.2"
SERVER_SETTINGS: dict[str, Any] = {"redemptions_per_second": 10_000, "trusted_proxies": [TRUSTED_PROXY]}


@dataclass(frozen=True)
class Cell:
    """What one attack on one operation got: refused (how), or not."""

    refused: bool
    outcome: str


MATRIX: dict[str, dict[tuple[str, str], Cell]] = {}
"""backend → (operation, case) → cell; filled by test_access_matrix.py, printed by pytest_terminal_summary."""


def record(backend: str, operation: str, case: str, cell: Cell) -> None:
    MATRIX.setdefault(backend, {})[(operation, case)] = cell


@pytest.fixture(scope="session")
def security_ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="session")
def security_server(
    settings: Settings, security_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    server = RunningServer.start(settings, tmp_path_factory.mktemp("security-server"), security_ca, **SERVER_SETTINGS)
    yield server
    server.stop()


@pytest.fixture
async def server(security_server: RunningServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(security_server, database, tmp_path) as subject:
        yield subject


def _table(cells: dict[tuple[str, str], Cell]) -> list[str]:
    operations = list(dict.fromkeys(operation for operation, _ in cells))
    cases = list(dict.fromkeys(case for _, case in cells))
    widths = [max(len(case), *(len(cells[(operation, case)].outcome) for operation in operations if (operation, case) in cells)) for case in cases]
    first = max(len(operation) for operation in operations)
    lines = [" | ".join([" " * first, *(case.ljust(width) for case, width in zip(cases, widths, strict=True))])]
    lines.append("-+-".join(["-" * first, *("-" * width for width in widths)]))
    for operation in operations:
        row = [cells[(operation, case)].outcome if (operation, case) in cells else "(not run)" for case in cases]
        lines.append(" | ".join([operation.ljust(first), *(text.ljust(width) for text, width in zip(row, widths, strict=True))]))
    refused = sum(cell.refused for cell in cells.values())
    lines.append(f"{len(operations)} operations x {len(cases)} cases = {len(cells)} cells, {refused} refused")
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for backend, cells in MATRIX.items():
        terminalreporter.section(f"security: access matrix [{backend}]")
        for line in _table(cells):
            terminalreporter.write_line(line)
