"""The Runtime Agent end to end: a real pycompass server over HTTP and TLS (SQLite and PostgreSQL), the real
connection, sync and directory sink, driven one iteration at a time (``Agent.run_once``: `sync --once`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypeVar

import pytest
import structlog
import yaml

import agent.loop
from agent.connection import Connection
from agent.director_client import DirectorClient
from agent.errors import DirectorError
from agent.loop import CONSOLE_LABEL, EVENT_SERVICE_LABEL, DirectorFactory
from agent.settings import AgentSettings
from agent.sinks.directory import DirectorySink
from agent.status import ConnectionRecord, ConnectionState
from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.settings import Settings
from testing.waiting import wait_until
from tests.agent.support import Landscape, bundle_input, make_landscape
from tests.connector.support import TEST_SERVER_SETTINGS, RunningServer, harness

GATEWAY = "https://gateway.runtime.example.com"
CONSOLE = "https://console.runtime.example.com"
SET_RUNTIME_LABEL = """
mutation ($id: ID!, $key: String!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key }
}
"""


def manifest_of(name: str) -> str:
    """The file of an application's manifest; the Director hands runtimes Compass's normalized names."""
    return f"application-mp-{name}.yaml"


async def test_first_sync_writes_one_manifest_per_application_of_the_formation(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    await landscape.application("billing")
    await landscape.application("elsewhere", assigned=False)

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.SYNCHRONIZED, outcome.error
    assert sorted(landscape.manifests()) == [manifest_of("billing"), manifest_of("shop")]
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.SYNCHRONIZED
    assert record.connection_status.established is not None
    assert record.synchronization_status.last_successful_application is not None


async def test_a_changed_application_updates_exactly_its_manifest(landscape: Landscape) -> None:
    # given
    shop = await landscape.application("shop")
    await landscape.application("billing")
    await landscape.run_once()
    before = landscape.stats()

    # when
    await landscape.describe(shop, "a bigger shop")
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.SYNCHRONIZED, outcome.error
    assert [item["metadata"]["name"] for item in outcome.result.plan.updates] == ["mp-shop"]
    after = landscape.stats()
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {manifest_of("shop")}
    assert "a bigger shop" in landscape.manifests()[manifest_of("shop")]


async def test_an_unassigned_application_is_deleted_and_nothing_else(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    billing = await landscape.application("billing")
    await landscape.run_once()
    before = landscape.stats()

    # when
    await landscape.unassign(billing)
    outcome = await landscape.run_once()

    # then
    assert outcome.result.plan.deletes == [("Application", "mp-billing")]
    after = landscape.stats()
    assert manifest_of("billing") not in after
    assert after[manifest_of("shop")] == before[manifest_of("shop")]


async def test_an_unchanged_sync_writes_no_manifest(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    before = landscape.stats()

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.result.plan.empty
    assert landscape.stats() == before


async def test_a_stopped_server_changes_nothing_and_reports_synchronization_failed_until_it_is_back(
    settings: Settings, compass_ca: CertificateAuthority, database: Database, tmp_path: Path
) -> None:
    server = RunningServer.start(settings, tmp_path / "server", compass_ca, **TEST_SERVER_SETTINGS)
    try:
        async with harness(server, database, tmp_path) as compass:
            # given
            landscape = await make_landscape(compass, tmp_path)
            await landscape.application("shop")
            billing = await landscape.application("billing")
            await landscape.run_once()
            await landscape.unassign(billing)
            before = landscape.stats()
            server.stop()

            # when
            failed = await landscape.run_once()

            # then
            assert failed.state is ConnectionState.SYNCHRONIZATION_FAILED
            assert landscape.stats() == before
            record = await landscape.record()
            assert record is not None and record.state is ConnectionState.SYNCHRONIZATION_FAILED
            assert "unreachable" in (record.synchronization_status.error or "")
            assert landscape.credentials().load() is not None

            # when
            server = server.restarted()
            recovered = await landscape.run_once()

            # then
            assert recovered.state is ConnectionState.SYNCHRONIZED, recovered.error
            assert recovered.result.plan.deletes == [("Application", "mp-billing")]
            record = await landscape.record()
            assert record is not None and record.synchronization_status.error is None
    finally:
        server.stop()


async def test_a_certificate_near_expiry_is_renewed_without_interrupting_the_sync(
    landscape: Landscape,
) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    old = landscape.credentials().load()
    assert old is not None
    before = landscape.stats()

    # when: the agent's clock reaches 80 % of the certificate's validity
    landscape.clock.advance((old.not_after - old.not_before) * 0.8)
    outcome = await landscape.run_once()

    # then
    new = landscape.credentials().load()
    assert new is not None and new.serial != old.serial
    assert outcome.renewed
    assert outcome.state is ConnectionState.SYNCHRONIZED, outcome.error
    assert landscape.stats() == before
    record = await landscape.record()
    assert record is not None and record.connection_status.renewed is not None
    assert record.connection_status.certificate_status.not_after == new.not_after.replace(microsecond=0)


async def test_a_revoked_certificate_is_reported_and_no_longer_used(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    credentials = landscape.credentials().load()
    assert credentials is not None
    before = landscape.stats()

    # when
    assert credentials.serial in await landscape.revoke()
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    assert "CERTIFICATE_REVOKED" in (record.connection_status.error or "")
    assert landscape.credentials().load() is None
    assert not landscape.credentials().key_file.exists()
    assert landscape.stats() == before


async def test_after_a_revocation_the_used_token_is_reported_as_already_used(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    await landscape.revoke()
    await landscape.run_once()
    before = landscape.stats()

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.CONNECTION_FAILED
    assert (outcome.error or "").startswith("TOKEN_ALREADY_USED")
    assert landscape.stats() == before


async def test_after_a_revocation_a_new_token_connects_the_agent_again(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    revoked = landscape.credentials().load()
    await landscape.revoke()
    await landscape.run_once()

    # when
    await landscape.issue_token()
    outcome = await landscape.run_once()

    # then
    assert outcome.connected
    assert outcome.state is ConnectionState.SYNCHRONIZED, outcome.error
    current = landscape.credentials().load()
    assert revoked is not None and current is not None and current.serial != revoked.serial


async def test_a_deleted_connection_record_makes_the_agent_connect_again_with_a_new_token(
    landscape: Landscape,
) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    old = landscape.credentials().load()
    before = landscape.stats()
    await ConnectionRecord(DirectorySink(landscape.manifest_dir)).delete()
    await landscape.issue_token()

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.connected
    assert outcome.state is ConnectionState.SYNCHRONIZED, outcome.error
    new = landscape.credentials().load()
    assert old is not None and new is not None and new.serial != old.serial
    assert (await landscape.record()) is not None
    assert landscape.stats() == before


async def test_a_deleted_connection_record_without_a_new_token_reports_connection_failed(
    landscape: Landscape,
) -> None:
    # given
    await landscape.application("shop")
    await landscape.run_once()
    before = landscape.stats()
    await ConnectionRecord(DirectorySink(landscape.manifest_dir)).delete()

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.CONNECTION_FAILED
    assert (outcome.error or "").startswith("TOKEN_ALREADY_USED")
    assert landscape.stats() == before
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.CONNECTION_FAILED


class CountingDirector(DirectorClient):
    label_writes: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_writes = []

    async def set_runtime_label(self, runtime_id: str, key: str, value: object) -> None:
        self.label_writes.append(key)
        await super().set_runtime_label(runtime_id, key, value)


class RefusingDirector(DirectorClient):
    async def set_runtime_label(self, runtime_id: str, key: str, value: object) -> None:
        raise DirectorError("the Director answered with errors: not now", code="FORBIDDEN")


Client = TypeVar("Client", bound=DirectorClient)


def director(cls: type[Client], made: list[Client]) -> DirectorFactory:
    """Makes the agent's Director clients of ``cls`` and keeps each in ``made``, for the test to inspect."""

    def factory(connection: Connection, settings: AgentSettings) -> DirectorClient:
        client = cls(
            connection.director_url,
            cert_file=connection.store.chain_file,
            key_file=connection.store.key_file,
            ca_file=connection.store.ca_file,
            timeout=settings.http_timeout,
        )
        made.append(client)
        return client

    return factory


