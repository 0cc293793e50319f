"""Credentials added to a call to the target, against the upstream stand-in over HTTP and mTLS: none, the caller's
Access-Token, Basic, and a client certificate (OAuth and CSRF tokens have test modules of their own)."""

from __future__ import annotations

import base64

import pytest

from gateway.auth import Authenticator
from gateway.errors import GatewayError
from testing.upstream import ClientAuthority, UpstreamStandIn
from tests.fixtures.upstream import Send, authorized, outgoing_to, resolved_api

BASIC = {"username": "user", "password": "passwd"}


async def test_an_api_without_credentials_is_called_as_the_caller_called_it(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/echo/x")
    outgoing = outgoing_to(api.target_url, Authorization="Bearer the-callers")

    await authenticator.authorize(api, outgoing, access_token=None)

    assert dict(outgoing.headers) == {"Authorization": "Bearer the-callers"}
    assert outgoing.certificate is None


async def test_an_unknown_credentials_type_adds_nothing(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/echo/x", "Kerberos", BASIC)

    outgoing = await authorized(authenticator, api)

    assert not outgoing.headers


async def test_basic_credentials_are_sent_as_a_basic_authorization_header(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/basic/orders", "Basic", BASIC)

    outgoing = await authorized(authenticator, api)

    assert outgoing.headers["Authorization"] == "Basic " + base64.b64encode(b"user:passwd").decode()
    assert (await send(api, outgoing)).status == 200


async def test_basic_credentials_replace_the_callers_authorization(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/basic/orders", "Basic", BASIC)
    outgoing = outgoing_to(api.target_url, Authorization="Basic bm9ib2R5Og==")

    await authenticator.authorize(api, outgoing, access_token=None)

    assert outgoing.headers.getall("Authorization") == ["Basic " + base64.b64encode(b"user:passwd").decode()]


async def test_wrong_basic_credentials_reach_the_target_which_refuses_them(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/basic/orders", "Basic", {**BASIC, "password": "wrong"})

    outgoing = await authorized(authenticator, api)

    assert (await send(api, outgoing)).status == 403


@pytest.mark.parametrize(
    ("kind", "secret", "access_token"),
    [
        pytest.param("Basic", BASIC, "Bearer the-callers-own", id="instead-of-the-configured-credentials"),
        pytest.param("", None, "Basic dXNlcjpwYXNzd2Q=", id="to-an-api-without-credentials"),
    ],
)
async def test_the_callers_access_token_is_sent_verbatim(
    authenticator: Authenticator,
    upstream_stand_in: UpstreamStandIn,
    *,
    kind: str,
    secret: dict[str, str] | None,
    access_token: str,
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/echo/x", kind, secret)

    outgoing = await authorized(authenticator, api, access_token)

    assert outgoing.headers.getall("Authorization") == [access_token]


async def test_an_empty_access_token_counts_as_none(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = resolved_api(f"{upstream_stand_in.http_url}/basic/orders", "Basic", BASIC)

    outgoing = await authorized(authenticator, api, "")

    assert outgoing.headers["Authorization"].startswith("Basic ")


async def test_the_callers_access_token_replaces_a_client_certificate(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, client_authority: ClientAuthority
) -> None:
    crt, key = client_authority.issue("gateway-client")
    api = resolved_api(f"{upstream_stand_in.mtls_url}/echo/x", "CertificateGen", {"crt": crt, "key": key})

    outgoing = await authorized(authenticator, api, "Bearer the-callers-own")

    assert outgoing.certificate is None


async def test_a_generated_certificate_is_presented_to_a_target_that_requires_one(
    authenticator: Authenticator,
    upstream_stand_in: UpstreamStandIn,
    client_authority: ClientAuthority,
    send: Send,
) -> None:
    crt, key = client_authority.issue("gateway-client")
    api = resolved_api(f"{upstream_stand_in.mtls_url}/echo/x", "CertificateGen", {"crt": crt, "key": key})

    outgoing = await authorized(authenticator, api)

    assert (await send(api, outgoing)).status == 200
    [call] = upstream_stand_in.requests_to("/echo/x")
    assert call.client_subject is not None
    assert "CN=gateway-client" in call.client_subject


@pytest.mark.parametrize(
    "secret",
    [{}, {"crt": b"not a certificate", "key": b"not a key"}],
    ids=["missing", "not-pem"],
)
async def test_a_certificate_that_cannot_be_loaded_is_an_internal_error(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, secret: dict[str, bytes]
) -> None:
    api = resolved_api(f"{upstream_stand_in.mtls_url}/echo/x", "CertificateGen", secret)

    with pytest.raises(GatewayError) as refused:
        await authenticator.authorize(api, outgoing_to(api.target_url), access_token=None)

    assert refused.value.status == 500
    assert refused.value.message.startswith("Failed to prepare certificate, ")
    assert not upstream_stand_in.requests
