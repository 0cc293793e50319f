"""What every request to the served broker must carry (Basic credentials, a supported X-Broker-API-Version), and
the Open Service Broker API's error body on every refusal."""

from __future__ import annotations

import httpx
import pytest

from testing.broker import API_VERSION, BROKER, PASSWORD, USERNAME, ServedBroker, namespace_password
from testing.served import run_command


def test_a_request_without_credentials_is_refused_with_a_basic_challenge(broker: ServedBroker) -> None:
    answer = httpx.get(f"{broker.url}/production/v2/catalog", headers={"X-Broker-API-Version": API_VERSION})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="compass-broker"'
    assert answer.json()["error"] == "Unauthorized"


@pytest.mark.parametrize(
    "credentials",
    [
        (USERNAME, "wrong-password"),
        ("someone-else", namespace_password("production")),
        (USERNAME, namespace_password("production") + "x"),
        (USERNAME, PASSWORD),
    ],
    ids=["wrong password", "wrong user", "password with more", "the key itself"],
)
def test_wrong_basic_credentials_are_refused(broker: ServedBroker, credentials: tuple[str, str]) -> None:
    answer = httpx.get(
        f"{broker.url}/production/v2/catalog", headers={"X-Broker-API-Version": API_VERSION}, auth=credentials
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "Unauthorized"


def test_credentials_that_are_not_base64_are_refused(broker: ServedBroker) -> None:
    answer = httpx.get(
        f"{broker.url}/production/v2/catalog",
        headers={"X-Broker-API-Version": API_VERSION, "Authorization": "Basic not*base64"},
    )

    assert answer.status_code == 401


def test_a_request_without_the_version_header_fails_its_precondition(broker: ServedBroker) -> None:
    answer = httpx.get(
        f"{broker.url}/production/v2/catalog", auth=(USERNAME, namespace_password("production"))
    )

    assert answer.status_code == 412
    assert answer.json()["error"] == "APIVersionMissing"
    assert "X-Broker-API-Version" in answer.json()["description"]


@pytest.mark.parametrize("version", ["2.13", "1.99", "3.0", "2", "latest"])
def test_a_version_below_2_14_or_of_another_major_is_a_failed_precondition(
    broker: ServedBroker, version: str
) -> None:
    answer = broker.catalog("production", **{"X-Broker-API-Version": version})

    assert answer.status_code == 412
    assert answer.json()["error"] == "APIVersionUnsupported"


@pytest.mark.parametrize("version", ["2.14", "2.16", "2.17"])
def test_versions_from_2_14_on_are_served(broker: ServedBroker, version: str) -> None:
    assert broker.catalog("production", **{"X-Broker-API-Version": version}).status_code == 200


def test_a_namespaces_password_is_refused_on_another_namespaces_path(broker: ServedBroker) -> None:
    answer = httpx.get(
        f"{broker.url}/staging/v2/catalog",
        headers={"X-Broker-API-Version": API_VERSION},
        auth=(USERNAME, namespace_password("production")),
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "Unauthorized"


def test_a_namespaces_derived_password_is_accepted_on_its_path(broker: ServedBroker) -> None:
    answer = httpx.get(
        f"{broker.url}/staging/v2/catalog",
        headers={"X-Broker-API-Version": API_VERSION},
        auth=(USERNAME, namespace_password("staging")),
    )

    assert answer.status_code == 200


def test_the_password_the_cli_prints_is_the_one_the_server_accepts(broker: ServedBroker) -> None:
    printed = run_command(BROKER, "password", "--namespace", "staging", BROKER_PASSWORD=PASSWORD)
    assert printed.returncode == 0, printed.stderr

    answer = httpx.get(
        f"{broker.url}/staging/v2/catalog",
        headers={"X-Broker-API-Version": API_VERSION},
        auth=(USERNAME, printed.stdout.strip()),
    )

    assert answer.status_code == 200


def test_a_path_without_a_namespace_segment_is_refused(broker: ServedBroker) -> None:
    answer = httpx.get(f"{broker.url}//v2/catalog", **broker.request_options(""))

    assert answer.status_code == 401


def test_credentials_are_checked_before_the_version(broker: ServedBroker) -> None:
    answer = httpx.get(f"{broker.url}/production/v2/catalog")

    assert answer.status_code == 401


def test_the_catalog_without_a_namespace_says_where_it_is(broker: ServedBroker) -> None:
    answer = httpx.get(f"{broker.url}/v2/catalog", **broker.request_options("v2"))

    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"
    assert "<namespace>" in answer.json()["description"]


def test_a_path_that_cannot_name_a_namespace_is_not_found(broker: ServedBroker) -> None:
    answer = httpx.get(
        f"{broker.url}/Not_A_Namespace/v2/catalog", **broker.request_options("Not_A_Namespace")
    )

    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"


def test_an_unknown_route_is_not_found_in_the_error_body(broker: ServedBroker) -> None:
    answer = httpx.get(f"{broker.url}/production/v2/elsewhere", **broker.request_options("production"))

    assert answer.status_code == 404
    assert set(answer.json()) == {"error", "description"}


def test_a_method_the_catalog_does_not_take_is_not_allowed(broker: ServedBroker) -> None:
    answer = httpx.post(f"{broker.url}/production/v2/catalog", **broker.request_options("production"))

    assert answer.status_code == 405
    assert answer.json()["error"] == "MethodNotAllowed"