async def test_the_agent_reports_its_runtime_connected_like_compass_agents_do(landscape: Landscape) -> None:
    # given
    status = "query ($id: ID!) { result: runtime(id: $id) { status { condition } } }"
    before = await landscape.operator.query(status, {"id": landscape.runtime_id})

    # when
    async with landscape.agent() as agent:
        await agent.run_once()

    # then
    after = await landscape.operator.query(status, {"id": landscape.runtime_id})
    assert before["result"]["status"]["condition"] == "INITIAL"
    assert after["result"]["status"]["condition"] == "CONNECTED"


async def test_runtime_labels_are_set_only_where_they_differ_from_the_runtimes(landscape: Landscape) -> None:
    # given
    landscape.overrides = {"event_gateway_url": GATEWAY, "console_url": CONSOLE}
    made: list[CountingDirector] = []
    async with landscape.agent(director_factory=director(CountingDirector, made)) as agent:
        await agent.run_once()
    labels = await landscape.runtime_labels()
    assert labels.items() >= {EVENT_SERVICE_LABEL: GATEWAY, CONSOLE_LABEL: CONSOLE}.items()
    changed = {"id": landscape.runtime_id, "key": CONSOLE_LABEL, "value": "https://elsewhere.example.com"}
    await landscape.operator.query(SET_RUNTIME_LABEL, changed)

    # when: a new agent process, twice
    async with landscape.agent(director_factory=director(CountingDirector, made)) as agent:
        first = await agent.run_once()
        second = await agent.run_once()

    # then
    assert first.state is second.state is ConnectionState.SYNCHRONIZED
    assert [client.label_writes for client in made] == [[EVENT_SERVICE_LABEL, CONSOLE_LABEL], [CONSOLE_LABEL]]
    assert (await landscape.runtime_labels())[CONSOLE_LABEL] == CONSOLE


