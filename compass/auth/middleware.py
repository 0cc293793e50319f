"""The one place a request's identity is decided; resolvers only read ``scope["state"]["principal"]``."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from compass.auth.jwt import JWTVerifier
from compass.auth.principal import OperatorPrincipal
from compass.db import Database
from compass.errors import CompassError, ForbiddenError, TenantNotFoundError, UnauthenticatedError
from compass.http import send_graphql_error
from director.tenant.repository import TenantRepository

TENANT_HEADER = "tenant"


class AuthenticationMiddleware:
    """Resolves the principal for the protected GraphQL paths; the GraphiQL page itself stays public."""

    def __init__(
        self, app: ASGIApp, *, verifier: JWTVerifier, database: Database, protected_paths: tuple[str, ...]
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.database = database
        self.protected_paths = protected_paths
        # Tenants are never deleted through the API, so a tenant once seen stays valid.
        self._known_tenants: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") not in self.protected_paths or self._is_ide(scope):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(Headers(scope=scope))
        except CompassError as error:
            await send_graphql_error(send, error)
            return
        # A new dict: the server may share one state dict between requests (asgi-lifespan does).
        scope["state"] = {**scope.get("state", {}), "principal": principal}
        await self.app(scope, receive, send)

    @staticmethod
    def _is_ide(scope: Scope) -> bool:
        if scope["method"] not in {"GET", "HEAD"} or b"query=" in scope.get("query_string", b""):
            return False
        return "text/html" in Headers(scope=scope).get("accept", "")

    async def _authenticate(self, headers: Headers) -> OperatorPrincipal:
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("send Authorization: Bearer <JWT> (see `compass token`)")
        claims = await self.verifier.verify(token.strip())
        if not claims.tenant_id:
            raise ForbiddenError("the bearer token names no tenant")
        requested = headers.get(TENANT_HEADER)
        if requested and requested != claims.tenant_id:
            raise ForbiddenError("the bearer token is not valid for the tenant in the Tenant header")
        await self._check_tenant(claims.tenant_id)
        return OperatorPrincipal(subject=claims.subject, tenant_id=claims.tenant_id, scopes=claims.scopes)

    async def _check_tenant(self, tenant_id: str) -> None:
        if tenant_id in self._known_tenants:
            return
        async with self.database.read_sessions() as session:
            tenant = await TenantRepository(session).get(tenant_id)
        if tenant is None:
            raise TenantNotFoundError(f"tenant {tenant_id!r} does not exist")
        self._known_tenants.add(tenant_id)
