"""From a gateway path to an API, through the served gateway: path shapes on both listeners, Kyma's matching by
normalized names, its error answers, Secrets that cannot be used, changes that apply to the next call, and the
health and metrics listener (DATAPLANE.md A.2, A.3, A.4, A.8)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testing.applications import Manifest, api_entry, application, event_entry, secret, service
from testing.gateway import ServedGateway
from testing.upstream import UpstreamStandIn

KYMA_ERROR_CONTENT_TYPE = "application/json;charset=UTF-8"
INVALID_PATH = {"code": 400, "error": "failed to extract API Identifier from path"}


def orders(name: str, target_url: str, **entry: Any) -> Manifest:
    """Application ``name`` with one service "Orders" (gateway name ``orders``) and its API "v1"."""
    return application(name, service("Orders", api_entry("v1", target_url, **entry), service_id="orders-id"))


def kyma_error(answer: httpx.Response) -> dict[str, Any]:
    """The gateway's own error answer, checked for Kyma's content type."""
    assert answer.headers["content-type"] == KYMA_ERROR_CONTENT_TYPE
    body: dict[str, Any] = answer.json()
    return body


def listener_url(gateway: ServedGateway, listener: str) -> str:
    """The URL of the gateway's ``standalone`` or ``compass`` proxy listener."""
    return gateway.standalone_url if listener == "standalone" else gateway.compass_url


def requests_total(gateway: ServedGateway, application: str, api: str, code: str) -> float:
    text = httpx.get(f"{gateway.api_url}/metrics").text
    wanted = {"application": application, "api": api, "code": code}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_requests_total" and sample.labels == wanted
    )


# -- path shapes


@pytest.mark.parametrize(
    ("listener", "path"),
    [
        pytest.param("standalone", "/", id="standalone-without-application"),
        pytest.param("standalone", "/routing-short", id="standalone-without-service"),
        pytest.param("compass", "/routing-short/orders", id="compass-without-entry"),
    ],
)
def test_a_path_too_short_to_name_an_api_is_refused(gateway: ServedGateway, listener: str, path: str) -> None:
    answer = httpx.get(listener_url(gateway, listener) + path)

    assert answer.status_code == 400
    assert kyma_error(answer) == INVALID_PATH


@pytest.mark.parametrize(
    ("name", "target_path", "listener", "path", "raw_path"),
    [
        pytest.param(
            "routing-standalone-root",
            "/echo/base",
            "standalone",
            "/orders",
            "/echo/base",
            id="the-standalone-base-path-calls-the-target-url-itself",
        ),
        pytest.param(
            "routing-compass-root",
            "/echo/base",
            "compass",
            "/orders/v1",
            "/echo/base",
            id="the-compass-base-path-calls-the-target-url-itself",
        ),
        pytest.param(
            "routing-joined",
            "/echo/base/",
            "compass",
            "/orders/v1/items/1",
            "/echo/base/items/1",
            id="the-rest-of-the-path-is-joined-to-the-target-path",
        ),
        pytest.param(
            "routing-trailing-slash",
            "/echo/base",
            "compass",
            "/orders/v1/items/",
            "/echo/base/items/",
            id="a-trailing-slash-of-the-caller-is-kept",
        ),
    ],
)
def test_a_gateway_path_calls_its_place_under_the_target_url(
    gateway: ServedGateway,
    upstream_stand_in: UpstreamStandIn,
    *,
    name: str,
    target_path: str,
    listener: str,
    path: str,
    raw_path: str,
) -> None:
    gateway.manifests.put(orders(name, upstream_stand_in.http_url + target_path))

    answer = httpx.get(f"{listener_url(gateway, listener)}/{name}{path}")

    assert answer.status_code == 200
    assert answer.json()["raw_path"] == raw_path


# -- matching


