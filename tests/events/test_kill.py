"""An acknowledged event is never lost: `compass-events serve` killed with SIGKILL while applications are sending,
then started again on the same data directory (and the same NATS server), delivers every event it acknowledged,
on both backends: with the sink receiving during the burst (the kill cuts into deliveries, whose cursor was not
saved yet) and with the sink down (every event waits in the log through the kill). Duplicates are allowed (at
least once); the counts are printed for the record (``-s``).

Reproducible as far as a kill can be: the senders' event ids come from seeded generators and the kill comes after
a fixed number of acknowledgements; only how many were in flight at that moment varies."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from testing.applications import application
from testing.client_certificates import ClientCertificateAuthority
from testing.events import ServedEvents
from testing.sinks import RecordingSink
from testing.waiting import wait_until
from tests.fixtures.events_e2e import (
    PROBED,
    ApplicationClient,
    Covering,
    StartIngress,
    legacy_event,
    subscription,
)

SHOP = "killshop"
CREATED = "order.created.v1"
SENDERS = 8
# Enough for the kill to land in a steady burst (every sender's connection open, deliveries under way with the
# sink receiving): what is in flight at that moment does not grow with the count, only the time spent sending.
ACKNOWLEDGED_BEFORE_KILL = 200
SEED = 12


@pytest.fixture(params=["embedded", "nats"])
def bus(request: pytest.FixtureRequest) -> dict[str, str]:
    """The EVENTS_* settings of a backend; NATS's is a server of this test's (skipped where none is installed)."""
    if request.param == "nats":
        server = request.getfixturevalue("private_nats_server")
        return {"bus": "nats", "nats_url": server.url}
    return {"bus": "embedded"}


@pytest.fixture(params=["receiving", "down"])
def sink_during_burst(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Senders:
    """``SENDERS`` applications' tasks POSTing legacy events back to back until the ingress is gone."""

    client: httpx.AsyncClient
    sent: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)

    async def send(self, sender: int) -> None:
        ids = random.Random(f"{SEED}-{sender}")
        while True:
            event_id = str(uuid.UUID(int=ids.getrandbits(128), version=4))
            event = legacy_event(event_id, CREATED, {"sender": sender})
            self.sent.append(event_id)
            try:
                answer = await self.client.post(f"/{SHOP}/v1/events", json=event)
            except httpx.TransportError:
                return
            if answer.status_code == 200:
                self.acknowledged.append(event_id)
            else:
                self.refused[answer.status_code] += 1

    async def until_killed(self, served: ServedEvents) -> None:
        """Sends from every sender, SIGKILLs the ingress after ``ACKNOWLEDGED_BEFORE_KILL`` acknowledgements,
        and returns once every sender has seen its connection fail."""
        tasks = [asyncio.create_task(self.send(sender)) for sender in range(SENDERS)]
        try:
            await wait_until(
                lambda: (
                    len(self.acknowledged) >= ACKNOWLEDGED_BEFORE_KILL or all(task.done() for task in tasks)
                ),
                seconds=120,
                what=f"{ACKNOWLEDGED_BEFORE_KILL} events acknowledged",
                detail=served.process.log_tail,
            )
            await asyncio.to_thread(served.process.kill)
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


@dataclass(frozen=True)
class Tally:
    acknowledged: int
    delivered: int  # acknowledged ids the sink received at least once
    duplicates: int  # deliveries of acknowledged ids beyond the first
    unacknowledged_delivered: int  # in flight at the kill: stored, but the sender never heard so

    @classmethod
    def of(cls, senders: Senders, sink: RecordingSink) -> Tally:
        acknowledged, sent = set(senders.acknowledged), set(senders.sent)
        deliveries = Counter(event_id for event_id in sink.delivered_ids() if event_id in sent)
        delivered = acknowledged & set(deliveries)
        return cls(
            len(acknowledged),
            len(delivered),
            sum(deliveries[event_id] - 1 for event_id in delivered),
            len(set(deliveries) - acknowledged),
        )

    @property
    def complete(self) -> bool:
        return self.delivered == self.acknowledged

    def line(self, case: str) -> str:
        return (
            f"kill test [{case}]: acknowledged={self.acknowledged} delivered={self.delivered} "
            f"duplicates={self.duplicates} delivered-but-unacknowledged={self.unacknowledged_delivered}"
        )


async def test_every_acknowledged_event_is_delivered_after_the_ingress_is_killed_and_restarted(
    *,
    bus: dict[str, str],
    sink_during_burst: str,
    application_ca: ClientCertificateAuthority,
    event_sink: RecordingSink,
    start_ingress: StartIngress,
    application_client: ApplicationClient,
    covering: Covering,
    tmp_path: Path,
) -> None:
    # given: the Subscription covers the events before they are sent
    certificate = application_ca.issue(f"{SHOP}-client")
    served = start_ingress(tmp_path / "manifests", application_ca.ca_file, **bus)
    served.manifests.put(
        application(SHOP, client_ids=[certificate.common_name]),
        subscription("kill-orders", event_sink.url, SHOP, [CREATED, PROBED]),
    )
    client = application_client(served, certificate.cert_file, certificate.key_file)
    await covering(client, SHOP, event_sink)
    senders = Senders(client)
    if sink_during_burst == "down":
        event_sink.stop()

    # when
    await senders.until_killed(served)
    if not event_sink.running:
        event_sink.start()
    await served.process.restart()

    # then
    case = f"{bus['bus']}, sink {sink_during_burst}"
    await wait_until(
        lambda: Tally.of(senders, event_sink).complete,
        seconds=180,
        what="every acknowledged event delivered",
        detail=lambda: Tally.of(senders, event_sink).line(case) + "\n" + served.process.log_tail(),
    )
    tally = Tally.of(senders, event_sink)
    print(tally.line(case), f"refused={dict(senders.refused)}")
    assert tally.acknowledged >= ACKNOWLEDGED_BEFORE_KILL, tally.line(case)
    assert tally.complete, tally.line(case)
