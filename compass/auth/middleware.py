"""The one place a request's identity is decided; resolvers only read ``scope["state"]["principal"]``.

Director: an operator's JWT, a JWT the OAuth token endpoint issued for client credentials, a runtime's or
application's client certificate, or a certificate of an external CA that a certificate subject mapping names
(``compass.auth.external``). Connector, and the REST API's connector endpoints (``compass.adapter``): a
client certificate, or a one-time token (redeemed later, by the resolver or endpoint, in the same transaction as
what it buys). The Runtime Watcher's listener (``compass.watch_listener``): a client certificate of this CA, its
refusal left in ``scope["state"]["refusal"]`` for the endpoint to answer in its own order and format.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from compass.adapter.paths import Credential
from compass.adapter.responses import operator_refusal, refusal
from compass.auth.certificates import (
    ClientCertificate,
    ExternalCAs,
    client_certificate,
    client_id_of,
    serial_of,
)
from compass.auth.external import external_principal
from compass.auth.jwt import JWTVerifier
from compass.auth.oauth import client_principal
from connector.errors import CertificateRevokedError, RateLimitedError
from connector.graphql.context import TokenCredential
from connector.service import ConnectorService
from director.tenant.repository import TenantRepository
from kernel.changes import KeptValues, tenant_gone
from kernel.db import Database
from kernel.errors import CompassError, ForbiddenError, TenantNotFoundError, UnauthenticatedError
from kernel.http import send_graphql_error
from kernel.models import utcnow
from kernel.principal import CertificateIdentity, ClientPrincipal, OperatorPrincipal
from kernel.settings import Settings

TENANT_HEADER = "tenant"
KNOWN_TENANTS = 100_000
CONNECTOR_TOKEN_HEADER = "connector-token"


class AuthenticationMiddleware:
    """Resolves the principal for the GraphQL paths; the GraphiQL page itself stays public."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: JWTVerifier,
        database: Database,
        connector: ConnectorService,
        settings: Settings,
        director_path: str,
        connector_path: str,
        adapter_credential: Callable[[str], Credential | None] = lambda _path: None,
        known_tenants: KnownTenants | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.database = database
        self.connector = connector
        self.director_path = director_path
        self.connector_path = connector_path
        self.adapter_credential = adapter_credential
        self.trusted_proxies = frozenset(settings.trusted_proxies)
        self.external = ExternalCAs.load(settings.external_client_ca_file) if settings.external_client_ca_file else None
        self.refuse_revoked = settings.refuses_revoked
        self.rate = RateLimitItemPerSecond(settings.redemptions_per_second)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.known_tenants = known_tenants or KnownTenants(database)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").rstrip("/") if scope["type"] == "http" else ""
        adapter_credential = self.adapter_credential(path) if path else None
        if adapter_credential is Credential.CERTIFICATE:
            try:
                found: dict[str, object] = {"principal": await self._certificate_principal(scope)}
            except CompassError as error:
                found = {"refusal": error}
            scope["state"] = {**scope.get("state", {}), **found}
            await self.app(scope, receive, send)
            return
        if adapter_credential is not None:
            try:
                credential: object
                if adapter_credential is Credential.CONNECTOR:
                    credential = await self._connector_credential(scope)
                elif adapter_credential is Credential.DIRECTOR:
                    credential = await self._director_principal(scope)
                else:
                    credential = await self._operator(Headers(scope=scope))
            except CompassError as error:
                refuse = refusal if adapter_credential is Credential.CONNECTOR else operator_refusal
                await refuse(error, "Failed to authenticate")(scope, receive, send)
                return
            scope["state"] = {**scope.get("state", {}), "principal": credential}
            await self.app(scope, receive, send)
            return
        if path not in (self.director_path, self.connector_path) or self._is_ide(scope):
            await self.app(scope, receive, send)
            return
        try:
            if path == self.director_path:
                principal: object = await self._director_principal(scope)
            else:
                principal = await self._connector_credential(scope)
        except CompassError as error:
            await send_graphql_error(send, error)
            return
        # A new dict: the server may share one state dict between requests (asgi-lifespan does).
        scope["state"] = {**scope.get("state", {}), "principal": principal}
        await self.app(scope, receive, send)

    @staticmethod
    def _is_ide(scope: Scope) -> bool:
        """Only what strawberry answers with the page; it reads ``query`` decoded (``%71uery`` too)."""
        if scope["method"] not in {"GET", "HEAD"} or "query" in QueryParams(scope.get("query_string", b"")):
            return False
        return "text/html" in Headers(scope=scope).get("accept", "")

    def _certificate(self, scope: Scope) -> ClientCertificate | None:
        return client_certificate(
            scope, ca=self.connector.ca, trusted_proxies=self.trusted_proxies, now=utcnow(), external=self.external
        )

    async def _certificate_identity(self, scope: Scope, *, connector: bool = False) -> CertificateIdentity | None:
        presented = self._certificate(scope)
        if presented is None:
            return None
        if presented.external:
            # An external CA may put any serial and CN in a certificate: only ours name our clients.
            raise UnauthenticatedError("only certificates of this CA are accepted here")
        return await self._own_identity(scope, presented.certificate, connector=connector)

    async def _own_identity(
        self, scope: Scope, certificate: x509.Certificate, *, connector: bool = False
    ) -> CertificateIdentity:
        identity = await self.connector.identify(serial_of(certificate), client_id_of(certificate))
        if identity is None:
            raise UnauthenticatedError("the client certificate is not known here, or its runtime or application is gone")
        if identity.revoked and self.refuse_revoked:
            if connector:
                # At the Connector a revoked certificate is after another certificate: that goes into the audit.
                client = scope.get("client")
                await self.connector.refuse_revoked(identity, remote_addr=client[0] if client else None)
            raise CertificateRevokedError("the client certificate is revoked")
        return identity

    async def _certificate_principal(self, scope: Scope) -> ClientPrincipal | None:
        """The client of a certificate of this CA (directly or from a trusted proxy), or None without one."""
        identity = await self._certificate_identity(scope)
        return None if identity is None else ClientPrincipal(identity)

    async def _director_principal(self, scope: Scope) -> OperatorPrincipal | ClientPrincipal:
        headers = Headers(scope=scope)
        if headers.get("authorization"):
            return await self._bearer(headers)
        presented = self._certificate(scope)
        if presented is None:
            raise UnauthenticatedError("send Authorization: Bearer <JWT> (see `compass token`) or a client certificate")
        if presented.external:
            return await external_principal(self.database, presented.certificate, headers.get(TENANT_HEADER))
        return ClientPrincipal(await self._own_identity(scope, presented.certificate))

    async def _connector_credential(self, scope: Scope) -> CertificateIdentity | TokenCredential | None:
        identity = await self._certificate_identity(scope, connector=True)
        if identity is not None:
            return identity
        token = Headers(scope=scope).get(CONNECTOR_TOKEN_HEADER)
        if not token:
            # As Compass's token resolver: the header, else ?token= (decoded, like every query parameter).
            token = next(iter(QueryParams(scope.get("query_string", b"")).getlist("token")), None)
        if not token:
            return None
        client = scope.get("client")
        if not await self.limiter.hit(self.rate, client[0] if client else "unknown"):
            raise RateLimitedError(
                f"more than {self.rate.amount} token calls per second from this address; retry in a second"
            )
        return TokenCredential(token.strip())

    async def _operator(self, headers: Headers) -> OperatorPrincipal:
        principal = await self._bearer(headers)
        if not isinstance(principal, OperatorPrincipal):
            raise ForbiddenError("a runtime's or an application's token cannot call this; an operator's can")
        return principal

    async def _bearer(self, headers: Headers) -> OperatorPrincipal | ClientPrincipal:
        """An operator's JWT, or one the OAuth token endpoint issued for client credentials (``compass.auth.oauth``)."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("send Authorization: Bearer <JWT> (see `compass token`)")
        claims = await self.verifier.verify(token.strip())
        if claims.consumer_type is not None:
            principal = await client_principal(self.database, claims, headers.get(TENANT_HEADER))
            await self._check_tenant(principal.tenant_id)
            return principal
        if not claims.tenant_id:
            raise ForbiddenError("the bearer token names no tenant")
        requested = headers.get(TENANT_HEADER)
        if requested and requested != claims.tenant_id:
            raise ForbiddenError("the bearer token is not valid for the tenant in the Tenant header")
        await self._check_tenant(claims.tenant_id)
        return OperatorPrincipal(subject=claims.subject, tenant_id=claims.tenant_id, scopes=claims.scopes)

    async def _check_tenant(self, tenant_id: str) -> None:
        if not await self.known_tenants.exists(tenant_id):
            raise TenantNotFoundError(f"tenant {tenant_id!r} does not exist")


class KnownTenants:
    """Tenants seen to exist, kept until deleteTenants removes one (``kernel.changes``), and read again with
    everything kept (``revalidate``)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # A tenant is deleted rarely, by deleteTenants, which names it: on SQLite, where every commit says that
        # anything may have changed, operators' calls would otherwise read their tenant after every write.
        self.kept: KeptValues[str, bool] = KeptValues(
            database.changes, max_entries=KNOWN_TENANTS, only_when_named=True
        )

    async def exists(self, tenant_id: str) -> bool:
        async def load() -> tuple[bool, list[str]] | None:
            async with self.database.read_sessions() as session:
                tenant = await TenantRepository(session).get(tenant_id)
            return None if tenant is None else (True, [tenant_gone(tenant_id)])

        return await self.kept.read(tenant_id, load) is not None

    async def revalidate(self) -> int:
        async def current(tenant_ids: list[str]) -> dict[str, bool]:
            async with self.database.read_sessions() as session:
                return {tenant.id: True for tenant in await TenantRepository(session).by_ids(tenant_ids)}

        return await self.kept.revalidate(current)
