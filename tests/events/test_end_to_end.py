"""Events in, end to end from the Director: an application registered in the runtime's formation gets its client
certificate as a user gets it (a one-time token from the Director, the Connector's ``configuration``, a key and a
CSR made with the ``openssl`` command line, ``signCertificateSigningRequest``); ``compass-agent sync --once``
connects the runtime (storing the CA next to its credentials) and writes the Application; `compass-events serve`
reads both, and the application's events reach a Subscription's sink."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from testing.applications import ManifestDirectory
from testing.sinks import RecordingSink
from testing.waiting import wait_until
from tests.agent.support import Landscape, bundle_input, run_agent
from tests.connector.support import b64, sign_document, unb64
from tests.fixtures.events_e2e import (
    PROBED,
    ApplicationClient,
    Covering,
    StartIngress,
    legacy_event,
    subscription,
)

PREFIX = "sap.kyma.custom"
CREATED, SHIPPED, PAID = "order.created.v1", "order.shipped.v1", "order.paid.v1"


@dataclass(frozen=True)
class RuntimeApplication:
    """An application as the runtime knows it: the name the agent gave its manifest."""

    name: str

    @property
    def type_segment(self) -> str:
        """Its name in event types: letters and digits only."""
        return "".join(character for character in self.name if character.isalnum())


def openssl_subject(subject: str) -> str:
    """The Connector's announced ``C=DE,...,CN=<client id>`` as ``openssl req -subj`` takes it."""
    return "/" + subject.replace(",", "/")


