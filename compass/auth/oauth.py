"""The OAuth 2.0 token endpoint for client credentials (RFC 6749 section 4.4), in Hydra's place and at its path,
``POST /oauth2/token``; and what a token it issued is worth at the Director.

The client is a system auth whose ``client_secret_hash`` is set (``requestClientCredentialsFor*``). Authlib does
the protocol: client authentication by HTTP Basic or by form fields, the grant, the ``scope`` parameter, error
bodies and status codes, ``Cache-Control: no-store``. Authlib is synchronous, so the client is read (async)
before it runs, from the client id the request names.

The JWT is signed like an operator's (``compass.auth.jwt``) and names its consumer. A runtime's or an
application's acts like that object's client certificate: only its own objects. An integration system's carries
the scopes Compass gives that consumer type and acts in the tenant each request names in its ``Tenant`` header.
Deleting the system auth refuses new tokens and, since every request looks the client up again, tokens already
issued too.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from compass.auth.jwt import VerifiedClaims, issue_token, load_or_create_signing_key
from credentials.models import SystemAuth
from credentials.systemauth.repository import SystemAuthRepository
from credentials.tokens import hash_token
from kernel.db import Database
from kernel.errors import ForbiddenError, UnauthenticatedError
from kernel.principal import (
    CertificateIdentity,
    ClientKind,
    ClientPrincipal,
    IntegrationSystemPrincipal,
    Scope,
)
from kernel.settings import Settings

TOKEN_PATH = "/oauth2/token"  # Hydra's public token endpoint, which Compass's client credentials name

RUNTIME = "Runtime"
APPLICATION = "Application"
INTEGRATION_SYSTEM = "Integration System"

# Compass's scopesPerConsumerType (its director chart), of the scopes pycompass has.
_KNOWN = frozenset(Scope)
CONSUMER_SCOPES: dict[str, frozenset[str]] = {
    RUNTIME: _KNOWN & {
        "runtime:read", "runtime:write", "application:read", "runtime.auths:read", "runtime.webhooks:read",
        "bundle.instance_auths:read", "webhook:write",
    },
    APPLICATION: _KNOWN & {
        "application:read", "application:write", "application.auths:read", "application.webhooks:read",
        "bundle.instance_auths:read", "document.fetch_request:read", "event_spec.fetch_request:read",
        "api_spec.fetch_request:read", "fetch-request.auth:read", "webhook:write",
    },
    INTEGRATION_SYSTEM: _KNOWN & {
        "application:read", "application:write", "application.local_tenant_id:write", "application_template:read",
        "application_template:write", "runtime:read", "runtime:write", "integration_system:read", "integration_system.auths:read",
        "label_definition:read", "label_definition:write", "formation:read", "formation:write",
        "formation_template:read", "application.auths:read", "application_template.webhooks:read", "webhook:write",
    },
}
_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
_FORM = "application/x-www-form-urlencoded"
_CLIENT_ID_LENGTH = 36  # a system auth's id: longer ones are no client's, and not looked up


def consumer_type(auth: SystemAuth) -> tuple[str, str]:
    """Compass's consumer type of a system auth, and the id of its runtime, application or integration system."""
    if auth.runtime_id is not None:
        return RUNTIME, auth.runtime_id
    if auth.application_id is not None:
        return APPLICATION, auth.application_id
    if auth.integration_system_id is not None:
        return INTEGRATION_SYSTEM, auth.integration_system_id
    raise ValueError(f"system auth {auth.id} belongs to nothing")


class OAuthClient(ClientMixin):
    """A system auth as authlib's confidential client: client credentials only, at the token endpoint only."""

    def __init__(self, auth: SystemAuth) -> None:
        self.auth = auth
        self.consumer = consumer_type(auth)
        self.scopes = CONSUMER_SCOPES[self.consumer[0]]

    def get_client_id(self) -> str:
        return self.auth.id

    def get_default_redirect_uri(self) -> str:
        return ""  # client credentials redirect nowhere

    def get_allowed_scope(self, scope: Collection[str] | str | None) -> str:
        """What the token is given: the requested scopes (validated by the grant), or all of the consumer type's."""
        requested = (scope_to_list(scope) if isinstance(scope, str) else list(scope or ())) or sorted(self.scopes)
        return " ".join(item for item in requested if item in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:  # noqa: ARG002 - authlib's signature
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(hash_token(client_secret), self.auth.client_secret_hash or "")

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:  # noqa: ARG002 - authlib's signature
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE


class _Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """``scope`` narrows what the consumer type is given; asking for more is invalid_scope (RFC 6749 5.2)."""
        payload = self.request.payload
        requested = set(scope_to_list(payload.scope if payload else None) or ())
        if not requested <= self.client.scopes:
            raise InvalidScopeError(description="The scope exceeds what this client is given.")


class _Payload(OAuth2Payload):
    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    @property
    def data(self) -> dict[str, str]:
        return dict(self._fields)

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._fields:
            values[key].append(value)
        return values


class _Request(OAuth2Request):
    def __init__(self, request: Request, fields: list[tuple[str, str]]) -> None:
        # Transport security is the listener's, as for operators' JWTs: the plain listener serves loopback or a
        # TLS-terminating ingress, so authlib's own https check is given the https URL.
        super().__init__(request.method, str(request.url.replace(scheme="https")), headers=request.headers)
        self.payload = _Payload(fields)
        self._form = dict(fields)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str | None]:
        return {}


