"""The Runtime Watcher end to end, every part a real process or server: `compass serve` with a runtime that sees
one application; `compass-agent run` writing into the Kubernetes stand-in (testing/kube.py) with push on and a
sync period of 300 s; `compass-watcher serve` sharing the agent's state directory, reached by the stand-in as
the Service kyma-system/compass-watcher.

The agent registers the watcher's webhook; an Application the agent owns is then deleted by hand (a DELETE to
the API, as kubectl sends), the stand-in calls the webhook as the API server does, the watcher tells the control
plane, the control plane tells the agent's change stream, and the agent puts the Application back: long before
its period would have. No real Kubernetes API server runs here (none can); the stand-in calls the webhook.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import structlog

from kernel.db import Database
from testing.databases import BACKENDS, POSTGRES_URL, temporary_database
from testing.kube import FakeKubeApi
from testing.served import ServedCompass, ServedProcess
from testing.waiting import wait_until
from testing.watcher import ServedWatcher, start_watcher
from tests.agent.support import REGISTER_APPLICATION, REQUEST_RUNTIME_TOKEN
from tests.support import ASSIGN_FORMATION, CREATE_FORMATION, REGISTER_RUNTIME, Operator, TenantFactory

log = structlog.get_logger(__name__)

COMPASS_AGENT = Path(sys.executable).with_name("compass-agent")
APPLICATIONS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications"
SYNC_PERIOD = 300.0
# Far below the period: a repair within this bound can only have come through the watcher and push.
REPAIR_BOUND_SECONDS = 60.0
WATCH_EVENTS = """
query ($id: ID!) {
  result: runtime(id: $id) {
    watchEvents { module watched { namespace name } watchedGvk { group version kind } receivedAt }
  }
}
"""


@dataclass
class Runtime:
    operator: Operator
    runtime_id: str
    token: str


@pytest.fixture(params=BACKENDS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[ServedCompass, str]]:
    if request.param == "postgresql" and not POSTGRES_URL:
        pytest.skip("COMPASS_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL")
    async with temporary_database(request.param, tmp_path, migrated=True) as url:
        server = ServedCompass(tmp_path / "data", url, env={"COMPASS_LOG_LEVEL": "warning"})
        await asyncio.to_thread(server.__enter__)
        try:
            yield server, url
        finally:
            await asyncio.to_thread(server.stop)


@pytest.fixture
async def runtime(served: tuple[ServedCompass, str]) -> AsyncIterator[Runtime]:
    """A tenant's runtime in a formation with one application, and a one-time token for its agent."""
    server, url = served
    database = Database(url)
    try:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            operator = await TenantFactory(server.settings, database, client).operator()
            formation = f"formation-{uuid.uuid4().hex[:8]}"
            await operator.query(CREATE_FORMATION, {"name": formation})
            registered = await operator.query(REGISTER_RUNTIME, {"in": {"name": "runtime-watched"}})
            runtime_id = str(registered["result"]["id"])
            name = f"shop-{uuid.uuid4().hex[:8]}"
            application = await operator.query(REGISTER_APPLICATION, {"in": {"name": name, "description": "a shop"}})
            for object_id, kind in ((runtime_id, "RUNTIME"), (application["result"]["id"], "APPLICATION")):
                await operator.query(ASSIGN_FORMATION, {"id": object_id, "type": kind, "name": formation})
            token = (await operator.query(REQUEST_RUNTIME_TOKEN, {"id": runtime_id}))["result"]["token"]
            yield Runtime(operator, runtime_id, str(token))
    finally:
        await database.dispose()


@pytest.fixture
def watcher(tmp_path: Path, kube_api: FakeKubeApi) -> Iterator[ServedWatcher]:
    """Started before the agent, so that its CA bundle is there for the agent's first sync."""
    (tmp_path / "watcher").mkdir()
    served = start_watcher(tmp_path / "agent-state", tmp_path / "watcher")
    kube_api.services[("kyma-system", "compass-watcher")] = ("127.0.0.1", served.port)
    try:
        yield served
    finally:
        served.process.stop()


