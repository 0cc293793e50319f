"""bench/gateway.py end to end at tiny durations, and its target in process. They keep the benchmark from rotting:
they assert what the output holds (a row per case, every section, the token kept), never a figure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bench.gateway import (
    CLOSED_HEADER,
    FIXED_HEADER,
    MEMORY_HEADER,
    PROFILE_TOP,
    parse_options,
)
from bench.gateway_target import BLOCK, CLIENT_ID, PASSWORD, TOKEN, USER, app, basic
from tests.bench_support import bench_output, section

CASES = ("basic-1k", "oauth-1m")
TINY = ["--duration", "0.3", "--warmup", "0.1", "--concurrency", "2", "--stream-mb", "2"]


@pytest.fixture(scope="module")
def output() -> str:
    """What `python bench/gateway.py` prints for one case of each kind of credentials and each size."""
    return bench_output("bench/gateway.py", "--cases", ",".join(CASES), *TINY)


@pytest.fixture
async def target() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://target") as client:
        yield client


def test_the_closed_loop_table_has_a_row_per_case(output: str) -> None:
    rows = section(output, CLOSED_HEADER)
    assert [row.split()[0] for row in rows] == list(CASES)


def test_the_open_loop_table_has_a_row_per_case(output: str) -> None:
    rows = section(output, FIXED_HEADER)
    assert [row.split()[0] for row in rows] == list(CASES)


def test_the_memory_table_has_a_download_and_an_upload_of_the_streamed_size(output: str) -> None:
    rows = section(output, MEMORY_HEADER)
    assert [row.split("|")[0].strip() for row in rows] == ["download 2 MiB", "upload 2 MiB"]


def test_the_gateway_fetched_one_oauth_token_for_the_whole_run(output: str) -> None:
    assert "the target issued 2 tokens in the whole run: 1 to the bench" in output


def test_every_goal_is_reported(output: str) -> None:
    goals = section(output, "goals (issue 11):")
    assert [goal.split()[0] for goal in goals] == ["gateway", "(the", "added", "memory"]


def test_the_gateway_is_compared_with_a_bare_forwarder_too(output: str) -> None:
    goals = section(output, "goals (issue 11):")
    assert goals[1].strip().startswith("(the bare forwarder on the same stack reaches:")


def test_the_profile_lists_the_top_functions_by_self_time(output: str) -> None:
    profile = output.split("--- profile:", 1)[1]
    assert len(section(profile, f"top {PROFILE_TOP} functions by self time:")) == PROFILE_TOP


def test_an_unknown_case_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_options(["--cases", "digest-1k"])


async def test_the_target_refuses_a_call_without_credentials(target: httpx.AsyncClient) -> None:
    answer = await target.get("/bytes/10")
    assert answer.status_code == 401


async def test_the_target_answers_the_bytes_asked_for_to_basic_credentials(target: httpx.AsyncClient) -> None:
    answer = await target.get("/bytes/10", headers={"Authorization": basic(USER, PASSWORD)})
    assert (answer.status_code, len(answer.content)) == (200, 10)


async def test_the_target_streams_an_answer_larger_than_its_block(target: httpx.AsyncClient) -> None:
    answer = await target.get(f"/bytes/{BLOCK + 10}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (answer.status_code, len(answer.content)) == (200, BLOCK + 10)


async def test_the_target_answers_an_upload_with_its_length(target: httpx.AsyncClient) -> None:
    answer = await target.post("/sink", content=b"x" * 1000, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.text == "1000"


async def test_the_target_refuses_a_token_to_a_wrong_client_secret(target: httpx.AsyncClient) -> None:
    headers = {"Authorization": basic(CLIENT_ID, "wrong")}
    answer = await target.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert answer.status_code == 401
