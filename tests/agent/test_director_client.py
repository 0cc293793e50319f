"""DirectorClient: the whole applicationsForRuntime view over mTLS, or SyncFailed; runtime labels.

The first group runs against a real ``compass serve`` (HTTP + HTTPS with client certificates, both backends)
and a runtime connected through the real Connector. The second group uses ``httpx.MockTransport`` only for
answers a correct server cannot be made to give (malformed or partial page sequences, and 304s while the
server's ETag support is still being built): each says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent.director_client import DirectorClient
from agent.errors import DirectorError, SyncFailed
from testing.ports import free_port, loopback_socket
from tests.agent.support import Scenario
from tests.connector.support import REGISTER_RUNTIME

# --- against a real server ----------------------------------------------------------------------------------


async def test_fetch_returns_the_applications_of_the_runtimes_formations_and_its_labels(
    scenario: Scenario,
) -> None:
    # given
    first, _ = await scenario.add_application()
    second, _ = await scenario.add_application(bundles=2)
    await scenario.add_application(in_formation=False)
    director = scenario.director()

    # when
    result = await director.fetch_applications(scenario.runtime_id)
    await director.aclose()

    # then
    assert result is not None
    assert sorted(application["id"] for application in result.applications) == sorted([first, second])
    assert result.runtime_labels["scenarios"] == [scenario.formation]
    bundles = {application["id"]: application["bundles"]["totalCount"] for application in result.applications}
    assert bundles == {first: 1, second: 2}


async def test_fetch_follows_the_pages_until_the_last(scenario: Scenario) -> None:
    # given five applications and pages of two
    ids = sorted([(await scenario.add_application(bundles=0))[0] for _ in range(5)])
    director = scenario.director(page_size=2)

    # when
    result = await director.fetch_applications(scenario.runtime_id)
    await director.aclose()

    # then
    assert result is not None
    assert sorted(application["id"] for application in result.applications) == ids


async def test_an_unchanged_view_is_not_fetched_again_when_the_director_sends_an_etag(
    scenario: Scenario,
) -> None:
    # given
    await scenario.add_application()
    director = scenario.director()
    first = await director.fetch_applications(scenario.runtime_id)
    assert first is not None

    # when
    second = await director.fetch_applications(scenario.runtime_id)
    await director.aclose()

    # then: a Director with ETags answers 304 (None); one without answers the same view again
    if first.etag is not None:
        assert second is None
        assert director.last_result is first
    else:
        assert second is not None
        assert second.applications == first.applications


async def test_a_new_application_is_seen_by_the_next_fetch(scenario: Scenario) -> None:
    # given
    director = scenario.director()
    await director.fetch_applications(scenario.runtime_id)
    added, _ = await scenario.add_application()

    # when
    result = await director.fetch_applications(scenario.runtime_id)
    await director.aclose()

    # then
    assert result is not None
    assert [application["id"] for application in result.applications] == [added]


async def test_an_error_answer_raises_sync_failed_with_the_directors_code(scenario: Scenario) -> None:
    # given a runtime this certificate does not belong to
    data = await scenario.operator.query(REGISTER_RUNTIME, {"in": {"name": "another-runtime"}})
    director = scenario.director()

    # when
    with pytest.raises(SyncFailed) as failure:
        await director.fetch_applications(str(data["result"]["id"]))
    await director.aclose()

    # then
    assert failure.value.code == "FORBIDDEN"


@pytest.fixture
def closed_port() -> int:
    return free_port()


async def test_an_unreachable_director_raises_sync_failed(scenario: Scenario, closed_port: int) -> None:
    # given
    director = DirectorClient(
        f"https://127.0.0.1:{closed_port}/director/graphql",
        cert_file=scenario.runtime.credentials.chain_file,
        key_file=scenario.runtime.credentials.key_file,
        ca_file=scenario.ca_file,
    )

    # when / then
    with pytest.raises(SyncFailed, match="unreachable"):
        await director.fetch_applications(scenario.runtime_id)
    await director.aclose()


async def test_a_director_that_does_not_answer_in_time_raises_sync_failed(scenario: Scenario) -> None:
    # given a listener that accepts connections (in its backlog) and never answers
    with loopback_socket() as silent:
        silent.listen(8)
        director = DirectorClient(
            f"https://127.0.0.1:{silent.getsockname()[1]}/director/graphql",
            cert_file=scenario.runtime.credentials.chain_file,
            key_file=scenario.runtime.credentials.key_file,
            ca_file=scenario.ca_file,
            timeout=0.3,
        )

        # when / then
        with pytest.raises(SyncFailed, match="did not answer"):
            await director.fetch_applications(scenario.runtime_id)
        await director.aclose()


async def test_a_runtime_label_set_by_the_agent_is_read_back(scenario: Scenario) -> None:
    # given
    director = scenario.director()

    # when
    await director.set_runtime_label(scenario.runtime_id, "runtime_eventServiceUrl", "https://gateway")
    labels = await director.runtime_labels(scenario.runtime_id)
    await director.aclose()

    # then
    assert labels["runtime_eventServiceUrl"] == "https://gateway"
    assert labels["scenarios"] == [scenario.formation]


async def test_setting_the_scenarios_label_is_refused_with_a_director_error(scenario: Scenario) -> None:
    director = scenario.director()

    with pytest.raises(DirectorError) as failure:
        await director.set_runtime_label(scenario.runtime_id, "scenarios", ["DEFAULT"])
    await director.aclose()

    assert failure.value.code is not None
    assert not isinstance(failure.value, SyncFailed)


# --- answers a correct server does not give (httpx.MockTransport) -------------------------------------------

RUNTIME_ID = "4b0c7f2e-0000-4000-8000-000000000001"
LAST_PAGE = {"startCursor": "", "endCursor": "", "hasNextPage": False}
EMPTY_PAGE = {"data": [], "pageInfo": LAST_PAGE, "totalCount": 0}


def application(identifier: str, *, bundles: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": identifier,
        "name": f"mp-{identifier}",
        "description": None,
        "auths": [],
        "bundles": bundles or EMPTY_PAGE,
    }


def page(applications: list[dict[str, Any]], *, total: int, cursor: str = "") -> dict[str, Any]:
    info = {"startCursor": "", "endCursor": cursor, "hasNextPage": bool(cursor)}
    result = {"data": applications, "pageInfo": info, "totalCount": total}
    return {"data": {"runtime": {"labels": {}}, "result": result}}


Answer = Callable[[httpx.Request, dict[str, Any]], httpx.Response]


class Recorder:
    """A scripted Director: answers the n-th request with ``answers[n]``; keeps the requests."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[len(self.requests) - 1](request, json.loads(request.content))

    def client(self) -> DirectorClient:
        """Pages of one, as scripted: asking 200, a client must not need a second page for 2 applications."""
        return DirectorClient(
            "https://director.invalid/director/graphql",
            cert_file=None,  # type: ignore[arg-type]
            key_file=None,  # type: ignore[arg-type]
            ca_file=None,  # type: ignore[arg-type]
            page_size=1,
            transport=httpx.MockTransport(self),
            request_id_prefix="test-agent",
        )