async def openssl_key_and_csr(subject: str, directory: Path) -> tuple[Path, Path]:
    key_file, csr_file = directory / "application.key", directory / "application.csr"
    command = ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", openssl_subject(subject)]
    process = await asyncio.create_subprocess_exec(
        *command, "-keyout", str(key_file), "-out", str(csr_file), stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    return key_file, csr_file


async def certify(landscape: Landscape, application_id: str, directory: Path) -> tuple[Path, Path]:
    """The application's own connection: token → configuration → openssl CSR → signed chain; its files."""
    compass = landscape.compass
    token = await compass.application_token(landscape.operator, application_id)
    configuration = await compass.configuration(token)
    subject = configuration["certificateSigningRequestInfo"]["subject"]
    key_file, csr_file = await openssl_key_and_csr(subject, directory)
    signed = await compass.connector(
        sign_document(b64(csr_file.read_bytes())), token=configuration["token"]["token"]
    )
    chain_file = directory / "application.crt"
    chain_file.write_bytes(unb64(signed.result["certificateChain"]))
    return chain_file, key_file


def runtime_name(landscape: Landscape, application_id: str) -> str:
    """The name the agent gave the application's manifest."""
    for text in landscape.manifests().values():
        manifest = yaml.safe_load(text)
        if manifest["spec"]["compassMetadata"]["applicationId"] == application_id:
            return str(manifest["metadata"]["name"])
    raise AssertionError(f"the agent wrote no Application for {application_id}")


@dataclass
class EventsRuntime:
    """The runtime's ingress, the connected application ``shop`` and its HTTPS client, and ``other``, an
    application of the same runtime."""

    shop: RuntimeApplication
    other: str
    client: httpx.AsyncClient
    sink: RecordingSink

    async def post_legacy(self, application: str, event_id: str, data: object) -> httpx.Response:
        event = legacy_event(event_id, CREATED, data)
        return await self.client.post(f"/{application}/v1/events", json=event)

    async def received(self, event_id: str) -> list[dict[str, str | None]]:
        """What the sink received for ``event_id``, once it received anything."""
        await wait_until(lambda: self._delivered(event_id), seconds=30, what=f"event {event_id} delivered")
        return self._delivered(event_id)

    def _delivered(self, event_id: str) -> list[dict[str, str | None]]:
        return [
            {
                "type": received.type,
                "source": received.attribute("source"),
                "id": received.id,
                "content-type": received.header("content-type"),
                "data": received.body.decode(),
            }
            for received in self.sink.delivered
            if received.id == event_id
        ]


@pytest.fixture(scope="module")
async def events_runtime(
    *,
    module_landscape: Landscape,
    tmp_path_factory: pytest.TempPathFactory,
    event_sink_server: RecordingSink,
    module_ingress: StartIngress,
    module_application_client: ApplicationClient,
    covering: Covering,
) -> EventsRuntime:
    """One per module and backend: the tests share the runtime and the ingress and do not disturb each other."""
    # The session's sink, reset once here (a test of another module may have left it refusing deliveries); this
    # module's tests then share it, each reading only its own event ids.
    event_sink_server.reset()
    if not event_sink_server.running:
        event_sink_server.start()
    shop_id = await module_landscape.application(bundles=[bundle_input(0)])
    other_id = await module_landscape.application(bundles=[bundle_input(1)])
    chain_file, key_file = await certify(module_landscape, shop_id, tmp_path_factory.mktemp("application"))
    synced = await run_agent(module_landscape, "sync", "--once")
    assert synced.returncode == 0, synced.stderr
    shop = RuntimeApplication(runtime_name(module_landscape, shop_id))
    types = [CREATED, SHIPPED, PAID, PROBED]
    ManifestDirectory(module_landscape.manifest_dir).put(
        subscription("shop-orders", event_sink_server.url, shop.name, types)
    )
    served = module_ingress(module_landscape.manifest_dir, module_landscape.credentials().ca_file)
    client = module_application_client(served, chain_file, key_file)
    await covering(client, shop.name, event_sink_server)
    return EventsRuntime(shop, runtime_name(module_landscape, other_id), client, event_sink_server)


async def test_an_applications_events_reach_the_subscribed_sink_in_all_three_formats(
    events_runtime: EventsRuntime,
) -> None:
    # given
    shop = events_runtime.shop
    legacy_id, structured_id, binary_id = (str(uuid.uuid4()) for _ in range(3))
    structured = {
        "specversion": "1.0",
        "id": structured_id,
        "source": shop.name,
        "type": SHIPPED,
        "datacontenttype": "application/json",
        "data": {"order": 2},
    }
    binary_headers = {
        "ce-specversion": "1.0",
        "ce-id": binary_id,
        "ce-source": f"/default/{shop.name}",
        "ce-type": PAID,
        "Content-Type": "application/json",
    }

    # when
    legacy = await events_runtime.post_legacy(shop.name, legacy_id, {"order": 1})
    structured_answer = await events_runtime.client.post(
        f"/{shop.name}/events",
        content=json.dumps(structured),
        headers={"Content-Type": "application/cloudevents+json"},
    )
    binary_answer = await events_runtime.client.post(
        f"/{shop.name}/v2/events", content=b'{"order":3}', headers=binary_headers
    )

    # then
    assert legacy.status_code == 200, legacy.text
    assert legacy.json() == {"event-id": legacy_id, "status": "", "reason": ""}
    assert (structured_answer.status_code, binary_answer.status_code) == (204, 204), (
        structured_answer.text,
        binary_answer.text,
    )
    expected = {
        legacy_id: (f"{PREFIX}.{shop.type_segment}.{CREATED}", shop.name, '{"order":1}'),
        structured_id: (f"{PREFIX}.{shop.type_segment}.{SHIPPED}", shop.name, '{"order":2}'),
        binary_id: (f"{PREFIX}.{shop.type_segment}.{PAID}", f"/default/{shop.name}", '{"order":3}'),
    }
    for event_id, (event_type, source, data) in expected.items():
        [received] = await events_runtime.received(event_id)
        assert received == {
            "type": event_type,
            "source": source,
            "id": event_id,
            "content-type": "application/json",
            "data": data,
        }


async def test_an_applications_certificate_is_refused_on_another_applications_path(
    events_runtime: EventsRuntime,
) -> None:
    # when
    answer = await events_runtime.post_legacy(events_runtime.other, str(uuid.uuid4()), {"order": 1})

    # then
    assert answer.status_code == 403
    assert answer.json() == {"code": 403, "error": "no valid subject found"}
