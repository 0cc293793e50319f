"""Authentication through the served gateway: each credentials type end to end against the upstream stand-in,
CSRF tokens, the caller's own Access-Token, and a credentials Secret the agent deleted.

The gateway serves the whole session and keeps its tokens, so every test has a user or OAuth client of its own
(named after its Application): a token cached for another test's client is never offered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dataplane.names import DEFAULT_SECRET_NAMESPACE
from testing.applications import one_api, secret
from testing.gateway import ServedGateway
from testing.upstream import CSRF_COOKIE, CSRF_HEADER, Answer, ClientAuthority, UpstreamStandIn
from tests.gateway.support import publish_oauth


def call(
    gateway: ServedGateway, name: str, path: str = "orders", method: str = "GET", **options: Any
) -> httpx.Response:
    return httpx.request(method, f"{gateway.standalone_url}/{name}/api/{path}", **options)


def publish_basic(
    gateway: ServedGateway, stand_in: UpstreamStandIn, name: str, target: str, **credentials: Any
) -> None:
    """A Basic-protected API on ``target`` (a path on the stand-in's HTTP listener), with a user of its own."""
    stand_in.users[name] = f"{name}-password"
    gateway.manifests.put(
        one_api(name, stand_in.http_url + target, {"type": "Basic", "secretName": name, **credentials}),
        secret(name, username=name, password=f"{name}-password"),
    )


def publish_certificate_gen(gateway: ServedGateway, target_url: str, name: str, **keys: str | bytes) -> None:
    credentials = {"type": "CertificateGen", "secretName": name}
    gateway.manifests.put(
        one_api(name, target_url, credentials), secret(name, DEFAULT_SECRET_NAMESPACE, **keys)
    )


# -- Basic


def test_basic_credentials_from_the_secret_let_the_call_in(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    publish_basic(gateway, upstream_stand_in, "auth-basic", "/basic/shop")

    answer = call(gateway, "auth-basic")

    assert answer.status_code == 200, answer.text
    assert answer.json()["path"] == "/basic/shop/orders"


# -- OAuth


def test_an_oauth_token_is_fetched_once_and_reused_by_later_calls(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    publish_oauth(gateway, stand_in, "auth-oauth", "/bearer/shop")

    statuses = [call(gateway, "auth-oauth").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert len(stand_in.requests_to("/oauth/token")) == 1
    assert [token.method for token in stand_in.tokens] == ["client_secret_basic"]


def test_client_secret_post_is_used_when_the_secret_names_it(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    stand_in.reject_multiple_client_auth = True
    publish_oauth(
        gateway, stand_in, "auth-oauth-post", "/bearer/shop", tokenEndpointAuthMethod="client_secret_post"
    )

    answer = call(gateway, "auth-oauth-post")

    assert answer.status_code == 200, answer.text
    assert [token.method for token in stand_in.tokens] == ["client_secret_post"]
    assert stand_in.requests_to("/oauth/token")[0].header("authorization") is None


def test_a_failing_token_endpoint_answers_502_naming_its_status(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    stand_in.token_answer = Answer(503, b"down")
    token_url = publish_oauth(gateway, stand_in, "auth-oauth-down", "/bearer/shop")

    answer = call(gateway, "auth-oauth-down")

    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {
        "code": 502,
        "error": f"incorrect response code '503' while getting token from {token_url}",
    }
    assert stand_in.requests_to("/bearer/shop/orders") == []


def test_oauth_with_cert_fetches_the_token_over_mtls_with_the_secrets_certificate(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, client_authority: ClientAuthority
) -> None:
    stand_in = upstream_stand_in
    publish_oauth(gateway, stand_in, "auth-oauth-cert", certificate=client_authority.issue("oauth-client"))

    answer = call(gateway, "auth-oauth-cert")

    assert answer.status_code == 200, answer.text
    [token_request] = stand_in.requests_to("/oauth/token")
    assert token_request.client_subject is not None
    assert "CN=oauth-client" in token_request.client_subject
    assert [token.method for token in stand_in.tokens] == ["tls_client_auth"]


# -- CertificateGen


def test_certificate_gen_presents_the_secrets_certificate_to_the_target(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, client_authority: ClientAuthority
) -> None:
    crt, key = client_authority.issue("generated-client")
    publish_certificate_gen(gateway, f"{upstream_stand_in.mtls_url}/echo/shop", "auth-cert", crt=crt, key=key)

    answer = call(gateway, "auth-cert")

    assert answer.status_code == 200, answer.text
    [seen] = upstream_stand_in.requests_to("/echo/shop/orders")
    assert seen.client_subject is not None
    assert "CN=generated-client" in seen.client_subject


def test_certificate_gen_without_a_key_pair_in_the_secret_answers_500(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    publish_certificate_gen(gateway, f"{upstream_stand_in.mtls_url}/echo/shop", "auth-cert-none", other="x")

    answer = call(gateway, "auth-cert-none")

    assert answer.status_code == 500
    assert answer.json()["error"].startswith("Failed to prepare certificate")
    assert upstream_stand_in.requests == []


def test_certificate_gen_with_a_bad_pem_answers_500_failed_to_prepare_certificate(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    target = f"{upstream_stand_in.mtls_url}/echo/shop"
    bad = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    publish_certificate_gen(gateway, target, "auth-cert-bad", crt=bad, key=bad)

    answer = call(gateway, "auth-cert-bad")

    assert answer.status_code == 500
    assert answer.json()["error"].startswith("Failed to prepare certificate")
    assert upstream_stand_in.requests == []


# -- CSRF


def publish_csrf(gateway: ServedGateway, stand_in: UpstreamStandIn, name: str) -> None:
    """A Basic API on the stand-in's CSRF-protected endpoint, its token from the stand-in's CSRF endpoint."""
    csrf = {"csrfInfo": {"tokenEndpointURL": f"{stand_in.http_url}/csrf/token"}}
    publish_basic(gateway, stand_in, name, "/csrf/protected/shop", **csrf)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_the_csrf_token_and_its_cookie_go_with_every_method(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, method: str
) -> None:
    name = f"auth-csrf-{method.lower()}"
    publish_csrf(gateway, upstream_stand_in, name)

    answer = call(
        gateway, name, method=method, content=b"payload" if method in {"POST", "PUT", "PATCH"} else None
    )

    assert answer.status_code == 200, answer.text
    [seen] = upstream_stand_in.requests_to("/csrf/protected/shop/orders")
    assert seen.method == method
    assert seen.header(CSRF_HEADER)
    assert f"{CSRF_COOKIE}={seen.header(CSRF_HEADER)}" in (seen.header("cookie") or "")
    assert upstream_stand_in.csrf_tokens_issued == 1


def test_callers_cookies_of_other_names_are_kept_beside_the_csrf_cookie(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    publish_csrf(gateway, upstream_stand_in, "auth-csrf-cookies")

    answer = call(
        gateway, "auth-csrf-cookies", headers={"Cookie": f"session=abc; {CSRF_COOKIE}=forged; theme=dark"}
    )

    assert answer.status_code == 200, answer.text
    [seen] = upstream_stand_in.requests_to("/csrf/protected/shop/orders")
    token = seen.header(CSRF_HEADER)
    assert seen.header_values("cookie") == [f"{CSRF_COOKIE}={token}; session=abc; theme=dark"]


def test_an_expired_csrf_token_is_fetched_again_and_the_call_sent_once_more(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    publish_csrf(gateway, stand_in, "auth-csrf-expired")
    assert call(gateway, "auth-csrf-expired").status_code == 200
    stand_in.expire_csrf_token()

    answer = call(gateway, "auth-csrf-expired", method="POST", content=b"order")

    assert answer.status_code == 200, answer.text
    assert answer.json()["body"] == "order"
    assert stand_in.csrf_tokens_issued == 2
    refused, retried = stand_in.requests_to("/csrf/protected/shop/orders")[1:]
    assert refused.header(CSRF_HEADER) != retried.header(CSRF_HEADER)


# -- the caller's Access-Token


def test_an_access_token_goes_to_the_target_verbatim_as_authorization_and_no_token_is_fetched(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    publish_oauth(gateway, stand_in, "auth-access-token", "/echo/shop")

    answer = call(gateway, "auth-access-token", headers={"Access-Token": "Bearer xyz"})

    assert answer.status_code == 200, answer.text
    [seen] = stand_in.requests_to("/echo/shop/orders")
    assert seen.header_values("authorization") == ["Bearer xyz"]
    assert seen.header("access-token") is None
    assert stand_in.requests_to("/oauth/token") == []


# -- the Secret


def test_a_secret_the_agent_deleted_answers_500_secret_not_found(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    publish_basic(gateway, upstream_stand_in, "auth-deleted-secret", "/basic/shop")
    assert call(gateway, "auth-deleted-secret").status_code == 200
    gateway.manifests.remove("Secret", "auth-deleted-secret")

    answer = call(gateway, "auth-deleted-secret")

    assert answer.status_code == 500
    assert "secret 'auth-deleted-secret' not found" in answer.json()["error"]
