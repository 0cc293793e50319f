"""The Kubernetes stand-in (testing/kube.py) calls validating admission webhooks as the API server does: the
AdmissionReview it sends, which writes it sends it for, the TLS it verifies, and what timeoutSeconds and
failurePolicy make of a webhook that fails. The webhook here is a recording HTTPS server with a certificate for
the Service's name (trustme); the watcher itself is tested against the stand-in in test_end_to_end.py."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from testing.kube import FakeKubeApi
from testing.threaded import ThreadedServer
from testing.tls import StandInTLS, tls_stand_in

SERVICE = ("kyma-system", "compass-watcher")
APPLICATIONS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications"
SUBSCRIPTIONS = "/apis/eventing.kyma-project.io/v1alpha2/namespaces/apps/subscriptions"
CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
WATCHED = {"watched": "yes"}


@dataclass
class RecordingWebhook:
    """Answers every AdmissionReview with ``allowed`` (and ``message``) after ``delay`` seconds; keeps the
    reviews and the paths it was sent."""

    tls: StandInTLS
    allowed: bool = True
    message: str = "kcp request queued"
    delay: float = 0.0
    reviews: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    async def app(self, request: Request) -> JSONResponse:
        review = await request.json()
        self.reviews.append(review)
        self.paths.append(f"{request.url.path}?{request.url.query}")
        await asyncio.sleep(self.delay)
        result: dict[str, Any] = {"metadata": {}, "status": "Success" if self.allowed else "Failure", "message": self.message}
        response = {"uid": review["request"]["uid"], "allowed": self.allowed, "status": result}
        return JSONResponse({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})

    def bundle(self) -> str:
        return base64.b64encode(self.tls.ca_file.read_bytes()).decode()


@pytest.fixture
def webhook(tmp_path: Path, kube_api: FakeKubeApi) -> Iterator[RecordingWebhook]:
    tls = tls_stand_in(tmp_path, hosts=["compass-watcher.kyma-system.svc"])
    recording = RecordingWebhook(tls)
    app = Starlette(routes=[Route("/{path:path}", recording.app, methods=["POST"])])
    with ThreadedServer(app, ssl_certfile=str(tls.cert_file), ssl_keyfile=str(tls.key_file)) as served:
        kube_api.services[SERVICE] = ("127.0.0.1", served.port)
        yield recording


def configuration(
    webhook: RecordingWebhook,
    *,
    resources: tuple[str, ...] = ("applications",),
    group: str = "applicationconnector.kyma-project.io",
    **fields: Any,
) -> dict[str, Any]:
    hook = {
        "name": "applications.watcher.compass.kyma-project.io",
        "clientConfig": {
            "service": {"namespace": SERVICE[0], "name": SERVICE[1], "path": "/validate/compass-runtime-agent"},
            "caBundle": webhook.bundle(),
        },
        "rules": [
            {
                "apiGroups": [group],
                "apiVersions": ["*"],
                "resources": list(resources),
                "operations": ["CREATE", "UPDATE", "DELETE"],
                "scope": "*",
            }
        ],
        "objectSelector": {"matchLabels": WATCHED},
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": "Ignore",
        "timeoutSeconds": 3,
        **fields,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "compass-watcher"},
        "webhooks": [hook],
    }


def application(name: str = "shop", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "labels": WATCHED if labels is None else labels},
        "spec": {"description": "a shop"},
    }


async def call(method: str, path: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        return await client.request(method, path, json=body, headers=headers)


async def test_a_create_sends_the_review_the_api_server_fills(
    kube_api: FakeKubeApi, webhook: RecordingWebhook
) -> None:
    # given
    kube_api.put_object(configuration(webhook))

    # when
    response = await call("POST", kube_api.url + APPLICATIONS + "?fieldManager=kubectl", application())

    # then
    assert response.status_code == 201
    assert webhook.paths == ["/validate/compass-runtime-agent?timeout=3s"]
    review = webhook.reviews[0]
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    request = review["request"]
    group, version = "applicationconnector.kyma-project.io", "v1alpha1"
    assert request["kind"] == request["requestKind"] == {"group": group, "version": version, "kind": "Application"}
    assert request["resource"] == request["requestResource"]
    assert request["resource"] == {"group": group, "version": version, "resource": "applications"}
    assert (request["name"], request["operation"], request["dryRun"]) == ("shop", "CREATE", False)
    assert "namespace" not in request  # cluster-scoped
    assert "subResource" not in request
    assert request["object"]["spec"] == {"description": "a shop"}
    assert request["oldObject"] is None
    assert request["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl"}
    assert request["userInfo"]["username"]
    assert request["uid"]
    calls = kube_api.admission_calls()
    assert [(item.webhook, item.allowed, item.message) for item in calls] == [
        ("applications.watcher.compass.kyma-project.io", True, "kcp request queued")
    ]


async def test_an_update_sends_the_old_and_the_new_object(kube_api: FakeKubeApi, webhook: RecordingWebhook) -> None:
    kube_api.put_object(configuration(webhook))
    kube_api.put_object(application())
    patch = {"spec": {"description": "changed"}}

    response = await call(
        "PATCH", kube_api.url + APPLICATIONS + "/shop", patch, **{"content-type": "application/merge-patch+json"}
    )

    assert response.status_code == 200
    request = webhook.reviews[0]["request"]
    assert request["operation"] == "UPDATE"
    assert request["options"]["kind"] == "UpdateOptions"
    assert (request["oldObject"]["spec"], request["object"]["spec"]) == ({"description": "a shop"}, patch["spec"])


async def test_a_delete_sends_the_old_object_alone(kube_api: FakeKubeApi, webhook: RecordingWebhook) -> None:
    kube_api.put_object(configuration(webhook))
    kube_api.put_object(application())

    response = await call("DELETE", kube_api.url + APPLICATIONS + "/shop")

    assert response.status_code == 200
    assert kube_api.object("Application", "shop") is None
    request = webhook.reviews[0]["request"]
    assert (request["operation"], request["object"]) == ("DELETE", None)
    assert request["oldObject"]["metadata"]["name"] == "shop"
    assert request["options"] == {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}


async def test_an_object_the_selector_does_not_match_is_not_sent(
    kube_api: FakeKubeApi, webhook: RecordingWebhook
) -> None:
    kube_api.put_object(configuration(webhook))

    response = await call("POST", kube_api.url + APPLICATIONS, application(labels={"other": "label"}))

    assert response.status_code == 201
    assert webhook.reviews == []


async def test_a_write_of_another_resource_is_not_sent(kube_api: FakeKubeApi, webhook: RecordingWebhook) -> None:
    kube_api.put_object(configuration(webhook, resources=("compassconnections",)))

    await call("POST", kube_api.url + APPLICATIONS, application())

    assert webhook.reviews == []


async def test_a_status_write_goes_to_a_status_rule_only(kube_api: FakeKubeApi, webhook: RecordingWebhook) -> None:
    # given: a Subscription (its kind has the status subresource) and a rule for subscriptions/status
    kube_api.put_object(configuration(webhook, resources=("subscriptions/status",), group="eventing.kyma-project.io"))
    subscription = {
        "apiVersion": "eventing.kyma-project.io/v1alpha2",
        "kind": "Subscription",
        "metadata": {"name": "orders", "namespace": "apps", "labels": WATCHED},
        "spec": {"sink": "http://orders.apps"},
    }
    created = await call("POST", kube_api.url + SUBSCRIPTIONS, subscription)
    merge = {"content-type": "application/merge-patch+json"}

    # when
    response = await call("PATCH", kube_api.url + SUBSCRIPTIONS + "/orders/status", {"status": {"ready": True}}, **merge)

    # then
    assert created.status_code == 201
    assert response.status_code == 200
    stored = kube_api.object("Subscription", "orders", "apps")
    assert stored is not None
    assert stored["status"] == {"ready": True}
    [review] = webhook.reviews
    request = review["request"]
    assert request["subResource"] == request["requestSubResource"] == "status"
    assert (request["namespace"], request["operation"]) == ("apps", "UPDATE")
    assert request["object"]["status"] == {"ready": True}
    assert "status" not in request["oldObject"]


async def test_a_status_patch_changes_nothing_but_the_status(kube_api: FakeKubeApi) -> None:
    kube_api.put_object(
        {
            "apiVersion": "eventing.kyma-project.io/v1alpha2",
            "kind": "Subscription",
            "metadata": {"name": "orders", "namespace": "apps"},
            "spec": {"sink": "http://orders.apps"},
        }
    )
    patch = {"spec": {"sink": "http://elsewhere"}, "status": {"ready": True}}

    await call(
        "PATCH", kube_api.url + SUBSCRIPTIONS + "/orders/status", patch, **{"content-type": "application/merge-patch+json"}
    )

    stored = kube_api.object("Subscription", "orders", "apps")
    assert stored is not None
    assert (stored["spec"], stored["status"]) == ({"sink": "http://orders.apps"}, {"ready": True})


async def test_ignore_lets_the_write_go_on_after_the_timeout(kube_api: FakeKubeApi, webhook: RecordingWebhook) -> None:
    # given: a webhook slower than its timeoutSeconds
    kube_api.put_object(configuration(webhook, timeoutSeconds=1))
    webhook.delay = 3.0

    # when
    response = await call("POST", kube_api.url + APPLICATIONS, application())

    # then
    assert response.status_code == 201
    [made] = kube_api.admission_calls()
    assert (made.allowed, made.error) == (None, "context deadline exceeded")


async def test_fail_refuses_the_write_when_the_webhook_is_unreachable(
    kube_api: FakeKubeApi, webhook: RecordingWebhook
) -> None:
    kube_api.put_object(configuration(webhook, failurePolicy="Fail"))
    kube_api.services.clear()

    response = await call("POST", kube_api.url + APPLICATIONS, application())

    assert response.status_code == 500
    body = response.json()
    assert (body["kind"], body["reason"]) == ("Status", "InternalError")
    assert body["message"].startswith('Internal error occurred: failed calling webhook "applications.watcher')
    assert kube_api.object("Application", "shop") is None


async def test_a_server_certificate_the_bundle_does_not_verify_is_a_failed_call(
    kube_api: FakeKubeApi, webhook: RecordingWebhook, tmp_path: Path
) -> None:
    # given: the bundle of another CA
    (tmp_path / "other").mkdir()
    other = tls_stand_in(tmp_path / "other")
    stale = configuration(webhook, failurePolicy="Fail")
    stale["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(other.ca_file.read_bytes()).decode()
    kube_api.put_object(stale)

    # when
    response = await call("POST", kube_api.url + APPLICATIONS, application())

    # then
    assert response.status_code == 500
    assert webhook.reviews == []
    [made] = kube_api.admission_calls()
    assert made.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in made.error


async def test_the_certificate_is_verified_for_the_services_name(
    kube_api: FakeKubeApi, webhook: RecordingWebhook
) -> None:
    # given: the webhook's certificate is for compass-watcher.kyma-system.svc; the configuration names another
    hooked = configuration(webhook, failurePolicy="Fail")
    hooked["webhooks"][0]["clientConfig"]["service"]["name"] = "elsewhere"
    kube_api.put_object(hooked)
    kube_api.services[(SERVICE[0], "elsewhere")] = kube_api.services[SERVICE]

    # when
    response = await call("POST", kube_api.url + APPLICATIONS, application())

    # then
    assert response.status_code == 500
    assert webhook.reviews == []
    [made] = kube_api.admission_calls()
    assert made.url.startswith("https://elsewhere.kyma-system.svc:443/validate/")
    assert made.error is not None
    assert "Hostname mismatch" in made.error


async def test_a_denial_refuses_the_write_with_the_webhooks_message(
    kube_api: FakeKubeApi, webhook: RecordingWebhook
) -> None:
    kube_api.put_object(configuration(webhook))
    webhook.allowed, webhook.message = False, "not now"

    response = await call("POST", kube_api.url + APPLICATIONS, application())

    assert response.status_code == 400
    expected = 'admission webhook "applications.watcher.compass.kyma-project.io" denied the request: not now'
    assert response.json()["message"] == expected
    assert kube_api.object("Application", "shop") is None


async def test_a_dry_run_is_reviewed_as_one_and_not_stored(kube_api: FakeKubeApi, webhook: RecordingWebhook) -> None:
    kube_api.put_object(configuration(webhook))

    response = await call("POST", kube_api.url + APPLICATIONS + "?dryRun=All", application())

    assert response.status_code == 201
    assert webhook.reviews[0]["request"]["dryRun"] is True
    assert kube_api.object("Application", "shop") is None


async def test_webhook_configurations_are_not_reviewed_themselves(
    kube_api: FakeKubeApi, webhook: RecordingWebhook
) -> None:
    kube_api.put_object(configuration(webhook, resources=("*",), group="*"))
    kube_api.put_object(application())

    await call("DELETE", kube_api.url + CONFIGURATIONS + "/compass-watcher")

    assert webhook.reviews == []
    assert kube_api.object("ValidatingWebhookConfiguration", "compass-watcher") is None