@pytest.mark.parametrize(
    ("name", "entry", "listener", "path"),
    [
        pytest.param(
            "routing-normalized",
            "Orders V1 (beta)",
            "compass",
            "/orders-api/orders-v1-beta/x",
            id="compass-service-and-entry",
        ),
        pytest.param(
            "routing-standalone-normalized",
            "v1",
            "standalone",
            "/orders-api/x",
            id="standalone-service-display-name",
        ),
    ],
)
def test_the_path_segments_match_normalized_names(
    gateway: ServedGateway,
    upstream_stand_in: UpstreamStandIn,
    *,
    name: str,
    entry: str,
    listener: str,
    path: str,
) -> None:
    target_url = f"{upstream_stand_in.http_url}/echo/orders"
    gateway.manifests.put(application(name, service("Orders API", api_entry(entry, target_url))))

    answer = httpx.get(f"{listener_url(gateway, listener)}/{name}{path}")

    assert answer.status_code == 200
    assert answer.json()["raw_path"] == "/echo/orders/x"


def test_the_service_is_matched_by_its_display_name_not_its_name(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("routing-display-name", f"{upstream_stand_in.http_url}/echo/base"))

    answer = httpx.get(f"{gateway.compass_url}/routing-display-name/orders-id/v1")

    assert answer.status_code == 404


def test_an_events_entry_is_not_an_api(gateway: ServedGateway, upstream_stand_in: UpstreamStandIn) -> None:
    gateway.manifests.put(
        application(
            "routing-events",
            service(
                "Orders",
                event_entry("v1"),
                api_entry("v2", f"{upstream_stand_in.http_url}/echo/v2"),
            ),
        )
    )

    on_compass = httpx.get(f"{gateway.compass_url}/routing-events/orders/v1")
    on_standalone = httpx.get(f"{gateway.standalone_url}/routing-events/orders")

    assert on_compass.status_code == 404
    assert on_standalone.json()["raw_path"] == "/echo/v2"


@pytest.mark.parametrize(
    ("listener", "path", "error"),
    [
        pytest.param(
            "standalone",
            "/routing-nobody/orders/x",
            "service with name orders not found",
            id="standalone-unknown-application",
        ),
        pytest.param(
            "standalone",
            "/routing-known/invoices/x",
            "service with name invoices not found",
            id="standalone-unknown-service",
        ),
        pytest.param(
            "compass",
            "/routing-nobody/orders/v1/x",
            "service with name orders and entry name v1 not found",
            id="compass-unknown-application",
        ),
        pytest.param(
            "compass",
            "/routing-known/orders/v9",
            "service with name orders and entry name v9 not found",
            id="compass-unknown-entry",
        ),
    ],
)
def test_an_unknown_name_is_not_found_with_kymas_message_of_the_listener(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, listener: str, path: str, error: str
) -> None:
    gateway.manifests.put(orders("routing-known", f"{upstream_stand_in.http_url}/echo/base"))

    answer = httpx.get(listener_url(gateway, listener) + path)

    assert answer.status_code == 404
    assert kyma_error(answer) == {"code": 404, "error": error}