class _Server(AuthorizationServer):
    """One per request: it holds the client read before authlib runs (authlib's ``query_client`` is synchronous)."""

    def __init__(self, client: OAuthClient | None, settings: Settings, key: ec.EllipticCurvePrivateKey) -> None:
        super().__init__()
        self.client = client
        self.settings = settings
        self.key = key
        self.register_grant(_Grant)

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def query_client(self, client_id: str) -> OAuthClient | None:  # type: ignore[override]  # None: no such client
        return self.client if self.client is not None and self.client.get_client_id() == client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are JWTs, not stored: the client is looked up again on every call instead."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals are listened to."""

    def handle_response(self, status: int, body: Mapping[str, object], headers: Mapping[str, str]) -> Response:
        # authlib passes the headers as (name, value) pairs, whatever its stubs say.
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def generate_token(  # noqa: PLR0917 - authlib's signature
        self,
        grant_type: str,  # noqa: ARG002 - authlib's signature; only client_credentials is registered
        client: ClientMixin,
        user: Any = None,  # noqa: ARG002 - no user in this grant
        scope: str | None = None,
        expires_in: int | None = None,  # noqa: ARG002 - the lifetime is the settings'
        include_refresh_token: bool = True,  # noqa: ARG002 - client credentials get no refresh token
    ) -> dict[str, str | int]:
        assert isinstance(client, OAuthClient)  # noqa: S101 - query_client answers nothing else
        granted = client.get_allowed_scope(scope)
        ttl = self.settings.oauth_token_ttl_seconds
        access_token = issue_token(
            self.settings,
            tenant_id=client.auth.tenant_id,
            scopes=granted.split(),
            ttl_seconds=ttl,
            subject=client.get_client_id(),
            consumer=client.consumer,
            key=self.key,
        )
        return {"access_token": access_token, "token_type": "bearer", "expires_in": ttl, "scope": granted}


class TokenEndpoint:
    """``POST /oauth2/token``; other methods are authlib's answer to a request it cannot use."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.key = load_or_create_signing_key(settings.jwt_key_file)

    def routes(self) -> list[Route]:
        return [Route(TOKEN_PATH, self.token, methods=["POST"])]

    async def token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        fields = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        server = _Server(await self._client(request, dict(fields)), self.settings, self.key)
        oauth_request = _Request(request, fields)
        if content_type != _FORM:
            error = InvalidRequestError(description=f"The body must be {_FORM}.")
            return cast("Response", server.handle_error_response(oauth_request, error))
        # authlib answers with what handle_response made (its stubs say a tuple).
        return cast("Response", server.create_token_response(oauth_request))

    async def _client(self, request: Request, form: dict[str, str]) -> OAuthClient | None:
        client_id, _secret = extract_basic_authorization({"Authorization": request.headers.get("authorization", "")})
        client_id = client_id or form.get("client_id")
        if not client_id or len(client_id) > _CLIENT_ID_LENGTH:
            return None
        async with self.database.read_sessions() as session:
            auth = await SystemAuthRepository(session).client(client_id)
        return OAuthClient(auth) if auth is not None else None


async def client_principal(
    database: Database, claims: VerifiedClaims, tenant_header: str | None
) -> ClientPrincipal | IntegrationSystemPrincipal:
    """The principal of a token the endpoint issued, if its client credentials still exist."""
    async with database.read_sessions() as session:
        auth = await SystemAuthRepository(session).client(claims.subject)
    if auth is None or (consumer := consumer_type(auth)) != (claims.consumer_type, claims.consumer_id):
        raise UnauthenticatedError("the client credentials of the bearer token were deleted")
    kind, object_id = consumer
    if kind == INTEGRATION_SYSTEM:
        if not tenant_header:
            raise ForbiddenError("an integration system's token acts in the tenant the Tenant header names: send it")
        return IntegrationSystemPrincipal(
            subject=object_id, tenant_id=tenant_header, scopes=claims.scopes & CONSUMER_SCOPES[INTEGRATION_SYSTEM]
        )
    assert auth.tenant_id is not None  # noqa: S101 - only integration systems' system auths are global
    # A token carries no certificate: its identity has no serial, and lives as long as the token.
    identity = CertificateIdentity(
        serial="",
        client_id=auth.id,
        tenant_id=auth.tenant_id,
        kind=ClientKind.RUNTIME if kind == RUNTIME else ClientKind.APPLICATION,
        object_id=object_id,
        not_after=datetime.fromtimestamp(claims.expires_at or 0, UTC),
    )
    return ClientPrincipal(identity)
