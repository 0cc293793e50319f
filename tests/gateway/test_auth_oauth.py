"""OAuth 2.0 client credentials against the upstream stand-in's token endpoint: how the token is requested (one
client authentication method, the Secret's parameters, over mTLS for OAuthWithCert), how long it is kept, that
concurrent callers share one request, and what a failure answers."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Mapping

import pytest
from prometheus_client import REGISTRY

from gateway.auth import Authenticator
from gateway.errors import GatewayError
from gateway.lookup import ResolvedApi
from gateway.upstream import Upstream
from testing.ports import free_port
from testing.upstream import Answer, ClientAuthority, UpstreamStandIn
from tests.fixtures.upstream import OAUTH_DEFAULT_TTL, ManualClock, Send, authorized, resolved_api

CLIENT = {"clientId": "client-id", "clientSecret": "client-secret"}


def oauth_api(
    stand_in: UpstreamStandIn,
    secret: Mapping[str, str | bytes] = CLIENT,
    *,
    token_url: str | None = None,
    target: str = "/bearer/orders",
) -> ResolvedApi:
    token_url = token_url or f"{stand_in.http_url}/oauth/token"
    return resolved_api(f"{stand_in.http_url}{target}", "OAuth", secret, authentication_url=token_url)


def certificate_api(
    stand_in: UpstreamStandIn, crt: bytes, key: bytes, client_id: str = "client-id"
) -> ResolvedApi:
    secret: dict[str, str | bytes] = {"clientId": client_id, "clientSecret": "unused", "crt": crt, "key": key}
    token_url = f"{stand_in.mtls_url}/oauth/token"
    return resolved_api(
        f"{stand_in.http_url}/bearer/orders", "OAuthWithCert", secret, authentication_url=token_url
    )


async def refusal(authenticator: Authenticator, api: ResolvedApi) -> GatewayError:
    with pytest.raises(GatewayError) as refused:
        await authorized(authenticator, api)
    return refused.value


# -- the token and how it is requested


async def test_the_token_is_sent_as_a_bearer_token_the_target_accepts(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = oauth_api(upstream_stand_in)

    outgoing = await authorized(authenticator, api)

    [issued] = upstream_stand_in.tokens
    assert outgoing.headers["Authorization"] == f"Bearer {issued.token}"
    assert (await send(api, outgoing)).status == 200


async def test_the_client_authenticates_with_client_secret_basic_by_default(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    await authorized(authenticator, oauth_api(upstream_stand_in))

    [request] = upstream_stand_in.requests_to("/oauth/token")
    assert request.method == "POST"
    assert request.header("authorization") == "Basic " + base64.b64encode(b"client-id:client-secret").decode()
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert request.form == {"grant_type": ["client_credentials"]}
    assert upstream_stand_in.tokens[0].method == "client_secret_basic"


async def test_client_secret_post_puts_the_client_in_the_form_and_sends_no_basic_header(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    secret = {**CLIENT, "tokenEndpointAuthMethod": "client_secret_post"}

    await authorized(authenticator, oauth_api(upstream_stand_in, secret))

    [request] = upstream_stand_in.requests_to("/oauth/token")
    assert request.header("authorization") is None
    assert request.form == {
        "client_id": ["client-id"],
        "client_secret": ["client-secret"],
        "grant_type": ["client_credentials"],
    }
    assert upstream_stand_in.tokens[0].method == "client_secret_post"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_server_that_refuses_two_authentication_methods_at_once_issues_a_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, method: str
) -> None:
    upstream_stand_in.reject_multiple_client_auth = True

    await authorized(
        authenticator, oauth_api(upstream_stand_in, {**CLIENT, "tokenEndpointAuthMethod": method})
    )

    assert [issued.method for issued in upstream_stand_in.tokens] == [method]


async def test_client_secret_basic_form_encodes_the_client_id_and_secret(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    client_id, client_secret = "sb-app!b1|id:x", "s€cret&=+ %"
    upstream_stand_in.clients = {client_id: client_secret}

    await authorized(
        authenticator, oauth_api(upstream_stand_in, {"clientId": client_id, "clientSecret": client_secret})
    )

    assert [issued.client_id for issued in upstream_stand_in.tokens] == [client_id]


async def test_an_unknown_token_endpoint_auth_method_is_an_internal_error_naming_the_known_ones(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = oauth_api(upstream_stand_in, {**CLIENT, "tokenEndpointAuthMethod": "private_key_jwt"})

    refused = await refusal(authenticator, api)

    assert refused.status == 500
    assert "'private_key_jwt'" in refused.message
    assert "client_secret_basic, client_secret_post" in refused.message
    assert not upstream_stand_in.requests


async def test_the_secrets_headers_and_query_parameters_go_on_the_token_request_only(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    secret = {
        **CLIENT,
        "headers": '{"X-Tenant": ["t1"], "X-Many": ["a", "b"]}',
        "queryParameters": '{"resource": ["r1", "r2"]}',
    }

    outgoing = await authorized(authenticator, oauth_api(upstream_stand_in, secret))

    [request] = upstream_stand_in.requests_to("/oauth/token")
    assert request.header("x-tenant") == "t1"
    assert request.header_values("x-many") == ["a", "b"]
    assert request.query == "resource=r1&resource=r2"
    assert "X-Tenant" not in outgoing.headers
    assert outgoing.url.query_string == ""


async def test_the_secrets_parameters_do_not_override_what_the_token_request_has(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    secret = {
        **CLIENT,
        "headers": '{"Content-Type": ["text/plain"], "Authorization": ["Bearer other"]}',
        "queryParameters": '{"resource": ["from-secret"]}',
    }
    token_url = f"{upstream_stand_in.http_url}/oauth/token?resource=configured"

    await authorized(authenticator, oauth_api(upstream_stand_in, secret, token_url=token_url))

    [request] = upstream_stand_in.requests_to("/oauth/token")
    assert request.header_values("content-type") == ["application/x-www-form-urlencoded"]
    assert request.header_values("authorization") == [
        "Basic " + base64.b64encode(b"client-id:client-secret").decode()
    ]
    assert request.query == "resource=configured"


async def test_the_callers_access_token_replaces_the_token_request(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    outgoing = await authorized(
        authenticator, oauth_api(upstream_stand_in), access_token="Bearer the-callers"
    )

    assert outgoing.headers["Authorization"] == "Bearer the-callers"
    assert not upstream_stand_in.requests_to("/oauth/token")


# -- keeping tokens


async def test_a_second_call_reuses_the_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = oauth_api(upstream_stand_in)

    first = await authorized(authenticator, api)
    second = await authorized(authenticator, api)

    assert len(upstream_stand_in.requests_to("/oauth/token")) == 1
    assert second.headers["Authorization"] == first.headers["Authorization"]


async def test_apis_of_one_client_share_its_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    await authorized(authenticator, oauth_api(upstream_stand_in, target="/bearer/orders"))
    await authorized(authenticator, oauth_api(upstream_stand_in, target="/bearer/invoices"))

    assert len(upstream_stand_in.tokens) == 1


async def test_clients_whose_id_and_secret_concatenate_alike_get_tokens_of_their_own(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    upstream_stand_in.clients = {"ab": "c", "a": "bc"}

    first = await authorized(
        authenticator, oauth_api(upstream_stand_in, {"clientId": "ab", "clientSecret": "c"})
    )
    second = await authorized(
        authenticator, oauth_api(upstream_stand_in, {"clientId": "a", "clientSecret": "bc"})
    )

    assert [issued.client_id for issued in upstream_stand_in.tokens] == ["ab", "a"]
    assert first.headers["Authorization"] != second.headers["Authorization"]


@pytest.mark.parametrize(
    ("expires_in", "kept_for", "renewed_after"),
    [
        pytest.param(30, 27.5, 1, id="until-two-seconds-before-it-expires"),
        pytest.param(None, OAUTH_DEFAULT_TTL - 1, 2, id="without-expires-in-for-the-default-ttl"),
    ],
)
async def test_a_token_is_reused_while_it_is_kept(
    authenticator: Authenticator,
    upstream_stand_in: UpstreamStandIn,
    clock: ManualClock,
    *,
    expires_in: int | None,
    kept_for: float,
    renewed_after: float,
) -> None:
    upstream_stand_in.expires_in = expires_in
    api = oauth_api(upstream_stand_in)
    await authorized(authenticator, api)

    clock.advance(kept_for)
    await authorized(authenticator, api)
    assert len(upstream_stand_in.tokens) == 1

    clock.advance(renewed_after)
    await authorized(authenticator, api)
    assert len(upstream_stand_in.tokens) == 2


async def test_a_token_expiring_within_two_seconds_is_not_kept(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    upstream_stand_in.expires_in = 2
    api = oauth_api(upstream_stand_in)

    await authorized(authenticator, api)
    await authorized(authenticator, api)

    assert len(upstream_stand_in.tokens) == 2


async def test_concurrent_calls_with_no_token_yet_share_one_token_request(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = oauth_api(upstream_stand_in)

    outgoing = await asyncio.gather(*(authorized(authenticator, api) for _ in range(10)))

    [issued] = upstream_stand_in.tokens
    assert {request.headers["Authorization"] for request in outgoing} == {f"Bearer {issued.token}"}
    assert len(upstream_stand_in.requests_to("/oauth/token")) == 1


async def test_a_failed_token_request_is_not_kept(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = oauth_api(upstream_stand_in)
    upstream_stand_in.clients = {}
    await refusal(authenticator, api)

    upstream_stand_in.clients = {"client-id": "client-secret"}
    await authorized(authenticator, api)

    assert len(upstream_stand_in.tokens) == 1


async def test_after_invalidate_the_next_call_gets_a_new_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = oauth_api(upstream_stand_in)
    await authorized(authenticator, api)
    upstream_stand_in.revoke_tokens()
    assert (await send(api, await authorized(authenticator, api))).status == 401

    authenticator.invalidate(api, access_token=None)

    assert (await send(api, await authorized(authenticator, api))).status == 200
    assert len(upstream_stand_in.tokens) == 2


async def test_fetches_and_cache_hits_are_counted(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    samples = [
        ("gateway_token_fetches_total", {"kind": "oauth", "outcome": "ok"}),
        ("gateway_token_cache_hits_total", {"kind": "oauth"}),
    ]
    before = [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in samples]
    api = oauth_api(upstream_stand_in)

    await authorized(authenticator, api)
    await authorized(authenticator, api)

    after = [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in samples]
    assert [now - then for now, then in zip(after, before, strict=True)] == [1, 1]


# -- failures


async def test_a_token_endpoint_answering_other_than_200_is_a_bad_gateway(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = oauth_api(upstream_stand_in, {"clientId": "client-id", "clientSecret": "wrong"})

    refused = await refusal(authenticator, api)

    token_url = f"{upstream_stand_in.http_url}/oauth/token"
    assert (refused.status, refused.message) == (
        502,
        f"incorrect response code '401' while getting token from {token_url}",
    )


@pytest.mark.parametrize("body", [b"<html>sign in</html>", b'{"token_type": "bearer"}', b'["access_token"]'])
async def test_a_token_answer_without_an_access_token_is_a_bad_gateway(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, body: bytes
) -> None:
    upstream_stand_in.token_answer = Answer(200, body)

    refused = await refusal(authenticator, oauth_api(upstream_stand_in))

    assert refused.status == 502
    assert refused.message.startswith("failed to unmarshal token response body: ")


async def test_an_unreachable_token_endpoint_is_a_bad_gateway(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    token_url = f"http://127.0.0.1:{free_port()}/oauth/token"

    refused = await refusal(authenticator, oauth_api(upstream_stand_in, token_url=token_url))

    assert refused.status == 502
    assert refused.message.startswith(f"failed to make a request to '{token_url}': ")


async def test_a_token_request_waits_no_longer_than_the_apis_timeout(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = oauth_api(upstream_stand_in, token_url=f"{upstream_stand_in.http_url}/slow")

    refused = await refusal(authenticator, dataclasses.replace(api, timeout=0.2))

    assert refused.status == 502
    assert refused.message.startswith("failed to make a request to ")


async def test_a_token_endpoint_with_an_untrusted_certificate_is_called_only_when_the_application_skips_verify(
    upstream_stand_in: UpstreamStandIn, clock: ManualClock
) -> None:
    untrusting = Upstream()  # the system's CAs only: not the stand-in's
    await untrusting.start()
    try:
        authenticator = Authenticator(
            untrusting, oauth_default_ttl=60, csrf_token_ttl=60, cache_size=10, clock=clock
        )
        api = oauth_api(upstream_stand_in, token_url=f"{upstream_stand_in.https_url}/oauth/token")

        assert (await refusal(authenticator, api)).status == 502
        await authorized(authenticator, dataclasses.replace(api, skip_verify=True))
    finally:
        await untrusting.close()

    assert len(upstream_stand_in.tokens) == 1


# -- OAuthWithCert


async def test_oauth_with_cert_requests_the_token_over_mutual_tls_with_only_the_client_id(
    authenticator: Authenticator,
    upstream_stand_in: UpstreamStandIn,
    client_authority: ClientAuthority,
    send: Send,
) -> None:
    api = certificate_api(upstream_stand_in, *client_authority.issue("oauth-client"))

    outgoing = await authorized(authenticator, api)

    [request] = upstream_stand_in.requests_to("/oauth/token")
    assert request.client_subject is not None
    assert "CN=oauth-client" in request.client_subject
    assert request.header("authorization") is None
    assert request.form == {"client_id": ["client-id"], "grant_type": ["client_credentials"]}
    assert upstream_stand_in.tokens[0].method == "tls_client_auth"
    assert outgoing.certificate is None
    assert (await send(api, outgoing)).status == 200


async def test_oauth_with_cert_keeps_a_token_per_key_pair(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, client_authority: ClientAuthority
) -> None:
    first, second = client_authority.issue("first"), client_authority.issue("second")

    for crt, key in (first, second, first):
        await authorized(authenticator, certificate_api(upstream_stand_in, crt, key))

    assert len(upstream_stand_in.tokens) == 2


async def test_oauth_with_cert_failures_are_internal_errors_that_keep_their_cause(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, client_authority: ClientAuthority
) -> None:
    api = certificate_api(upstream_stand_in, *client_authority.issue("oauth-client"), client_id="unknown")

    refused = await refusal(authenticator, api)

    token_url = f"{upstream_stand_in.mtls_url}/oauth/token"
    assert (refused.status, refused.message) == (
        500,
        f"Failed to get token: incorrect response code '401' while getting token from {token_url}",
    )


async def test_oauth_with_cert_without_a_loadable_key_pair_is_an_internal_error(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    refused = await refusal(authenticator, certificate_api(upstream_stand_in, b"no", b"pem"))

    assert refused.status == 500
    assert refused.message.startswith("Failed to get token: Failed to prepare certificate, ")
    assert not upstream_stand_in.requests
