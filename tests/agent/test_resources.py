"""Applications as the Director answers them → Application and Secret manifests (DESIGN.md "Application custom
resource")."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from agent.resources import (
    NameConflict,
    application_resources,
    desired_resources,
    kubernetes_name,
    normalize,
    service_name,
)
from dataplane.names import PROXY_TIMEOUT_ANNOTATION

GATEWAY = "http://gateway.kyma-system:8082"
APPLICATION_ID = "0f7a2b5e-1d4c-4e0a-9b8f-3c6d5e4f2a10"
BASIC_BUNDLE = "6a1e9c3d-2b4f-4a7e-8c5d-1e2f3a4b5c6d"
OAUTH_BUNDLE = "9b2d8e4f-3c5a-4b6d-9e7f-2a3b4c5d6e7f"
EVENTS_BUNDLE = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    info = {"startCursor": "", "endCursor": "", "hasNextPage": False}
    return {"data": items, "pageInfo": info, "totalCount": len(items)}


# As applicationsForRuntime answers agent.queries.APPLICATIONS_FOR_RUNTIME for a normalized runtime.
SHOP: dict[str, Any] = {
    "id": APPLICATION_ID,
    "name": "mp-shop",
    "description": "The web shop",
    "auths": [{"id": "client-1"}, {"id": "client-2"}],
    "bundles": _page(
        [
            {
                "id": BASIC_BUNDLE,
                "name": "Orders API",
                "description": "orders",
                "instanceAuthRequestInputSchema": '{"type": "object"}',
                "apiDefinitions": _page(
                    [{"id": "api-1", "name": "Orders v1", "description": "", "targetURL": "https://shop/v1"}]
                ),
                "eventDefinitions": _page([{"id": "event-1", "name": "order.created", "description": None}]),
                "defaultInstanceAuth": {
                    "credential": {"username": "shop-user", "password": "shop-password"},
                    "additionalHeaders": {"X-Tenant": ["t1"]},
                    "additionalQueryParams": {"client": ["a", "b"]},
                    "requestAuth": None,
                },
            },
            {
                "id": OAUTH_BUNDLE,
                "name": "Stock",
                "description": None,
                "instanceAuthRequestInputSchema": None,
                "apiDefinitions": _page(
                    [{"id": "api-2", "name": "stock", "description": None, "targetURL": "https://shop/stock"}]
                ),
                "eventDefinitions": _page([]),
                "defaultInstanceAuth": {
                    "credential": {"clientId": "cid", "clientSecret": "csecret", "url": "https://auth/token"},
                    "additionalHeaders": None,
                    "additionalQueryParams": None,
                    "requestAuth": {"csrf": {"tokenEndpointURL": "https://shop/csrf"}},
                },
            },
            {
                "id": EVENTS_BUNDLE,
                "name": "events only",
                "description": None,
                "instanceAuthRequestInputSchema": None,
                "apiDefinitions": _page([]),
                "eventDefinitions": _page([{"id": "event-2", "name": "stock.low", "description": None}]),
                "defaultInstanceAuth": {"credential": {"username": "unused", "password": "unused"}},
            },
        ]
    ),
}


def sha1(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()  # noqa: S324 - the agent's name suffix, as Compass's agent makes it


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}
BASIC_SECRET = f"mp-shop-{sha1(BASIC_BUNDLE)[:10]}"
OAUTH_SECRET = f"mp-shop-{sha1(OAUTH_BUNDLE)[:10]}"

EXPECTED_APPLICATION = {
    "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "mp-shop", "labels": OWNED},
    "spec": {
        "description": "The web shop",
        "skipInstallation": False,
        "labels": {"connected-app": "mp-shop"},
        "compassMetadata": {
            "applicationId": APPLICATION_ID,
            "authentication": {"clientIds": ["client-1", "client-2"]},
        },
        "services": [
            {
                "id": BASIC_BUNDLE,
                "identifier": "",
                "name": f"orders-api-{sha1(BASIC_BUNDLE)[:5]}",
                "displayName": "Orders API",
                "description": "orders",
                "authCreateParameterSchema": '{"type": "object"}',
                "entries": [
                    {
                        "type": "API",
                        "id": "api-1",
                        "name": "Orders v1",
                        "targetUrl": "https://shop/v1",
                        "centralGatewayUrl": f"{GATEWAY}/mp-shop/orders-api/orders-v1",
                        "credentials": {"type": "Basic", "secretName": BASIC_SECRET},
                        "requestParametersSecretName": f"{BASIC_SECRET}-params",
                    },
                    {"type": "Events", "id": "event-1", "name": "order.created"},
                ],
            },
            {
                "id": OAUTH_BUNDLE,
                "identifier": "",
                "name": f"stock-{sha1(OAUTH_BUNDLE)[:5]}",
                "displayName": "Stock",
                "description": "",
                "entries": [
                    {
                        "type": "API",
                        "id": "api-2",
                        "name": "stock",
                        "targetUrl": "https://shop/stock",
                        "centralGatewayUrl": f"{GATEWAY}/mp-shop/stock/stock",
                        "credentials": {
                            "type": "OAuth",
                            "secretName": OAUTH_SECRET,
                            "authenticationUrl": "https://auth/token",
                            "csrfInfo": {"tokenEndpointURL": "https://shop/csrf"},
                        },
                    }
                ],
            },
            {
                "id": EVENTS_BUNDLE,
                "identifier": "",
                "name": f"events-only-{sha1(EVENTS_BUNDLE)[:5]}",
                "displayName": "events only",
                "description": "",
                "entries": [{"type": "Events", "id": "event-2", "name": "stock.low"}],
            },
        ],
    },
}


def secret(name: str, bundle_id: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": "compass-apps",
            "labels": {"app": "mp-shop", "bundleId": bundle_id, **OWNED},
        },
        "type": "Opaque",
        "data": {key: b64(value) for key, value in data.items()},
    }


EXPECTED_SECRETS = [
    secret(BASIC_SECRET, BASIC_BUNDLE, {"password": "shop-password", "username": "shop-user"}),
    secret(
        f"{BASIC_SECRET}-params",
        BASIC_BUNDLE,
        {"headers": '{"X-Tenant":["t1"]}', "queryParameters": '{"client":["a","b"]}'},
    ),
    secret(OAUTH_SECRET, OAUTH_BUNDLE, {"clientId": "cid", "clientSecret": "csecret"}),
]


def test_an_application_becomes_the_pinned_application_manifest_and_its_secrets() -> None:
    manifests = application_resources(SHOP, gateway_url=GATEWAY + "/", secret_namespace="compass-apps")

    assert manifests == [EXPECTED_APPLICATION, *EXPECTED_SECRETS]


def test_no_credential_appears_in_the_application_manifest() -> None:
    application, *_ = application_resources(SHOP, gateway_url=GATEWAY, secret_namespace="compass-apps")

    text = json.dumps(application)
    assert [value for value in ("shop-user", "shop-password", "csecret") if value in text] == []


def test_the_same_answer_gives_identical_manifests() -> None:
    first = application_resources(SHOP)
    second = application_resources(json.loads(json.dumps(SHOP)))

    assert first == second


def test_a_bundle_without_credentials_has_entries_without_a_credentials_reference() -> None:
    bundle = {
        **SHOP["bundles"]["data"][1],
        "defaultInstanceAuth": None,
    }
    application = {**SHOP, "bundles": _page([bundle])}

    manifests = application_resources(application)

    assert [manifest["kind"] for manifest in manifests] == ["Application"]
    entry = manifests[0]["spec"]["services"][0]["entries"][0]
    assert "credentials" not in entry and "requestParametersSecretName" not in entry


CERTIFICATE_PEM = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----"


def _certificate_oauth_shop(pem: str) -> dict[str, Any]:
    credential = {"clientId": "orders-client", "certificate": pem, "url": "https://auth.example.com/token"}
    bundle = {**SHOP["bundles"]["data"][1], "defaultInstanceAuth": {"credential": credential}}
    return {**SHOP, "bundles": _page([bundle])}


def test_a_certificate_oauth_credential_with_its_key_becomes_an_oauth_with_cert_secret() -> None:
    manifests = application_resources(_certificate_oauth_shop(f"{CERTIFICATE_PEM}\n{KEY_PEM}\n"))

    application, secret_manifest = manifests
    credentials = application["spec"]["services"][0]["entries"][0]["credentials"]
    assert (credentials["type"], credentials["authenticationUrl"]) == (
        "OAuthWithCert",
        "https://auth.example.com/token",
    )
    assert credentials["secretName"] == secret_manifest["metadata"]["name"]
    data = {key: base64.b64decode(value).decode() for key, value in secret_manifest["data"].items()}
    assert data == {"clientId": "orders-client", "crt": CERTIFICATE_PEM + "\n", "key": KEY_PEM + "\n"}


@pytest.mark.parametrize(
    "pem", [pytest.param(CERTIFICATE_PEM, id="chain-without-key"), pytest.param("not a pem", id="no-pem")]
)
def test_a_certificate_oauth_credential_without_a_usable_key_pair_gives_no_credentials(pem: str) -> None:
    manifests = application_resources(_certificate_oauth_shop(pem))

    assert [manifest["kind"] for manifest in manifests] == ["Application"]
    assert "credentials" not in manifests[0]["spec"]["services"][0]["entries"][0]


def test_names_are_normalized_for_kubernetes() -> None:
    assert normalize("  Orders API (v2)__beta ") == "orders-api-v2-beta"
    assert service_name("İstanbul Shop", "id") == f"istanbul-shop-{sha1('id')[:5]}"
    assert service_name("!!!", "id") == sha1("id")[:5]


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        # longer than 57 characters: the gateway cuts, Kubernetes names do not
        (
            "Customer Relationship Management: Orders, Invoices and Returns (v2)",
            "customer-relationship-management-orders-invoices-and-retu",
        ),
        # Go's rule knows ASCII only: "İ" is punctuation to it, not "i"
        ("İnventory", "nventory"),
        # leading punctuation dropped; a "-" left at the cut stays
        (
            "(Orders, invoices and returns of my customer relationship) v2",
            "orders-invoices-and-returns-of-my-customer-relationship-",
        ),
    ],
)
def test_central_gateway_url_segments_are_the_names_the_gateway_matches(name: str, segment: str) -> None:
    # given a bundle and its API of the same name, one the two normalizations disagree on
    assert normalize(name) != segment
    bundle = SHOP["bundles"]["data"][1]
    api = {**bundle["apiDefinitions"]["data"][0], "name": name}
    application = {**SHOP, "bundles": _page([{**bundle, "name": name, "apiDefinitions": _page([api])}])}

    # when
    manifest, *_ = application_resources(application, gateway_url=GATEWAY)

    # then
    entry = manifest["spec"]["services"][0]["entries"][0]
    assert entry["centralGatewayUrl"] == f"{GATEWAY}/mp-shop/{segment}/{segment}"


@pytest.mark.parametrize(("label", "annotation"), [("60", "60"), (45, "45"), (2.5, "2.5")])
def test_the_proxy_timeout_label_becomes_the_applications_annotation_as_text(
    label: object, annotation: str
) -> None:
    application = {**SHOP, "proxyTimeout": {PROXY_TIMEOUT_ANNOTATION: label}}

    manifest, *_ = application_resources(application)

    assert manifest["metadata"]["annotations"] == {PROXY_TIMEOUT_ANNOTATION: annotation}


@pytest.mark.parametrize("labels", [None, {}])
def test_without_the_proxy_timeout_label_the_application_has_no_annotations(labels: object) -> None:
    manifest, *_ = application_resources({**SHOP, "proxyTimeout": labels})

    assert manifest == application_resources(SHOP)[0]
    assert "annotations" not in manifest["metadata"]


def test_a_name_the_director_did_not_normalize_is_normalized_as_compass_does() -> None:
    assert kubernetes_name("mp-shop") == "mp-shop"
    assert kubernetes_name("My Shop") == "mp-my-shop"


def test_of_applications_sharing_a_name_only_the_one_whose_resource_exists_is_wanted() -> None:
    # given "Shop" normalized by the Director, and another application really named "mp-shop"
    twin = {**SHOP, "id": "twin", "name": "mp-shop"}
    existing = {"mp-shop": application_resources(SHOP)[0]}

    manifests, conflicts = desired_resources([twin, SHOP], existing=existing)

    assert conflicts == [NameConflict("mp-shop", ("twin", APPLICATION_ID), kept=APPLICATION_ID)]
    assert manifests == application_resources(SHOP)


def test_of_applications_sharing_a_name_none_is_wanted_when_none_has_its_resource() -> None:
    twin = {**SHOP, "id": "twin", "name": "mp-shop"}

    manifests, conflicts = desired_resources([SHOP, twin])

    assert conflicts == [NameConflict("mp-shop", (APPLICATION_ID, "twin"), kept=None)]
    assert manifests == []
