"""Who may call the Director: operator JWTs from `compass token` or an external OIDC issuer, one tenant each."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from compass.app import create_app
from compass.auth.jwt import JWTVerifier, issue_token
from kernel.db import Database
from kernel.errors import UnauthenticatedError
from kernel.settings import Settings
from tests.support import DIRECTOR, TenantFactory

VIEWER = "{ viewer { id type } }"
APPLICATIONS = "{ result: applications { totalCount } }"
REGISTER_APPLICATION = 'mutation { result: registerApplication(in: {name: "needs-write"}) { id } }'

OIDC_ISSUER = "https://oidc.example.test"
OIDC_KID = "test-key-1"


def _claims(*, issuer: str, tenant_id: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "sub": "someone", "iat": now, "exp": now + 600, "tenant": tenant_id, **extra}


async def _post(client: httpx.AsyncClient, headers: dict[str, str], query: str = VIEWER) -> httpx.Response:
    return await client.post(DIRECTOR, json={"query": query, "variables": None}, headers=headers)


def _codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert "data" in body, body
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_request_without_authorization_is_unauthenticated_and_still_carries_data(
    client: httpx.AsyncClient,
) -> None:
    response = await _post(client, {})

    assert response.status_code == 401
    body = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-jwt", "Bearer ", "Basic dXNlcjpwYXNz", "eyJhbGciOi.x.y"]
)
async def test_malformed_authorization_is_unauthenticated(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await _post(client, {"Authorization": authorization})

    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]


async def test_expired_token_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings, tenants: TenantFactory
) -> None:
    # given
    tenant_id = await tenants.create()
    token = issue_token(settings, tenant_id=tenant_id, scopes=["application:read"], ttl_seconds=-60)

    # when
    response = await _post(client, {"Authorization": f"Bearer {token}", "Tenant": tenant_id})

    # then
    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]
    assert "expired" in response.json()["errors"][0]["message"]


@pytest.mark.backend_independent("the verifier is checked in memory: no statement is run")
async def test_token_verified_once_is_refused_once_it_has_expired(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a token the verifier has already accepted (and keeps, so as not to check its signature again)
    verifier = JWTVerifier(settings)
    token = issue_token(settings, tenant_id="t", scopes=["application:read"], ttl_seconds=60)
    accepted = await verifier.verify(token)
    assert accepted.expires_at is not None

    # when the verifier's clock reaches its expiry (a real 1 s token could expire before its first check on a
    # busy machine: its expiry is a whole second, counted from the second it was issued in)
    expired_at = float(accepted.expires_at)
    monkeypatch.setattr("compass.auth.jwt.time.time", lambda: expired_at)

    # then
    with pytest.raises(UnauthenticatedError, match="expired"):
        await verifier.verify(token)


async def test_token_signed_by_another_key_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings, tenants: TenantFactory
) -> None:
    # given a token that claims our issuer but is signed with a key we never saw
    tenant_id = await tenants.create()
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        _claims(issuer=settings.jwt_issuer, tenant_id=tenant_id), foreign_key, algorithm="ES256"
    )

    # when
    response = await _post(client, {"Authorization": f"Bearer {token}", "Tenant": tenant_id})

    # then
    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]


async def test_unsigned_alg_none_token_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings, tenants: TenantFactory
) -> None:
    tenant_id = await tenants.create()
    token = jwt.encode(_claims(issuer=settings.jwt_issuer, tenant_id=tenant_id), "", algorithm="none")

    response = await _post(client, {"Authorization": f"Bearer {token}", "Tenant": tenant_id})

    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]


async def test_token_of_one_tenant_with_another_tenant_header_is_forbidden(
    client: httpx.AsyncClient, tenants: TenantFactory
) -> None:
    # given
    operator = await tenants.operator()
    other_tenant = await tenants.create()

    # when
    response = await _post(client, {**operator.headers, "Tenant": other_tenant})

    # then
    assert response.status_code == 403
    assert _codes(response) == ["FORBIDDEN"]


async def test_token_for_a_tenant_that_does_not_exist_is_tenant_not_found(
    client: httpx.AsyncClient, tenants: TenantFactory
) -> None:
    missing_tenant = str(uuid.uuid4())
    operator = await tenants.operator(tenant_id=missing_tenant)

    response = await _post(client, operator.headers)

    assert _codes(response) == ["TENANT_NOT_FOUND"]


async def test_mutation_outside_the_token_scopes_is_forbidden_naming_the_scope(
    tenants: TenantFactory,
) -> None:
    # given
    reader = await tenants.operator(scopes=["application:read"])

    # when
    body = await reader.execute(REGISTER_APPLICATION)

    # then
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert "application:write" in body["errors"][0]["message"]


async def test_query_inside_the_token_scopes_is_answered(tenants: TenantFactory) -> None:
    reader = await tenants.operator(scopes=["application:read"])

    data = await reader.query(APPLICATIONS)

    assert data == {"result": {"totalCount": 0}}


async def test_missing_scope_message_names_the_scope_as_plain_text(tenants: TenantFactory) -> None:
    reader = await tenants.operator(scopes=["application:read"])

    body = await reader.execute(REGISTER_APPLICATION)

    assert body["errors"][0]["message"] == "missing scope 'application:write'"


# --- tokens of an external OIDC issuer, keys fetched from a real JWKS endpoint --------------------------


@pytest.fixture(scope="module")
def oidc_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(oidc_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """A JWKS document served over HTTP on a free loopback port, as an identity provider would."""
    jwk = {
        **jwt.algorithms.RSAAlgorithm.to_jwk(oidc_key.public_key(), as_dict=True),
        "kid": OIDC_KID,
        "use": "sig",
    }
    document = json.dumps({"keys": [jwk]}).encode()

    class JWKSHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), JWKSHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
async def oidc_client(
    settings: Settings, database_url: str, jwks_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    oidc_settings = settings.model_copy(update={"oidc_issuer": OIDC_ISSUER, "oidc_jwks_url": jwks_url})
    application = create_app(oidc_settings, Database(database_url))
    async with LifespanManager(application) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_oidc_token_signed_with_a_published_key_is_accepted(
    oidc_client: httpx.AsyncClient, oidc_key: rsa.RSAPrivateKey, tenants: TenantFactory
) -> None:
    # given
    tenant_id = await tenants.create()
    claims = _claims(issuer=OIDC_ISSUER, tenant_id=tenant_id, sub="alice", scopes=["application:read"])
    token = jwt.encode(claims, oidc_key, algorithm="RS256", headers={"kid": OIDC_KID})

    # when
    response = await _post(oidc_client, {"Authorization": f"Bearer {token}", "Tenant": tenant_id})

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": "alice", "type": "USER"}}}


async def test_oidc_token_with_an_unknown_key_id_is_unauthenticated(
    oidc_client: httpx.AsyncClient, oidc_key: rsa.RSAPrivateKey, tenants: TenantFactory
) -> None:
    tenant_id = await tenants.create()
    token = jwt.encode(
        _claims(issuer=OIDC_ISSUER, tenant_id=tenant_id),
        oidc_key,
        algorithm="RS256",
        headers={"kid": "rotated-away"},
    )

    response = await _post(oidc_client, {"Authorization": f"Bearer {token}", "Tenant": tenant_id})

    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]