def body(content: dict[str, Any], *, status: int = 200, etag: str | None = None) -> Answer:
    headers = {"ETag": etag} if etag else {}
    return lambda request, payload: httpx.Response(status, json=content, headers=headers)


def not_modified() -> Answer:
    return lambda request, payload: httpx.Response(304)


async def test_requests_carry_a_request_id_and_the_page_variables() -> None:
    """MockTransport: to see the exact requests the client sends."""
    director = Recorder(
        [body(page([application("a")], total=2, cursor="c1")), body(page([application("b")], total=2))]
    )

    await director.client().fetch_applications(RUNTIME_ID)

    first, second = director.requests
    assert first.headers["x-request-id"].startswith("test-agent-")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    variables = [json.loads(request.content)["variables"] for request in director.requests]
    assert variables == [
        {"runtimeID": RUNTIME_ID, "first": 1, "after": None},
        {"runtimeID": RUNTIME_ID, "first": 1, "after": "c1"},
    ]


async def test_a_page_with_errors_fails_the_whole_fetch() -> None:
    """MockTransport: a real server cannot be made to fail on the second page only."""
    failing = {"data": None, "errors": [{"message": "boom", "extensions": {"code": "INTERNAL"}}]}
    director = Recorder([body(page([application("a")], total=2, cursor="c1")), body(failing)])

    with pytest.raises(SyncFailed, match="boom") as failure:
        await director.client().fetch_applications(RUNTIME_ID)

    assert failure.value.code == "INTERNAL"