async def test_central_gateway_urls_come_from_agent_gateway_url_not_the_event_gateway_url(
    landscape: Landscape, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("AGENT_GATEWAY_URL", "http://proxy.runtime.example.com:8082")
    monkeypatch.setenv("AGENT_EVENT_GATEWAY_URL", GATEWAY)
    await landscape.application("shop", bundles=[bundle_input()])

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.SYNCHRONIZED, outcome.error
    application = yaml.safe_load(landscape.manifests()[manifest_of("shop")])
    entry = application["spec"]["services"][0]["entries"][0]
    assert entry["centralGatewayUrl"] == "http://proxy.runtime.example.com:8082/mp-shop/orders-0/orders-api"
    assert (await landscape.runtime_labels())[EVENT_SERVICE_LABEL] == GATEWAY


async def test_a_failed_label_update_is_metadata_update_failed_and_the_sync_still_applies(
    landscape: Landscape,
) -> None:
    # given
    landscape.overrides = {"console_url": CONSOLE}
    await landscape.application("shop")

    # when
    async with landscape.agent(director_factory=director(RefusingDirector, [])) as agent:
        outcome = await agent.run_once()

    # then
    assert outcome.state is ConnectionState.METADATA_UPDATE_FAILED
    assert outcome.synced
    assert list(landscape.manifests()) == [manifest_of("shop")]
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.METADATA_UPDATE_FAILED
    assert "not now" in (record.synchronization_status.error or "")


# --- the loop -----------------------------------------------------------------------------------------------


class SlowSink(DirectorySink):
    """The directory sink, taking its time to list what exists (a big cluster behind a slow API server); the
    sleep is the slowness under test. ``listing`` is set once an iteration has started listing."""

    def __init__(self, directory: Path, delay: float) -> None:
        super().__init__(directory)
        self.delay = delay
        self.listing = asyncio.Event()

    async def list_owned(self, kind: str) -> dict[str, Any]:
        self.listing.set()
        await asyncio.sleep(self.delay)
        return await super().list_owned(kind)


class BrokenSink(DirectorySink):
    """The directory sink with a bug: reading the connection record raises something unexpected."""

    calls = 0

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        self.calls += 1
        raise RuntimeError("a bug")


async def test_the_loop_reports_progress_while_the_first_sync_runs(
    landscape: Landscape, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(agent.loop, "PROGRESS_INTERVAL_SECONDS", 0.05)
    await landscape.application("shop")
    stop = asyncio.Event()

    # when
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent(sink=SlowSink(landscape.manifest_dir, 0.2)) as subject:
            running = asyncio.create_task(subject.run(stop))
            await wait_until(lambda: any(entry["event"] == "synchronized" for entry in logs))
            stop.set()
            await asyncio.wait_for(running, timeout=10)

    # then
    events = [entry["event"] for entry in logs]
    assert "initial_sync_in_progress" in events
    assert events.index("initial_sync_in_progress") < events.index("synchronized")
    assert list(landscape.manifests()) == [manifest_of("shop")]


async def test_stopping_the_loop_cancels_a_running_iteration(landscape: Landscape) -> None:
    # given
    stop = asyncio.Event()
    sink = SlowSink(landscape.manifest_dir, 3600)
    async with landscape.agent(sink=sink) as subject:
        running = asyncio.create_task(subject.run(stop))
        await wait_until(sink.listing.is_set, what="an iteration listing what the runtime holds")

        # when
        stop.set()

        # then
        await asyncio.wait_for(running, timeout=5)
    assert landscape.manifests() == {}


async def test_an_unexpected_error_does_not_end_the_loop(landscape: Landscape) -> None:
    # given
    landscape.overrides = {"sync_period": 0.01}
    sink = BrokenSink(landscape.manifest_dir)
    stop = asyncio.Event()

    # when
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent(sink=sink) as subject:
            running = asyncio.create_task(subject.run(stop))
            await wait_until(lambda: sink.calls >= 3)
            stop.set()
            await asyncio.wait_for(running, timeout=5)

    # then
    assert [entry["event"] for entry in logs].count("iteration_failed") >= 3
