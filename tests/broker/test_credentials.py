"""What a binding hands out (``broker.credentials``): Kyma's variable names, with the cases of Kyma's own tests
(``bind_creds_renderer_test.go``), and Kyma's gateway configuration for each kind of credential."""

from __future__ import annotations

from typing import Any

import pytest

from broker.credentials import binding_credentials, variable_prefix
from dataplane.catalog.model import Application, Entry, Service

API_ID = "924e9f10-1e22-4f23-bce8-9b78b02c6f8e"


@pytest.mark.parametrize(
    ("name", "entry_id", "prefix"),
    [
        (
            " 123  test some    123 @  #$ @3 %d \t \n  name   ",
            API_ID,
            "TEST_SOME_123_D_NAME_924E9F10_1E22_4F23_BCE8_9B78B02C6F8E",
        ),
        (
            "API name value",
            "  924e# %^& 9f10-1e22-4f23-bce8-9b78b02c6f8e",
            "API_NAME_VALUE_924E9F10_1E22_4F23_BCE8_9B78B02C6F8E",
        ),
        ("orders-api", API_ID, "ORDERSAPI_924E9F10_1E22_4F23_BCE8_9B78B02C6F8E"),
    ],
)
def test_an_apis_variable_prefix_follows_kymas_rule(name: str, entry_id: str, prefix: str) -> None:
    assert variable_prefix(Entry(type="API", id=entry_id, name=name)) == prefix


def credentials_of(auth: dict[str, Any], *entries: Entry) -> dict[str, Any]:
    service = Service(id="bundle", name="orders", display_name="Orders", entries=entries)
    return binding_credentials(Application(name="mp-shop"), service, auth, events_url="http://events:8080/")


def test_oauth_credentials_with_request_parameters_and_csrf_are_kymas_configuration() -> None:
    auth = {
        "credential": {
            "__typename": "OAuthCredentialData",
            "clientId": "c",
            "clientSecret": "s",
            "url": "https://t",
        },
        "additionalHeaders": {"X-A": ["1"]},
        "additionalQueryParams": {"q": ["2"]},
        "requestAuth": {"csrf": {"tokenEndpointURL": "https://csrf"}},
    }

    found = credentials_of(auth)

    assert found == {
        "CREDENTIALS_TYPE": "oauth",
        "CONFIGURATION": {
            "credentials": {"clientId": "c", "clientSecret": "s", "tokenUrl": "https://t"},
            "requestParameters": {"headers": {"X-A": ["1"]}, "queryParameters": {"q": ["2"]}},
            "csrfConfig": {"tokenUrl": "https://csrf"},
        },
    }


def test_a_certificate_oauth_credential_is_oauthwithcert() -> None:
    credential = {
        "__typename": "CertificateOAuthCredentialData",
        "clientId": "c",
        "certificate": "PEM",
        "url": "u",
    }

    found = credentials_of({"credential": credential})

    assert found["CREDENTIALS_TYPE"] == "oauthwithcert"
    assert found["CONFIGURATION"] == {"credentials": {"clientId": "c", "certificate": "PEM", "tokenUrl": "u"}}


def test_an_instance_auth_without_a_credential_is_noauth() -> None:
    assert credentials_of({"credential": None}) == {"CREDENTIALS_TYPE": "noauth", "CONFIGURATION": {}}


def test_each_api_has_its_urls_and_gateway_url_is_only_there_for_a_single_api() -> None:
    first = Entry(
        "API",
        "a-1",
        "orders",
        target_url="https://t/1",
        central_gateway_url="http://gw/mp-shop/orders/orders",
    )
    second = Entry(
        "API", "b-2", "stock", target_url="https://t/2", central_gateway_url="http://gw/mp-shop/orders/stock"
    )

    found = credentials_of({}, first, second)

    assert found["ORDERS_A_1_GATEWAY_URL"] == "http://gw/mp-shop/orders/orders"
    assert found["STOCK_B_2_TARGET_URL"] == "https://t/2"
    assert "GATEWAY_URL" not in found


def test_a_bundle_with_events_gets_the_applications_events_url() -> None:
    found = credentials_of({}, Entry("Events", "e-1", "order events"))

    assert found["EVENTS_URL"] == "http://events:8080/mp-shop/v1/events"
