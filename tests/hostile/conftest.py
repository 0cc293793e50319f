"""Fixtures and checks of the hostile-input suites: the real app in-process, and what every answer must look like.

The app under attack is ``create_app`` over ASGI with the token-call rate raised (the fuzzers send thousands of
garbage ``Connector-Token`` calls from one address) and ``raise_app_exceptions=False``, so that a crash shows up as
the 500 a client would get instead of an exception inside the test. Every answer, however hostile the request,
must be a well-formed GraphQL response or a 4xx with a clear message: ``assert_well_formed``. What only a real
server shows (a stalled event loop, a client hanging up) runs against ``hostile_server``, the same settings in
tests/connector/support.py's ``RunningServer``.

The number of fuzz cases sent is counted per suite and backend and printed at the end of the run.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

import compass
import connector
import director
from compass.app import create_app
from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.errors import CompassError
from kernel.settings import Settings
from tests.connector.support import Harness, RunningServer, harness
from tests.support import Operator, TenantFactory

DIRECTOR = "/director/graphql"
CONNECTOR = "/connector/graphql"
JSON_CONTENT = {"Content-Type": "application/json; charset=utf-8"}

# The fuzzers send thousands of token calls from one address; the rate limit has its own tests.
HOSTILE_SETTINGS: dict[str, Any] = {"redemptions_per_second": 1_000_000}

GRAPHQL_CODES = frozenset({"QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "FORBIDDEN"})
STACK_TRACE_MARKERS = ("Traceback", 'File "')

FUZZ_CASES: Counter[str] = Counter()
"""Cases sent per "<suite> [<backend>]"; printed by pytest_terminal_summary."""


def _compass_error_codes() -> frozenset[str]:
    """Every code a CompassError subclass carries, once all modules that define them are imported."""
    for package in (compass, connector, director):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(("__main__", ".cli")):
                importlib.import_module(module.name)
    codes: set[str] = set()
    pending: list[type[CompassError]] = [CompassError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return frozenset(codes)


KNOWN_CODES = (_compass_error_codes() | GRAPHQL_CODES) - {"INTERNAL"}
"""The stable codes an answer may carry; INTERNAL (a masked crash) is a bug wherever it shows up."""


def count_case(suite: str, backend: str) -> None:
    FUZZ_CASES[f"{suite} [{backend}]"] += 1


def assert_well_formed(response: httpx.Response) -> None:
    """A GraphQL answer (``data``, errors with a known code) or a 4xx with a message; no 5xx, no stack trace."""
    text = response.text
    where = f"{response.request.method} {response.request.url.path} answered {response.status_code}: {text[:600]!r}"
    assert response.status_code < 500, where
    assert not any(marker in text for marker in STACK_TRACE_MARKERS), where
    if not response.headers.get("content-type", "").startswith("application/json"):
        assert 400 <= response.status_code < 500, where
        assert text.strip(), where
        return
    body = response.json()
    assert isinstance(body, dict), where
    assert "data" in body, where
    assert set(body) <= {"data", "errors", "extensions"}, where
    errors = body.get("errors")
    if response.status_code != 200:
        assert errors, where
    if errors is None:
        return
    assert isinstance(errors, list) and errors, where
    for error in errors:
        assert isinstance(error.get("message"), str) and error["message"], where
        code = (error.get("extensions") or {}).get("code")
        assert code in KNOWN_CODES, f"code {code!r}; {where}"


def error_codes(response: httpx.Response) -> list[str]:
    body = response.json()
    return [error["extensions"]["code"] for error in body.get("errors") or []]


# --- memory -----------------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert match is not None, f"/proc/self/status has no {field}"
    return int(match.group(1))


def resident_kib() -> int:
    """The test process's resident set: the app runs in this process, over ASGI."""
    return _status_kib("VmRSS")


def peak_resident_kib() -> int:
    return _status_kib("VmHWM")


def reset_peak_resident() -> bool:
    """Resets VmHWM to the current RSS (Linux ≥ 4.0); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- the app under attack ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hostile_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=HOSTILE_SETTINGS)


@pytest.fixture(scope="session")
async def hostile_app(hostile_settings: Settings, database: Database) -> AsyncIterator[object]:
    application = create_app(hostile_settings, database)
    async with LifespanManager(application) as manager:
        yield manager.app


@pytest.fixture
async def hostile_client(hostile_app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hostile_app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
        yield client


@pytest.fixture
async def attacker(hostile_settings: Settings, database: Database, hostile_client: httpx.AsyncClient) -> Operator:
    """An operator with every scope in a fresh tenant, talking to the app under attack."""
    return await TenantFactory(hostile_settings, database, hostile_client).operator()


@pytest.fixture(scope="session")
def hostile_server(
    hostile_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The app in a real server (its own thread and loop, real sockets, mTLS): for what only a server shows, such
    as a listener that stops answering or a client that hangs up mid-request."""
    server = RunningServer.start(
        hostile_settings, tmp_path_factory.mktemp("hostile-server"), CertificateAuthority.generate()
    )
    yield server
    server.stop()


@pytest.fixture
async def server(hostile_server: RunningServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(hostile_server, database, tmp_path) as subject:
        yield subject


@pytest.fixture
def sqlite_only(backend: str) -> str:
    if backend != "sqlite":
        pytest.skip("the full fuzz run is on SQLite; PostgreSQL gets a sample (test_*_sample_on_postgresql)")
    return backend


@pytest.fixture
def postgresql_only(backend: str) -> str:
    if backend != "postgresql":
        pytest.skip("the PostgreSQL sample; SQLite runs the full fuzz suite")
    return backend


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FUZZ_CASES:
        return
    terminalreporter.section("hostile input: fuzz cases run")
    for suite, count in sorted(FUZZ_CASES.items()):
        terminalreporter.write_line(f"{count:7d}  {suite}")
    terminalreporter.write_line(f"{sum(FUZZ_CASES.values()):7d}  in all")
