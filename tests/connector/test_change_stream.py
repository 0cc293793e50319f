"""A runtime's change stream (push, ``GET /director/changes``): server-sent events over the runtime's mTLS
connection, telling it that its view changed; only a runtime's valid certificate holds one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from tests.connector.support import REVOKE, Connected, Harness, HarnessFactory, post_graphql
from tests.support import Operator

CHANGES = "/director/changes"
ASSIGN = 'mutation { result: assignFormation(objectID: "%s", objectType: %s, formation: {name: "%s"}) { name } }'
REGISTER_APPLICATION = 'mutation { result: registerApplication(in: {name: "%s"}) { id } }'


class Stream:
    """The events of one open change stream, as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self) -> str | None:
        """The next event's name; None when the stream ended. Comments (heartbeats) are skipped."""
        event = None
        async for line in self._lines:
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line == "" and event is not None:
                return event
        return None


@asynccontextmanager
async def change_stream(client: httpx.AsyncClient) -> AsyncIterator[Stream]:
    async with client.stream("GET", CHANGES, headers={"Accept": "text/event-stream"}) as response:
        yield Stream(response)


async def _runtime_in(connector: Harness, operator: Operator, formation: str) -> Connected:
    runtime = await connector.connect_runtime(operator)
    await operator.query(ASSIGN % (runtime.object_id, "RUNTIME", formation))
    return runtime


async def test_a_runtime_is_told_at_once_that_it_is_subscribed(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())

    async with change_stream(connector.mtls(runtime.credentials)) as stream:
        assert stream.response.headers["content-type"] == "text/event-stream"
        assert await stream.next_event() == "subscribed"


async def test_an_application_joining_the_runtimes_formation_is_pushed(connector: Harness) -> None:
    operator = await connector.operator()
    runtime = await _runtime_in(connector, operator, "DEFAULT")

    async with change_stream(connector.mtls(runtime.credentials)) as stream:
        await stream.next_event()
        application_id = (await operator.query(REGISTER_APPLICATION % "shop"))["result"]["id"]
        await operator.query(ASSIGN % (application_id, "APPLICATION", "DEFAULT"))

        assert await asyncio.wait_for(stream.next_event(), 20) == "changed"


async def test_a_revoked_certificate_is_told_and_its_stream_ends(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())
    client = connector.mtls(runtime.credentials)

    async with change_stream(client) as stream:
        await stream.next_event()
        revoked = await post_graphql(connector.mtls(runtime.credentials), "/connector/graphql", REVOKE)

        ended = await asyncio.wait_for(stream.next_event(), 20)

    assert revoked.result is True
    assert ended is None


async def test_a_stream_ends_once_the_servers_clock_passes_its_certificates_expiry(
    connector_with: HarnessFactory,
) -> None:
    # A short heartbeat: the stream looks at the expiry at each one, with the clock the app judges validity by.
    connector = await connector_with(change_stream_heartbeat_seconds=0.2)
    runtime = await connector.connect_runtime(await connector.operator())

    async with change_stream(connector.mtls(runtime.credentials)) as stream:
        await stream.next_event()
        connector.clock.advance(timedelta(days=3650))

        ended = await asyncio.wait_for(stream.next_event(), 20)

    assert ended is None


async def test_an_operators_token_holds_no_change_stream(connector: Harness) -> None:
    operator = await connector.operator()

    response = await connector.http.get(CHANGES, headers=operator.headers)

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_change_stream_without_a_certificate_is_refused(connector: Harness) -> None:
    response = await connector.http.get(CHANGES)

    assert response.status_code == 401


async def test_a_change_stream_is_read_with_get_only(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())

    response = await connector.mtls(runtime.credentials).post(CHANGES)

    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_a_runtimes_new_stream_ends_its_old_one(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())

    async with change_stream(connector.mtls(runtime.credentials)) as old:
        await old.next_event()
        async with change_stream(connector.mtls(runtime.credentials)) as new:
            subscribed = await new.next_event()

            ended = await asyncio.wait_for(old.next_event(), 20)

    assert (subscribed, ended) == ("subscribed", None)


async def test_streams_past_the_limit_are_refused_so_that_polls_keep_their_connections(
    connector_with: HarnessFactory,
) -> None:
    limited = await connector_with(max_change_streams=1)
    operator = await limited.operator()
    first, second = await limited.connect_runtime(operator), await limited.connect_runtime(operator)

    async with change_stream(limited.mtls(first.credentials)) as held:
        await held.next_event()
        refused = await limited.mtls(second.credentials).get(CHANGES)

    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_CHANGE_STREAMS"
