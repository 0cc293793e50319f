"""Manifests to the catalog's model: what the gateway and the event ingress read from an Application or a
Secret, lenient where a field is missing and a clear error where one is unusable."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.resources import application_resources
from dataplane.catalog.model import Credentials
from dataplane.catalog.parse import (
    UnusableManifest,
    application_from_manifest,
    secret_data_from_manifest,
)
from dataplane.names import is_resource_name
from tests.agent.test_resources import SHOP
from tests.dataplane.support import application


def with_entry(**entry: Any) -> dict[str, Any]:
    """An Application whose one service has one entry with exactly these fields."""
    manifest = application("shop")
    manifest["spec"]["services"][0]["entries"] = [{"type": "API", "id": "api-1", "name": "orders", **entry}]
    return manifest


def only_entry(manifest: dict[str, Any]) -> Any:
    return application_from_manifest(manifest).services[0].entries[0]


def test_what_the_agent_writes_reads_back() -> None:
    manifest, *_ = application_resources(SHOP)

    found = application_from_manifest(manifest)

    assert found.name == "mp-shop"
    assert [service.display_name for service in found.services] == ["Orders API", "Stock", "events only"]
    orders = found.services[0].entries
    assert [(entry.type, entry.name, entry.target_url) for entry in orders] == [
        ("API", "Orders v1", "https://shop/v1"),
        ("Events", "order.created", ""),
    ]
    assert orders[0].central_gateway_url.endswith("/mp-shop/orders-api/orders-v1")
    assert orders[0].credentials is not None and orders[0].credentials.type == "Basic"


def test_client_ids_and_the_application_id_come_from_compass_metadata() -> None:
    manifest, *_ = application_resources(SHOP)

    found = application_from_manifest(manifest)

    assert found.client_ids == ("client-1", "client-2")
    assert found.application_id == SHOP["id"]


def test_credentials_whose_fields_are_all_empty_are_none() -> None:
    # Kyma's entry holds the struct itself, so an entry without credentials reads back like this.
    entry = only_entry(with_entry(credentials={"type": "", "secretName": "", "authenticationUrl": ""}))

    assert entry.credentials is None


def test_an_entry_without_credentials_has_none() -> None:
    assert only_entry(with_entry()).credentials is None


def test_oauth_credentials_carry_the_token_url_and_the_csrf_endpoint() -> None:
    credentials = {
        "type": "OAuth",
        "secretName": "shop-oauth",
        "authenticationUrl": "https://auth.example/token",
        "csrfInfo": {"tokenEndpointURL": "https://shop.example/csrf"},
    }

    entry = only_entry(with_entry(credentials=credentials))

    assert entry.credentials == Credentials(
        type="OAuth",
        secret_name="shop-oauth",
        authentication_url="https://auth.example/token",
        csrf_token_endpoint_url="https://shop.example/csrf",
    )


def test_the_request_parameters_secret_name_is_read() -> None:
    entry = only_entry(with_entry(requestParametersSecretName="shop-parameters"))

    assert entry.request_parameters_secret_name == "shop-parameters"


def test_skip_verify_and_encode_url_are_read() -> None:
    manifest = application("shop")
    manifest["spec"] |= {"skipVerify": True, "encodeUrl": True}

    found = application_from_manifest(manifest)

    assert (found.skip_verify, found.encode_url) == (True, True)


def test_a_name_alone_is_an_application_with_nothing_in_it() -> None:
    found = application_from_manifest({"metadata": {"name": "bare"}})

    assert (found.name, found.services, found.client_ids, found.application_id) == ("bare", (), (), "")
    assert (found.skip_verify, found.encode_url) == (False, False)
    assert (dict(found.labels), dict(found.annotations)) == ({}, {})


def test_labels_and_annotations_are_read() -> None:
    manifest = {"metadata": {"name": "shop", "labels": {"team": "a"}, "annotations": {"note": "b"}}}

    found = application_from_manifest(manifest)

    assert (dict(found.labels), dict(found.annotations)) == ({"team": "a"}, {"note": "b"})


def test_an_integer_id_is_read_as_its_digits() -> None:
    # YAML reads a hand-written `id: 42` as a number.
    assert only_entry(with_entry(id=42)).id == "42"


def test_an_application_without_a_name_is_unusable() -> None:
    with pytest.raises(UnusableManifest, match=r"metadata\.name is missing"):
        application_from_manifest({"metadata": {}, "spec": {}})


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"services": "orders"}, r"spec\.services is not a list"),
        ({"services": [{"entries": {"id": "x"}}]}, r"spec\.services\[0\]\.entries is not a list"),
        ({"services": [["not", "a", "service"]]}, r"spec\.services\[0\] is not a mapping"),
        ({"services": [{"displayName": {"a": 1}}]}, r"spec\.services\[0\]\.displayName is not a string"),
        ({"skipVerify": "yes"}, r"spec\.skipVerify is not a boolean"),
        ({"compassMetadata": {"authentication": {"clientIds": "c1"}}}, r"clientIds is not a list"),
    ],
)
def test_a_field_that_is_there_but_unusable_is_named(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(UnusableManifest, match=field):
        application_from_manifest({"metadata": {"name": "shop"}, "spec": spec})


def test_unusable_manifests_are_value_errors() -> None:
    assert issubclass(UnusableManifest, ValueError)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def test_secret_data_is_base64_decoded() -> None:
    data = secret_data_from_manifest({"data": {"username": b64("shop-user"), "empty": ""}})

    assert dict(data) == {"username": b"shop-user", "empty": b""}


def test_string_data_is_written_over_data() -> None:
    manifest = {
        "data": {"username": b64("old-user"), "password": b64("kept")},
        "stringData": {"username": "new-user", "token": "plain"},
    }

    assert dict(secret_data_from_manifest(manifest)) == {
        "username": b"new-user",
        "password": b"kept",
        "token": b"plain",
    }


def test_line_breaks_in_base64_are_skipped_as_the_api_server_does() -> None:
    encoded = b64("a long client secret")

    data = secret_data_from_manifest({"data": {"clientSecret": f"{encoded[:8]}\n{encoded[8:]}\n"}})

    assert data["clientSecret"] == b"a long client secret"


def test_bad_base64_is_unusable_and_the_message_names_the_key_not_the_value() -> None:
    with pytest.raises(UnusableManifest) as raised:
        secret_data_from_manifest({"data": {"password": "hunter2!"}})

    assert "data.password is not valid base64" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("name", ["shop", "mp-shop", "a.b-c", "0"])
def test_resource_names_are_dns_subdomains(name: str) -> None:
    assert is_resource_name(name)


@pytest.mark.parametrize(
    "name", ["", "..", ".", "../shop", "a/b", "Shop", "-shop", "shop-", "a..b", "x" * 254]
)
def test_anything_else_is_not_a_resource_name(name: str) -> None:
    assert not is_resource_name(name)


FIELDS = [
    "metadata",
    "name",
    "spec",
    "services",
    "entries",
    "credentials",
    "csrfInfo",
    "compassMetadata",
    "authentication",
    "clientIds",
    "skipVerify",
    "id",
    "type",
    "data",
    "stringData",
    "labels",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
    max_leaves=20,
)


# 100 manifests of up to four of the 16 fields: each field comes about 25 times, with values of every JSON shape.
@settings(max_examples=100, deadline=None)
@given(manifest=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4))
def test_any_manifest_parses_or_is_unusable_never_another_error(manifest: dict[str, Any]) -> None:
    for parse in (application_from_manifest, secret_data_from_manifest):
        with contextlib.suppress(UnusableManifest):
            parse(manifest)