def test_two_matching_entries_are_refused_as_ambiguous(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    target = f"{upstream_stand_in.http_url}/echo/base"
    gateway.manifests.put(
        application(
            "routing-ambiguous",
            service("Orders", api_entry("v1", target), service_id="first"),
            service("orders", api_entry("V1", target), service_id="second"),
        )
    )

    answer = httpx.get(f"{gateway.compass_url}/routing-ambiguous/orders/v1")

    assert answer.status_code == 400
    assert kyma_error(answer)["error"].startswith(
        "failed to get service with name 'orders': multiple services found"
    )
    assert upstream_stand_in.requests == []


def test_two_api_entries_of_one_service_are_ambiguous_on_the_standalone_listener(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    target = f"{upstream_stand_in.http_url}/echo/base"
    gateway.manifests.put(
        application(
            "routing-ambiguous-standalone",
            service("Orders", api_entry("v1", target), api_entry("v2", target)),
        )
    )

    answer = httpx.get(f"{gateway.standalone_url}/routing-ambiguous-standalone/orders")

    assert answer.status_code == 400
    assert "multiple services found" in kyma_error(answer)["error"]


# -- Secrets


def test_a_missing_credentials_secret_is_an_internal_error_naming_it(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    credentials = {"type": "Basic", "secretName": "routing-missing-basic"}
    gateway.manifests.put(
        orders("routing-missing-secret", f"{upstream_stand_in.http_url}/echo/base", credentials=credentials)
    )

    answer = httpx.get(f"{gateway.compass_url}/routing-missing-secret/orders/v1")

    assert answer.status_code == 500
    assert kyma_error(answer) == {
        "code": 500,
        "error": "failed to read API for orders-id service, secret 'routing-missing-basic' not found",
    }
    assert upstream_stand_in.requests == []


def test_request_parameters_that_are_not_json_are_an_internal_error(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(
        orders(
            "routing-bad-parameters",
            f"{upstream_stand_in.http_url}/echo/base",
            parameters_secret="routing-bad-parameters",
        ),
        secret("routing-bad-parameters", headers="{not json"),
    )

    answer = httpx.get(f"{gateway.compass_url}/routing-bad-parameters/orders/v1")

    assert answer.status_code == 500
    assert kyma_error(answer)["error"].startswith("Failed to unmarshal headers, ")
    assert upstream_stand_in.requests == []


# -- changes apply to the next call


def test_a_changed_target_url_is_called_by_the_next_call(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    url = f"{gateway.compass_url}/routing-moved/orders/v1"
    gateway.manifests.put(orders("routing-moved", f"{upstream_stand_in.http_url}/echo/old"))
    assert httpx.get(url).json()["raw_path"] == "/echo/old"

    gateway.manifests.put(orders("routing-moved", f"{upstream_stand_in.http_url}/echo/new"))

    assert httpx.get(url).json()["raw_path"] == "/echo/new"


def test_changed_basic_credentials_are_sent_by_the_next_call(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    url = f"{gateway.compass_url}/routing-rotated/orders/v1"
    credentials = {"type": "Basic", "secretName": "routing-rotated"}
    gateway.manifests.put(
        orders("routing-rotated", f"{upstream_stand_in.http_url}/echo/base", credentials=credentials),
        secret("routing-rotated", username="user", password="old"),
    )
    httpx.get(url)

    gateway.manifests.put(secret("routing-rotated", username="user", password="new"))
    httpx.get(url)

    sent = [request.header("authorization") for request in upstream_stand_in.requests]
    assert sent == [
        f"Basic {base64.b64encode(b'user:' + password).decode()}" for password in (b"old", b"new")
    ]


def test_a_deleted_application_is_not_found_by_the_next_call(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    url = f"{gateway.compass_url}/routing-deleted/orders/v1"
    gateway.manifests.put(orders("routing-deleted", f"{upstream_stand_in.http_url}/echo/base"))
    assert httpx.get(url).status_code == 200

    gateway.manifests.remove("Application", "routing-deleted")

    assert httpx.get(url).status_code == 404


# -- the health and metrics listener


def test_calls_are_counted_by_application_api_and_status(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("routing-counted", f"{upstream_stand_in.http_url}/code"))

    for code in ("200", "200", "404", "503"):
        httpx.get(f"{gateway.compass_url}/routing-counted/orders/v1/{code}")

    assert requests_total(gateway, "routing-counted", "v1", "200") == 2
    assert requests_total(gateway, "routing-counted", "v1", "404") == 1
    assert requests_total(gateway, "routing-counted", "v1", "502") == 1


def test_calls_to_no_known_api_are_counted_without_names(gateway: ServedGateway) -> None:
    before = requests_total(gateway, "", "", "404")

    httpx.get(f"{gateway.compass_url}/routing-uncounted/made-up/v1")

    assert requests_total(gateway, "", "", "404") == before + 1
    metrics = httpx.get(f"{gateway.api_url}/metrics").text
    assert "routing-uncounted" not in metrics
    assert "made-up" not in metrics


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_api_listener_answers_health_probes(gateway: ServedGateway, path: str) -> None:
    assert httpx.get(gateway.api_url + path).status_code == 200


def test_an_unknown_path_on_the_api_listener_is_not_found_in_kymas_json(gateway: ServedGateway) -> None:
    answer = httpx.get(f"{gateway.api_url}/routing/orders/v1")

    assert answer.status_code == 404
    assert kyma_error(answer) == {"code": 404, "error": "Requested resource could not be found."}


def test_the_error_body_is_one_json_line(gateway: ServedGateway) -> None:
    answer = httpx.get(gateway.standalone_url + "/")

    assert answer.content.endswith(b"}\n")
    assert json.loads(answer.content) == INVALID_PATH
