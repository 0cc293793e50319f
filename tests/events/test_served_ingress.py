"""The event ingress as a runtime runs it: `compass-events serve` in a process of its own, called over real TLS
with client certificates, delivering to a sink over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testing.client_certificates import ClientCertificate, ClientCertificateAuthority
from testing.events import EVENTS, ServedEvents
from testing.processes import stat_fields
from testing.served import operator_environment
from testing.sinks import Received, RecordingSink
from testing.waiting import NotInTime, wait_until_blocking
from tests.fixtures.events_served import RegisterApplication, Registered, StartEvents

PREFIX = "sap.kyma.custom"
ORDER_CREATED = "order.created.v1"
# Part of every test's Subscription: sent until one arrives, it shows the delivery has started on it (a new
# Subscription gets only events stored after that).
PROBE = "probe.sent.v1"
LEGACY_EVENT = {
    "event-type": "order.created",
    "event-type-version": "v1",
    "event-time": "2026-03-01T10:00:00Z",
    "data": {"order": 7},
}


def client(served: ServedEvents, certificate: ClientCertificate | None = None) -> httpx.Client:
    """A client of the ingress that trusts its serving CA and presents ``certificate`` (None: no certificate)."""
    context = (
        certificate.context(served.serving_ca)
        if certificate is not None
        else ssl.create_default_context(cafile=str(served.serving_ca))
    )
    return httpx.Client(base_url=served.url, verify=context, timeout=10)


def legacy(sender: Registered, **fields: Any) -> httpx.Response:
    with client(sender.served, sender.certificate) as session:
        return session.post(f"/{sender.name}/v1/events", json={**LEGACY_EVENT, **fields})


def structured(sender: Registered, **attributes: Any) -> httpx.Response:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": sender.name,
        "type": ORDER_CREATED,
        "datacontenttype": "application/json",
        "data": {"order": 7},
        **attributes,
    }
    with client(sender.served, sender.certificate) as session:
        return session.post(
            f"/{sender.name}/events",
            content=json.dumps(event),
            headers={"Content-Type": "application/cloudevents+json"},
        )


def post_legacy(
    served: ServedEvents,
    application: str,
    certificate: ClientCertificate | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """``LEGACY_EVENT`` for ``application``, presenting ``certificate`` (none: no client certificate at all)."""
    with client(served, certificate) as session:
        return session.post(f"/{application}/v1/events", json=LEGACY_EVENT, headers=headers)


def full_type(sender: Registered, event_type: str = ORDER_CREATED) -> str:
    return f"{PREFIX}.{sender.name}.{event_type}"


def subscribe(sender: Registered, sink: RecordingSink, name: str | None = None) -> None:
    """A Subscription of ``sender``'s order.created.v1 events for ``sink``, once the delivery has started on it."""
    sender.served.manifests.put(
        {
            "apiVersion": "eventing.kyma-project.io/v1alpha2",
            "kind": "Subscription",
            "metadata": {"name": name or f"{sender.name}-orders", "namespace": "default"},
            "spec": {
                "sink": sink.url,
                "source": sender.name,
                "types": [ORDER_CREATED, PROBE],
                "typeMatching": "standard",
            },
        }
    )

    def probe_arrived() -> bool:
        # Waiting for this very probe means none sent earlier is still on its way once it is there.
        probe = str(uuid.uuid4())
        assert structured(sender, type=PROBE, id=probe).status_code == 204
        try:
            wait_until_blocking(
                lambda: probe in {request.id for request in received(sink, sender, PROBE)}, seconds=1
            )
        except NotInTime:
            return False
        return True

    wait_until_blocking(probe_arrived, what="a probe event reaching the new Subscription's sink", every=0)


def received(sink: RecordingSink, sender: Registered, event_type: str = ORDER_CREATED) -> list[Received]:
    """What ``sink`` took of ``sender``'s events of this type (a sink of the session serves other tests too)."""
    wanted = full_type(sender, event_type)
    return [request for request in sink.delivered if request.type == wanted]


