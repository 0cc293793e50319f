"""Push end to end: the agent's loop (``Agent.run``) holding the Director's change stream, against a real pycompass
server over mTLS, or a stand-in Director without push. The sync period is an hour wherever a change must arrive
by push: only the stream can bring it within a test's wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

import agent.push
from agent.connection import Connection
from agent.director_client import DirectorClient, mtls_context
from agent.loop import Agent, default_director
from agent.settings import AgentSettings
from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.settings import Settings
from testing.waiting import wait_until
from tests.agent.support import Landscape, StandInDirector, make_landscape
from tests.connector.support import TEST_SERVER_SETTINGS, RunningServer, harness

HOUR = 3600.0
Logs = list[MutableMapping[str, Any]]


def manifest_of(name: str) -> str:
    return f"application-mp-{name}.yaml"


def count(logs: Logs, event: str) -> int:
    return sum(1 for entry in logs if entry["event"] == event)


def without_keep_alive(connection: Connection, settings: AgentSettings) -> DirectorClient:
    """The agent's sync client, closing each connection after its request. An idle keep-alive TLS connection of
    an httpx client (which reads nothing until its next request) holds uvicorn's shutdown until the TLS close
    times out (30 s): longer than a test server's stop() waits. The change stream is the agent's own."""
    store = connection.store
    context = mtls_context(store.chain_file, store.key_file, store.ca_file)
    transport = httpx.AsyncHTTPTransport(verify=context, limits=httpx.Limits(max_keepalive_connections=0))
    return default_director(connection, settings, transport=transport)


@asynccontextmanager
async def running(subject: Agent) -> AsyncIterator[None]:
    """The agent's loop in a task for the block; stopped (and its stream closed) at the end."""
    stop = asyncio.Event()
    task = asyncio.create_task(subject.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_an_operator_change_reaches_the_manifests_without_waiting_for_the_period(
    landscape: Landscape,
) -> None:
    # given an agent that synced and holds the stream, with an hour until its next sync
    landscape.overrides = {"sync_period": HOUR}
    await landscape.application("shop")
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent() as subject, running(subject):
            await wait_until(lambda: count(logs, "push_subscribed") == 1, what="the stream subscribed")
            await wait_until(lambda: manifest_of("shop") in landscape.manifests(), what="the first sync")

            # when
            await landscape.application("billing")

            # then
            await wait_until(
                lambda: manifest_of("billing") in landscape.manifests(),
                what="the pushed change in the manifests",
            )
    assert sorted(landscape.manifests()) == [manifest_of("billing"), manifest_of("shop")]
    assert count(logs, "push_lost") == 0


async def test_a_renewed_certificate_reopens_the_stream_with_the_new_one(landscape: Landscape) -> None:
    # given a subscribed agent that renewed its certificate in a sync a pushed change started
    landscape.overrides = {"sync_period": HOUR}
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent() as subject, running(subject):
            await wait_until(lambda: count(logs, "push_subscribed") == 1, what="the stream subscribed")
            old = landscape.credentials().load()
            assert old is not None
            landscape.clock.advance((old.not_after - old.not_before) * 0.8)
            await landscape.application("shop")
            await wait_until(lambda: count(logs, "certificate_renewed") >= 1, what="a renewal")
            landscape.clock.reset()
            await wait_until(
                lambda: count(logs, "push_subscribed") == count(logs, "certificate_renewed") + 1,
                what="a stream opened with each new certificate",
            )

            # when
            await landscape.application("billing")

            # then
            await wait_until(
                lambda: manifest_of("billing") in landscape.manifests(),
                what="a change pushed on the new stream",
            )
    new = landscape.credentials().load()
    assert new is not None and new.serial != old.serial
    assert count(logs, "push_lost") == 0


async def test_a_stream_dropped_by_a_server_restart_is_opened_again_and_pushes_changes(
    settings: Settings,
    compass_ca: CertificateAuthority,
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agent.push, "PUSH_RETRY_SECONDS", 0.2)  # the backoff's first step, not its shape
    server = RunningServer.start(settings, tmp_path / "server", compass_ca, **TEST_SERVER_SETTINGS)
    try:
        async with harness(server, database, tmp_path) as compass:
            landscape = await make_landscape(compass, tmp_path)
            landscape.overrides = {"sync_period": HOUR}
            with structlog.testing.capture_logs() as logs:
                async with landscape.agent(director_factory=without_keep_alive) as subject, running(subject):
                    await wait_until(
                        lambda: count(logs, "push_subscribed") == 1, what="the stream subscribed"
                    )

                    # given the server stopped (its streams end) and started again
                    await asyncio.to_thread(server.stop)
                    await wait_until(
                        lambda: count(logs, "push_lost") >= 1, what="the agent seeing the stream end"
                    )
                    server = await asyncio.to_thread(server.restarted)
                    await wait_until(
                        lambda: count(logs, "push_subscribed") == 2, what="the stream opened again"
                    )

                    # when
                    await landscape.application("shop")

                    # then
                    await wait_until(
                        lambda: manifest_of("shop") in landscape.manifests(),
                        what="the change pushed after it",
                    )
            lost = [entry for entry in logs if entry["event"] == "push_lost"]
            assert lost[0]["reason"] == "the Director ended the stream"
            assert all(entry["next_attempt_seconds"] > 0 for entry in lost)
    finally:
        server.stop()


async def test_a_director_without_push_is_asked_for_a_stream_once_and_synced_with_at_the_period(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given
    landscape.overrides = {"sync_period": 0.05}

    # when
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent(director_factory=stand_in_director.factory()) as subject, running(subject):
            await wait_until(lambda: stand_in_director.pages_served >= 8, what="syncs at the period")

    # then
    assert stand_in_director.changes_requests == 1
    unavailable = [entry for entry in logs if entry["event"] == "push_unavailable"]
    assert [entry["status"] for entry in unavailable] == [404]
    assert unavailable[0]["next_attempt_seconds"] >= 0.8 * agent.push.PUSH_UNAVAILABLE_SECONDS
    assert count(logs, "push_lost") == 0


async def test_agent_push_false_opens_no_stream(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given
    landscape.overrides = {"sync_period": 0.05, "push": False}

    # when
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent(director_factory=stand_in_director.factory()) as subject, running(subject):
            await wait_until(lambda: stand_in_director.pages_served >= 4, what="syncs at the period")

    # then
    assert stand_in_director.changes_requests == 0
    assert not [entry for entry in logs if entry["event"].startswith("push_")]
