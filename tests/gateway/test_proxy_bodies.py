"""Big bodies stream through the served gateway in both directions: every byte arrives, and the gateway's memory
does not grow with the body. Each test has a gateway of its own, so no other traffic moves its peak."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testing.applications import api_entry, application, service
from testing.gateway import ServedGateway
from testing.upstream import UpstreamStandIn
from tests.fixtures.gateway import StartGateway

BIG = 100 * 1024 * 1024
CHUNK = 64 * 1024
# Far below the body, far above what a few buffers in flight take.
MEMORY_GROWTH_LIMIT = 60 * 1024 * 1024
APPLICATION = "bodies"


@pytest.fixture
def quiet_gateway(
    gateway_factory: StartGateway, upstream_stand_in: UpstreamStandIn
) -> Iterator[ServedGateway]:
    """A gateway of the test's own with one API on the stand-in, warmed up by a first call."""
    served = gateway_factory()
    target = api_entry("api", upstream_stand_in.http_url)
    served.manifests.put(application(APPLICATION, service("api", target)))
    assert httpx.get(url(served, "source/1")).content == b"x"
    yield served
    served.process.stop()


def url(gateway: ServedGateway, path: str) -> str:
    return f"{gateway.standalone_url}/{APPLICATION}/api/{path}"


def peak_memory(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def chunks(total: int) -> Iterator[bytes]:
    for start in range(0, total, CHUNK):
        yield b"u" * min(CHUNK, total - start)


def test_a_100_mb_upload_streams_through_in_bounded_memory(quiet_gateway: ServedGateway) -> None:
    before = peak_memory(quiet_gateway.process.pid)

    answer = httpx.post(url(quiet_gateway, "sink"), content=chunks(BIG), timeout=120)

    assert answer.status_code == 200, answer.text
    assert int(answer.text) == BIG
    assert peak_memory(quiet_gateway.process.pid) - before < MEMORY_GROWTH_LIMIT


def test_a_100_mb_download_streams_through_in_bounded_memory(quiet_gateway: ServedGateway) -> None:
    before = peak_memory(quiet_gateway.process.pid)
    received = 0

    with httpx.stream("GET", url(quiet_gateway, f"source/{BIG}"), timeout=120) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-length"] == str(BIG)
        for chunk in answer.iter_raw():
            received += len(chunk)

    assert received == BIG
    assert peak_memory(quiet_gateway.process.pid) - before < MEMORY_GROWTH_LIMIT