async def test_a_missing_page_fails_the_whole_fetch() -> None:
    """MockTransport: the second page answers 502 without a GraphQL body, as a proxy in between would."""
    director = Recorder(
        [body(page([application("a")], total=2, cursor="c1")), lambda request, payload: httpx.Response(502)]
    )

    with pytest.raises(SyncFailed, match="HTTP 502"):
        await director.client().fetch_applications(RUNTIME_ID)


async def test_a_total_count_that_changes_between_pages_fails_the_fetch() -> None:
    """MockTransport: the list changing between two page requests cannot be timed against a real server."""
    director = Recorder(
        [body(page([application("a")], total=2, cursor="c1")), body(page([application("b")], total=3))]
    )

    with pytest.raises(SyncFailed, match="changed while paging"):
        await director.client().fetch_applications(RUNTIME_ID)


async def test_pages_that_hold_fewer_applications_than_counted_fail_the_fetch() -> None:
    """MockTransport: a malformed sequence."""
    director = Recorder([body(page([application("a")], total=2))])

    with pytest.raises(SyncFailed, match="counted 2"):
        await director.client().fetch_applications(RUNTIME_ID)


async def test_a_page_that_promises_more_without_a_cursor_fails_the_fetch() -> None:
    """MockTransport: a malformed page."""
    answer = page([application("a")], total=2)
    answer["data"]["result"]["pageInfo"]["hasNextPage"] = True
    director = Recorder([body(answer)])

    with pytest.raises(SyncFailed, match="no new cursor"):
        await director.client().fetch_applications(RUNTIME_ID)


async def test_a_bundle_list_longer_than_one_page_fails_the_fetch() -> None:
    """MockTransport: more than 200 bundles in one application is slow to build for real."""
    bundles = {**EMPTY_PAGE, "totalCount": 201, "pageInfo": {**LAST_PAGE, "hasNextPage": True}}
    director = Recorder([body(page([application("a", bundles=bundles)], total=1))])

    with pytest.raises(SyncFailed, match="bundles of application a"):
        await director.client().fetch_applications(RUNTIME_ID)


async def test_a_304_to_the_etag_of_the_last_fetch_returns_none() -> None:
    """MockTransport: the server's ETag support is being built in parallel; this pins the client's side."""
    director = Recorder([body(page([application("a")], total=1), etag='"v1"'), not_modified()])
    client = director.client()
    first = await client.fetch_applications(RUNTIME_ID)

    second = await client.fetch_applications(RUNTIME_ID)

    assert "if-none-match" not in director.requests[0].headers
    assert director.requests[1].headers["if-none-match"] == '"v1"'
    assert second is None
    assert client.last_result is first


async def test_only_the_first_page_is_conditional() -> None:
    """MockTransport: as above."""
    director = Recorder(
        [
            body(page([application("a")], total=1), etag='"v1"'),
            body(page([application("a")], total=2, cursor="c1"), etag='"v2"'),
            body(page([application("b")], total=2)),
        ]
    )
    client = director.client()
    await client.fetch_applications(RUNTIME_ID)

    result = await client.fetch_applications(RUNTIME_ID)

    assert [request.headers.get("if-none-match") for request in director.requests] == [None, '"v1"', None]
    assert result is not None
    assert result.etag == '"v2"'


async def test_a_failed_fetch_keeps_the_etag_of_the_last_complete_one() -> None:
    """MockTransport: a failure after a changed first page must not make the next poll look unchanged."""
    director = Recorder(
        [
            body(page([application("a")], total=1), etag='"v1"'),
            body(page([application("a")], total=2, cursor="c1"), etag='"v2"'),
            lambda request, payload: httpx.Response(502),
            not_modified(),
        ]
    )
    client = director.client()
    await client.fetch_applications(RUNTIME_ID)
    with pytest.raises(SyncFailed):
        await client.fetch_applications(RUNTIME_ID)

    await client.fetch_applications(RUNTIME_ID)

    assert director.requests[3].headers["if-none-match"] == '"v1"'


async def test_a_304_to_an_unconditional_request_fails_the_fetch() -> None:
    """MockTransport: a broken server or proxy."""
    director = Recorder([not_modified()])

    with pytest.raises(SyncFailed, match="unconditional"):
        await director.client().fetch_applications(RUNTIME_ID)
