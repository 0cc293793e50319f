"""What every answer of the hostile-input suites must look like (``assert_well_formed``), the codes it may carry,
the fuzz cases counted per suite, and this process's memory (the app under attack runs in it, over ASGI)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

import compass
import connector
import director
from kernel.errors import CompassError

DIRECTOR = "/director/graphql"
CONNECTOR = "/connector/graphql"
JSON_CONTENT = {"Content-Type": "application/json; charset=utf-8"}

# The fuzzers send thousands of token calls from one address; the rate limit has its own tests.
HOSTILE_SETTINGS: dict[str, Any] = {"redemptions_per_second": 1_000_000}

GRAPHQL_CODES = frozenset(
    {"QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "FORBIDDEN"}
)
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