@pytest.fixture
async def agent(
    served: tuple[ServedCompass, str],
    runtime: Runtime,
    watcher: ServedWatcher,
    kube_api: FakeKubeApi,
    tmp_path: Path,
) -> AsyncIterator[ServedProcess]:
    server, _ = served
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("AGENT_", "WATCHER_"))
    }
    environment.update(
        CONNECTOR_URL=server.settings.connector_url,
        RUNTIME_ID=runtime.runtime_id,
        TENANT=runtime.operator.tenant_id,
        TOKEN=runtime.token,
        AGENT_STATE_DIR=str(tmp_path / "agent-state"),
        AGENT_WATCHER_TLS_DIR=str(watcher.tls_dir),
        AGENT_SINK="kubernetes",
        AGENT_KUBECONFIG=str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")),
        AGENT_SYNC_PERIOD=str(SYNC_PERIOD),
        AGENT_PUSH="true",
        AGENT_KEY_TYPE="ec-p256",
        AGENT_LOG_JSON="false",
    )
    process = ServedProcess("compass-agent", [str(COMPASS_AGENT), "run"], log=tmp_path / "agent.log", env=environment)
    process.start()
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


class Quiet:
    """True once the watcher's spool is empty and neither the agent's syncs nor the webhook calls have grown
    since the previous look."""

    def __init__(self, agent: ServedProcess, watcher: ServedWatcher, kube_api: FakeKubeApi) -> None:
        self.agent, self.watcher, self.kube_api = agent, watcher, kube_api
        self.last: tuple[int, int] | None = None

    def __call__(self) -> bool:
        self.agent.check_alive()
        now = (self.agent.log.read_text().count("synchronized"), len(self.kube_api.admission_calls()))
        quiet = now == self.last and not self.watcher.spooled()
        self.last = now
        return quiet


async def test_an_application_deleted_by_hand_is_back_through_the_watcher_long_before_the_period(
    agent: ServedProcess, runtime: Runtime, watcher: ServedWatcher, kube_api: FakeKubeApi
) -> None:
    # given: the agent wrote the Application and registered the watcher's webhook
    def registered() -> bool:
        agent.check_alive()
        return bool(kube_api.names("Application")) and (
            kube_api.object("ValidatingWebhookConfiguration", "compass-watcher") is not None
        )

    await wait_until(registered, seconds=60, what="the agent's first sync", detail=agent.log_tail)
    # ... and everything its first writes set off is over: the watcher delivered their events, and the syncs
    # they caused are done (no sync and no webhook call between two looks), so what follows is the deletion's.
    await wait_until(Quiet(agent, watcher, kube_api), seconds=60, what="the runtime settling", every=2.0)
    [name] = kube_api.names("Application")
    stored = kube_api.object("Application", name)
    assert stored is not None
    first_uid = stored["metadata"]["uid"]

    # when: someone deletes it, as kubectl does
    started, deleted_at = time.monotonic(), datetime.now(UTC).replace(microsecond=0)
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        deleted = await client.delete(f"{kube_api.url}{APPLICATIONS}/{name}")
    assert deleted.status_code == 200

    def repaired() -> bool:
        agent.check_alive()
        again = kube_api.object("Application", name)
        return again is not None and again["metadata"]["uid"] != first_uid

    await wait_until(repaired, seconds=REPAIR_BOUND_SECONDS, what="the Application back", detail=agent.log_tail)
    log.info("repaired_after_deletion", seconds=round(time.monotonic() - started, 3), period=SYNC_PERIOD)

    # then: the webhook was called for the deletion, and the control plane received its event
    deletions = [
        call
        for call in kube_api.admission_calls()
        if call.request["operation"] == "DELETE" and call.request["name"] == name
    ]
    assert [(call.allowed, call.message) for call in deletions] == [(True, "kcp request queued")]
    data = await runtime.operator.query(WATCH_EVENTS, {"id": runtime.runtime_id})
    expected = {
        "module": "compass-runtime-agent",
        "watched": {"namespace": "", "name": name},
        "watchedGvk": {"group": "applicationconnector.kyma-project.io", "version": "v1alpha1", "kind": "Application"},
    }
    received = [
        datetime.fromisoformat(event["receivedAt"])
        for event in data["result"]["watchEvents"]
        if {key: event[key] for key in expected} == expected
    ]
    # (Received after the deletion, not necessarily before the repair was seen: on SQLite the server also wakes
    # every change stream at a random point of a heartbeat after another process's write, so a sync of that kind
    # may come first; without the webhook the two assertions above fail.)
    assert any(moment >= deleted_at for moment in received), (received, deleted_at)