def delivered_one(sink: RecordingSink, sender: Registered) -> Received:
    """The one event of ``sender``'s that ``sink`` took, once it took it."""
    wait_until_blocking(lambda: received(sink, sender), what="the event reaching the sink")
    [delivered] = received(sink, sender)
    return delivered


def metric(served: ServedEvents, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples (counters: without _total) whose labels include ``labels``."""
    text = httpx.get(f"{served.api_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
        if sample.name == f"{name}_total" and labels.items() <= sample.labels.items()
    )


class TestAcceptedEvents:
    def test_a_legacy_event_is_answered_200_with_its_id(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender = register_application(served_events)
        event_id = str(uuid.uuid4())

        answer = legacy(sender, **{"event-id": event_id})

        assert answer.status_code == 200
        assert answer.json() == {"event-id": event_id, "status": "", "reason": ""}

    def test_a_legacy_event_reaches_the_sink_as_a_cloudevent_of_the_applications_type(
        self,
        served_events: ServedEvents,
        register_application: RegisterApplication,
        event_sink: RecordingSink,
    ) -> None:
        sender = register_application(served_events)
        subscribe(sender, event_sink)
        event_id = str(uuid.uuid4())

        assert legacy(sender, **{"event-id": event_id}).status_code == 200

        delivered = delivered_one(event_sink, sender)
        assert delivered.type == f"sap.kyma.custom.{sender.name}.order.created.v1"
        assert delivered.attribute("source") == sender.name
        assert delivered.id == event_id
        assert delivered.attribute("time") == LEGACY_EVENT["event-time"]
        assert json.loads(delivered.body) == {"order": 7}

    def test_a_structured_cloudevent_is_answered_204_and_reaches_the_sink(
        self,
        served_events: ServedEvents,
        register_application: RegisterApplication,
        event_sink: RecordingSink,
    ) -> None:
        sender = register_application(served_events)
        subscribe(sender, event_sink)

        answer = structured(sender, id="structured-1", source=f"/default/{sender.name}")

        assert answer.status_code == 204
        delivered = delivered_one(event_sink, sender)
        assert delivered.id == "structured-1"
        assert delivered.attribute("source") == f"/default/{sender.name}"
        assert delivered.header("content-type") == "application/json"
        assert json.loads(delivered.body) == {"order": 7}

    def test_a_binary_cloudevent_is_answered_204_and_reaches_the_sink(
        self,
        served_events: ServedEvents,
        register_application: RegisterApplication,
        event_sink: RecordingSink,
    ) -> None:
        sender = register_application(served_events)
        subscribe(sender, event_sink)
        headers = {
            "ce-specversion": "1.0",
            "ce-id": "binary-1",
            "ce-source": sender.name,
            "ce-type": ORDER_CREATED,
            "Content-Type": "text/plain",
        }

        with client(served_events, sender.certificate) as session:
            answer = session.post(f"/{sender.name}/v2/events", content=b"seven", headers=headers)

        assert answer.status_code == 204
        delivered = delivered_one(event_sink, sender)
        assert (delivered.id, delivered.attribute("source")) == ("binary-1", sender.name)
        assert delivered.type == full_type(sender)
        assert delivered.body == b"seven"


class TestRefusals:
    def test_a_call_without_a_certificate_is_answered_500(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender = register_application(served_events)

        answer = post_legacy(served_events, sender.name)

        assert answer.status_code == 500
        assert answer.json() == {"code": 500, "error": "X-Forwarded-Client-Cert header not found"}

    def test_the_certificate_of_another_application_is_answered_403(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender, other = register_application(served_events), register_application(served_events)

        answer = post_legacy(served_events, sender.name, other.certificate)

        assert answer.status_code == 403
        assert answer.json() == {"code": 403, "error": "no valid subject found"}

    def test_an_application_not_in_the_runtime_is_answered_404_please_retry(
        self, served_events: ServedEvents, application_ca: ClientCertificateAuthority
    ) -> None:
        answer = post_legacy(served_events, "absent", application_ca.issue("absent"))

        assert answer.status_code == 404
        assert answer.json()["code"] == 404
        assert answer.json()["error"].endswith("Please retry")

    # TLS 1.3 ends the client's side of the handshake before the server has read its certificate: the server's
    # refusal then arrives as a connection closed instead of an answer.
    @pytest.mark.parametrize(
        ("version", "failure"),
        [(ssl.TLSVersion.TLSv1_2, httpx.ConnectError), (ssl.TLSVersion.TLSv1_3, httpx.RemoteProtocolError)],
        ids=["TLS 1.2", "TLS 1.3"],
    )
    def test_a_certificate_from_a_foreign_ca_fails_the_handshake(
        self,
        served_events: ServedEvents,
        register_application: RegisterApplication,
        foreign_ca: ClientCertificateAuthority,
        version: ssl.TLSVersion,
        failure: type[httpx.TransportError],
    ) -> None:
        sender = register_application(served_events)
        context = foreign_ca.issue(sender.certificate.common_name).context(served_events.serving_ca)
        context.maximum_version = version

        with httpx.Client(verify=context) as session, pytest.raises(failure):
            session.post(f"{served_events.url}/{sender.name}/v1/events", json=LEGACY_EVENT)

        assert metric(served_events, "events_requests", application=sender.name) == 0

    def test_a_cloudevent_whose_source_names_another_application_is_answered_403(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender, other = register_application(served_events), register_application(served_events)

        answer = structured(sender, source=other.name)

        assert answer.status_code == 403
        assert other.name in answer.json()["error"]

    def test_a_body_over_64_kib_is_answered_413(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender = register_application(served_events)

        answer = legacy(sender, data={"padding": "x" * 65536})

        assert answer.status_code == 413
        assert answer.json()["type"] == "request_body_too_large"


class TestForwardedClientCertificates:
    def test_a_trusted_proxys_subject_is_taken_for_the_certificate(
        self, events_factory: StartEvents, register_application: RegisterApplication
    ) -> None:
        behind_proxy = events_factory(trusted_proxies="127.0.0.1")
        sender = register_application(behind_proxy)
        forwarded = {"X-Forwarded-Client-Cert": f'Hash=ab12;Subject="CN={sender.certificate.common_name}"'}

        answer = post_legacy(behind_proxy, sender.name, headers=forwarded)

        assert answer.status_code == 200

    def test_a_caller_cannot_pose_as_a_trusted_proxy_with_x_forwarded_for(
        self, events_factory: StartEvents, register_application: RegisterApplication
    ) -> None:
        behind_proxy = events_factory(trusted_proxies="192.0.2.10")
        sender = register_application(behind_proxy)
        forged = {
            "X-Forwarded-For": "192.0.2.10",
            "X-Forwarded-Client-Cert": f'Subject="CN={sender.certificate.common_name}"',
        }

        answer = post_legacy(behind_proxy, sender.name, headers=forged)

        assert answer.status_code == 500

    def test_without_trusted_proxies_the_header_is_ignored(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender = register_application(served_events)
        forwarded = {"X-Forwarded-Client-Cert": f'Subject="CN={sender.certificate.common_name}"'}

        answer = post_legacy(served_events, sender.name, headers=forwarded)

        assert answer.status_code == 500


class TestHealthAndMetrics:
    @pytest.mark.parametrize("path", ["/healthz", "/readyz"])
    def test_the_probes_answer_200(self, served_events: ServedEvents, path: str) -> None:
        assert httpx.get(f"{served_events.api_url}{path}", timeout=10).status_code == 200

    def test_metrics_count_requests_by_code_and_stored_events(
        self, served_events: ServedEvents, register_application: RegisterApplication
    ) -> None:
        sender = register_application(served_events)

        assert legacy(sender).status_code == 200
        assert legacy(sender, **{"event-time": "yesterday"}).status_code == 400

        requests = {"application": sender.name, "format": "legacy"}
        assert metric(served_events, "events_requests", **requests, code="200") == 1
        assert metric(served_events, "events_requests", **requests, code="400") == 1
        assert metric(served_events, "events_stored", application=sender.name) == 1


class TestDelivery:
    def test_events_sent_while_the_sink_is_down_are_delivered_in_order_when_it_returns(
        self,
        served_events: ServedEvents,
        register_application: RegisterApplication,
        event_sink: RecordingSink,
    ) -> None:
        sender = register_application(served_events)
        subscription = f"default/{sender.name}-orders"
        subscribe(sender, event_sink)
        event_sink.stop()
        sent = [str(uuid.uuid4()) for _ in range(3)]

        assert [legacy(sender, **{"event-id": event_id}).status_code for event_id in sent] == [200] * 3
        wait_until_blocking(
            lambda: metric(served_events, "events_delivery_retries", subscription=subscription) > 0,
            what="a delivery failing while the sink is down",
        )
        event_sink.start()

        wait_until_blocking(lambda: len(received(event_sink, sender)) == 3, what="three deliveries")
        assert [request.id for request in received(event_sink, sender)] == sent

    def test_an_event_the_sink_refuses_is_retried_then_listed_as_a_dead_letter(
        self,
        events_factory: StartEvents,
        register_application: RegisterApplication,
        event_sink: RecordingSink,
    ) -> None:
        served = events_factory(delivery_attempts="2", retry_initial="0.05")
        sender = register_application(served)
        subscribe(sender, event_sink, name="refused")
        event_sink.fail(500)

        assert legacy(sender, **{"event-id": "0d9b2c6e-3f5a-4d7b-9a1e-2c4b6d8f0a13"}).status_code == 200
        wait_until_blocking(
            lambda: metric(served, "events_dead_lettered", subscription="default/refused") == 1,
            what="the event being dead-lettered",
        )

        attempts = [request for request in event_sink.requests if request.type == full_type(sender)]
        assert [request.status for request in attempts] == [500, 500]
        listed = subprocess.run(
            [str(EVENTS), "dead-letters"],
            env=operator_environment(**served.process.env),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert letter["subscription"] == "default/refused"
        assert letter["attempts"] == 2
        assert letter["event"]["id"] == "0d9b2c6e-3f5a-4d7b-9a1e-2c4b6d8f0a13"
        assert letter["event"]["type"] == full_type(sender)


def gone(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is None or fields[0] == "Z"  # a zombie has exited; its parent has yet to reap it


def delivery_process(served: ServedEvents) -> int:
    """The pid of serve's delivery process, once one runs."""

    def running() -> set[int]:
        return {pid for pid in served.process.children() if not gone(pid)}

    wait_until_blocking(lambda: len(running()) == 1, what="serve's delivery process")
    [pid] = running()
    return pid


class TestDeliveryProcess:
    def test_the_delivery_process_ends_when_serve_is_killed(self, events_factory: StartEvents) -> None:
        served = events_factory()
        child = delivery_process(served)

        os.kill(served.process.pid, signal.SIGKILL)  # serve alone, not its process group

        wait_until_blocking(lambda: gone(child), what="the delivery process exiting after serve died")

    def test_a_delivery_process_that_dies_is_started_again_and_delivers_on(
        self,
        events_factory: StartEvents,
        register_application: RegisterApplication,
        event_sink: RecordingSink,
    ) -> None:
        served = events_factory()
        sender = register_application(served)
        subscribe(sender, event_sink)
        first = delivery_process(served)

        os.kill(first, signal.SIGKILL)
        wait_until_blocking(lambda: gone(first), what="the delivery process dying")
        second = delivery_process(served)
        event_id = str(uuid.uuid4())

        assert second != first
        assert legacy(sender, **{"event-id": event_id}).status_code == 200
        assert delivered_one(event_sink, sender).id == event_id
        assert metric(served, "events_delivery_process_restarts") == 1
