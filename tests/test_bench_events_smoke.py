"""bench/events.py end to end at tiny durations, and its baseline in process. They keep the benchmark from rotting:
they assert what the output holds (a row per server, every section, the goal with its verdict), never a figure.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.events import CLOSED_HEADER, FIXED_HEADER, ROUNDS_HEADER, parse_options
from bench.events_baseline import ACCEPTED, app
from testing.nats import nats_server_binary
from tests.bench_support import bench_output, section

TINY = ["--duration", "0.3", "--warmup", "0.1", "--concurrency", "2", "--repeat", "2"]
# NATS is measured where nats-server is installed (make test installs it), and reported as skipped elsewhere.
MEASURED = ["embedded", "nats"] if nats_server_binary() is not None else ["embedded"]


@pytest.fixture(scope="module")
def output() -> str:
    """What `python bench/events.py` prints for both backends."""
    return bench_output("bench/events.py", "--backends", "embedded,nats", *TINY)


@pytest.fixture
async def baseline() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://baseline"
    ) as client:
        yield client


def test_the_closed_loop_table_has_the_baseline_and_a_row_per_backend(output: str) -> None:
    rows = section(output, CLOSED_HEADER)
    assert [row.split()[0] for row in rows] == ["baseline", *MEASURED]


def test_the_open_loop_table_has_a_row_per_backend(output: str) -> None:
    rows = section(output, FIXED_HEADER)
    assert [row.split()[0] for row in rows] == MEASURED


def test_the_delivery_of_every_accepted_event_is_reported_per_backend(output: str) -> None:
    lines = section(output, "every accepted event delivered:")
    assert [line.split(":")[0].strip() for line in lines] == MEASURED


def test_the_goal_is_reported_with_its_ratio_and_verdict(output: str) -> None:
    [goal] = section(output, "goal (issue 12):")
    assert re.search(
        r"on the embedded backend, durability on, median of 2 rounds \([\d. ]+\): \d+\.\d\d \((met|NOT met)\)$",
        goal,
    )


def test_the_events_per_commit_are_accounted_for(output: str) -> None:
    assert "events per SQLite commit:" in output


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_options(["--backends", "kafka"])


async def test_the_baseline_accepts_a_legacy_event_with_the_ingress_answers_shape(
    baseline: httpx.AsyncClient,
) -> None:
    answer = await baseline.post("/bench/v1/events", json={"event-type": "order.created"})
    assert (answer.status_code, answer.content) == (200, ACCEPTED)


async def test_the_baseline_takes_only_posts(baseline: httpx.AsyncClient) -> None:
    answer = await baseline.get("/bench/v1/events")
    assert answer.status_code == 405


def test_each_further_round_of_repeat_is_listed(output: str) -> None:
    rows = section(output, ROUNDS_HEADER)
    assert [row.split(":")[0].strip() for row in rows] == ["round 2"]
