"""CSRF tokens against the upstream stand-in: fetched with the call's own credentials, sent with the session
cookies the fetch set, kept per endpoint and identity for a while, fetched again after a refusal."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import pytest

from gateway.auth import Authenticator
from gateway.errors import GatewayError
from gateway.lookup import ResolvedApi
from testing.upstream import CSRF_COOKIE, ClientAuthority, UpstreamStandIn
from tests.fixtures.upstream import CSRF_TOKEN_TTL, ManualClock, Send, authorized, outgoing_to, resolved_api

BASIC = {"username": "user", "password": "passwd"}
FETCH = "/csrf/token"


def csrf_api(
    stand_in: UpstreamStandIn,
    kind: str = "Basic",
    secret: Mapping[str, str | bytes] = BASIC,
    *,
    base_url: str | None = None,
    fetch_path: str = FETCH,
) -> ResolvedApi:
    base = base_url or stand_in.http_url
    return resolved_api(
        f"{base}/csrf/protected/orders",
        kind,
        secret,
        authentication_url=f"{stand_in.http_url}/oauth/token",
        csrf_token_endpoint_url=f"{base}{fetch_path}",
    )


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


async def test_the_token_is_fetched_with_the_calls_credentials_and_the_fetch_headers(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    await authorized(authenticator, csrf_api(upstream_stand_in))

    [fetch] = upstream_stand_in.requests_to(FETCH)
    assert fetch.method == "GET"
    assert fetch.header("authorization") == basic("user", "passwd")
    assert fetch.header("x-csrf-token") == "fetch"
    assert fetch.header("accept") == "*/*"
    assert fetch.header("cache-control") == "no-cache"


async def test_a_call_with_the_token_and_its_cookie_passes_the_targets_check(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = csrf_api(upstream_stand_in)

    outgoing = await authorized(authenticator, api)

    assert (await send(api, outgoing)).status == 200


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_every_method_carries_the_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, method: str
) -> None:
    api = csrf_api(upstream_stand_in)
    outgoing = outgoing_to(api.target_url, method)

    await authenticator.authorize(api, outgoing, access_token=None)

    assert outgoing.headers["X-csrf-token"]


async def test_fetched_cookies_replace_the_callers_cookies_of_that_name_and_keep_the_others(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = csrf_api(upstream_stand_in)
    outgoing = outgoing_to(api.target_url, Cookie=f"theme=dark; {CSRF_COOKIE}=stale; session=s1")

    await authenticator.authorize(api, outgoing, access_token=None)

    token = outgoing.headers["X-csrf-token"]
    assert outgoing.headers.getall("Cookie") == [f"{CSRF_COOKIE}={token}; theme=dark; session=s1"]


async def test_the_next_call_reuses_the_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = csrf_api(upstream_stand_in)

    first = await authorized(authenticator, api)
    second = await authorized(authenticator, api)

    assert upstream_stand_in.csrf_tokens_issued == 1
    assert second.headers["X-csrf-token"] == first.headers["X-csrf-token"]


async def test_the_token_is_fetched_again_once_its_ttl_has_passed(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, clock: ManualClock
) -> None:
    api = csrf_api(upstream_stand_in)
    await authorized(authenticator, api)

    clock.advance(CSRF_TOKEN_TTL - 1)
    await authorized(authenticator, api)
    assert upstream_stand_in.csrf_tokens_issued == 1

    clock.advance(2)
    await authorized(authenticator, api)
    assert upstream_stand_in.csrf_tokens_issued == 2


async def test_after_the_target_refuses_an_expired_token_invalidate_fetches_a_new_one(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = csrf_api(upstream_stand_in)
    await authorized(authenticator, api)
    upstream_stand_in.expire_csrf_token()
    assert (await send(api, await authorized(authenticator, api))).status == 403

    authenticator.invalidate(api, access_token=None)

    assert (await send(api, await authorized(authenticator, api))).status == 200
    assert upstream_stand_in.csrf_tokens_issued == 2


async def test_tokens_are_kept_per_identity_on_one_endpoint(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    await authorized(authenticator, csrf_api(upstream_stand_in, secret=BASIC))
    await authorized(
        authenticator, csrf_api(upstream_stand_in, secret={"username": "other", "password": "pw"})
    )
    await authorized(authenticator, csrf_api(upstream_stand_in, secret=BASIC))

    fetched_as = [fetch.header("authorization") for fetch in upstream_stand_in.requests_to(FETCH)]
    assert fetched_as == [basic("user", "passwd"), basic("other", "pw")]


async def test_an_oauth_api_fetches_its_token_with_its_bearer_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = csrf_api(upstream_stand_in, "OAuth", {"clientId": "client-id", "clientSecret": "client-secret"})

    await authorized(authenticator, api)

    [issued] = upstream_stand_in.tokens
    [fetch] = upstream_stand_in.requests_to(FETCH)
    assert fetch.header("authorization") == f"Bearer {issued.token}"


async def test_invalidate_drops_both_the_oauth_token_and_the_csrf_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = csrf_api(upstream_stand_in, "OAuth", {"clientId": "client-id", "clientSecret": "client-secret"})
    await authorized(authenticator, api)

    authenticator.invalidate(api, access_token=None)
    await authorized(authenticator, api)

    assert len(upstream_stand_in.tokens) == 2
    assert upstream_stand_in.csrf_tokens_issued == 2


async def test_the_callers_access_token_fetches_the_token_and_no_oauth_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn, send: Send
) -> None:
    api = csrf_api(upstream_stand_in, "OAuth", {"clientId": "client-id", "clientSecret": "client-secret"})

    outgoing = await authorized(authenticator, api, access_token="Bearer the-callers")

    [fetch] = upstream_stand_in.requests_to(FETCH)
    assert fetch.header("authorization") == "Bearer the-callers"
    assert not upstream_stand_in.requests_to("/oauth/token")
    assert (await send(api, outgoing)).status == 200


async def test_a_retry_with_the_callers_access_token_keeps_it_and_fetches_only_a_new_csrf_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = csrf_api(upstream_stand_in, "OAuth", {"clientId": "client-id", "clientSecret": "client-secret"})
    await authorized(authenticator, api, access_token="Bearer the-callers")

    authenticator.invalidate(api, access_token="Bearer the-callers")
    retried = await authorized(authenticator, api, access_token="Bearer the-callers")

    assert retried.headers["Authorization"] == "Bearer the-callers"
    assert upstream_stand_in.csrf_tokens_issued == 2
    assert not upstream_stand_in.requests_to("/oauth/token")


async def test_a_client_certificate_api_fetches_its_token_with_the_certificate(
    authenticator: Authenticator,
    upstream_stand_in: UpstreamStandIn,
    client_authority: ClientAuthority,
    send: Send,
) -> None:
    crt, key = client_authority.issue("csrf-client")
    api = csrf_api(
        upstream_stand_in, "CertificateGen", {"crt": crt, "key": key}, base_url=upstream_stand_in.mtls_url
    )

    outgoing = await authorized(authenticator, api)

    [fetch] = upstream_stand_in.requests_to(FETCH)
    assert fetch.client_subject is not None
    assert "CN=csrf-client" in fetch.client_subject
    assert (await send(api, outgoing)).status == 200


async def test_an_api_without_a_known_credentials_type_gets_no_token(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    outgoing = await authorized(authenticator, csrf_api(upstream_stand_in, "NoAuth", {}))

    assert "X-csrf-token" not in outgoing.headers
    assert not upstream_stand_in.requests


async def test_a_token_endpoint_answering_other_than_200_is_a_bad_gateway(
    authenticator: Authenticator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = csrf_api(upstream_stand_in, fetch_path="/code/500")

    with pytest.raises(GatewayError) as refused:
        await authorized(authenticator, api)

    assert (refused.value.status, refused.value.message) == (
        502,
        f"incorrect response code '500' while getting token from {upstream_stand_in.http_url}/code/500",
    )
