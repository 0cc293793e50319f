"""System auths (client ids) and the one-time tokens bound to them; redemption is the Connector's."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from credentials.audit.repository import AuditRepository, audit_event
from credentials.systemauth.repository import OneTimeTokenRepository, SystemAuthRepository
from credentials.tokens import TokenType, hash_token, new_token
from director.application import parts
from director.application.repository import ApplicationRepository
from director.models import OneTimeToken, SystemAuth
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.systemauth.inputs import TokenPolicy
from kernel.errors import ForbiddenError, InvalidInputError
from kernel.principal import ClientKind, Principal, Scope

_OWNER_COLUMN = {ClientKind.RUNTIME: "runtime_id", ClientKind.APPLICATION: "application_id"}
_TOKEN_TYPE = {ClientKind.RUNTIME: TokenType.RUNTIME, ClientKind.APPLICATION: TokenType.APPLICATION}


@dataclass(frozen=True)
class IssuedToken:
    """The only moment the raw token exists on the server: it is handed out and then only its hash remains."""

    token: str
    record: OneTimeToken
    connector_url: str
    legacy_connector_url: str

    @property
    def raw(self) -> str:
        return json.dumps(
            {
                "token": self.token,
                "connectorURL": self.connector_url,
                "used": False,
                "expiresAt": self.record.expires_at.isoformat().replace("+00:00", "Z"),
                "createdAt": self.record.created_at.isoformat().replace("+00:00", "Z"),
                "usedAt": None,
                "type": self.record.type,
            },
            separators=(",", ":"),
        )

    @property
    def raw_encoded(self) -> str:
        return base64.b64encode(self.raw.encode()).decode()


class SystemAuthService:
    async def get(self, session: AsyncSession, tenant_id: str, auth_id: str) -> SystemAuth:
        return await SystemAuthRepository(session).get_or_raise(tenant_id, auth_id)

    async def find(self, session: AsyncSession, tenant_id: str, auth_id: str) -> SystemAuth | None:
        return await SystemAuthRepository(session).get(tenant_id, auth_id)

    # Batch reads for the DataLoaders: the system auths of many owners in one statement.

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[SystemAuth]]:
        return await SystemAuthRepository(session).grouped_by(tenant_id, "application_id", application_ids)

    async def by_runtimes(
        self, session: AsyncSession, tenant_id: str, runtime_ids: Sequence[str]
    ) -> dict[str, list[SystemAuth]]:
        return await SystemAuthRepository(session).grouped_by(tenant_id, "runtime_id", runtime_ids)

    async def _system_auth(
        self, session: AsyncSession, tenant_id: str, kind: ClientKind, object_id: str, auth_id: str | None
    ) -> SystemAuth:
        owner_column = _OWNER_COLUMN[kind]
        if auth_id is None:
            auth = SystemAuth(tenant_id=tenant_id, **{owner_column: object_id})
            return await SystemAuthRepository(session).add(auth)
        auth = await self.get(session, tenant_id, auth_id)
        if getattr(auth, owner_column) != object_id:
            raise InvalidInputError(f"system auth {auth_id} does not belong to {kind.lower()} {object_id}")
        return auth

    async def request_runtime_token(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, auth_id: str | None, *, policy: TokenPolicy, now: datetime
    ) -> IssuedToken:
        """A one-time token living ``policy.runtime_ttl``; its new system auth shows only in the runtime's view."""
        await changes(session).runtime(runtime_id)
        await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        return await self._issue(
            session, tenant_id, ClientKind.RUNTIME, runtime_id, auth_id,
            ttl=policy.runtime_ttl, connector_url=policy.connector_url, legacy_connector_url=policy.legacy_connector_url,
            now=now,
        )

    async def request_application_token(
        self, session: AsyncSession, tenant_id: str, application_id: str, auth_id: str | None, *, policy: TokenPolicy, now: datetime
    ) -> IssuedToken:
        """A one-time token living ``policy.application_ttl``; its new system auth shows in the view of every
        runtime that sees the application."""
        await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        return await self._issue(
            session, tenant_id, ClientKind.APPLICATION, application_id, auth_id,
            ttl=policy.application_ttl, connector_url=policy.connector_url, legacy_connector_url=policy.legacy_connector_url,
            now=now,
        )

    async def _issue(
        self,
        session: AsyncSession,
        tenant_id: str,
        kind: ClientKind,
        object_id: str,
        auth_id: str | None,
        *,
        ttl: timedelta,
        connector_url: str,
        legacy_connector_url: str,
        now: datetime,
    ) -> IssuedToken:
        auth = await self._system_auth(session, tenant_id, kind, object_id, auth_id)
        token_type = _TOKEN_TYPE[kind]
        token = new_token()
        record = await OneTimeTokenRepository(session).add(
            OneTimeToken(
                tenant_id=tenant_id,
                system_auth_id=auth.id,
                token_hash=hash_token(token),
                type=token_type.value,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        AuditRepository(session).record(
            audit_event(
                "token_issued",
                tenant_id=tenant_id,
                client_id=auth.id,
                detail={"type": token_type.value, "expires_at": record.expires_at.isoformat()},
            )
        )
        # Compass's legacy URL carries the token as a query parameter; clients hand it out as it is.
        return IssuedToken(token, record, connector_url, f"{legacy_connector_url}?token={token}")

    async def invalidate_tokens(
        self, session: AsyncSession, tenant_id: str, auth_id: str, *, caller: Principal, now: datetime
    ) -> SystemAuth:
        """Spends every unused token of the system auth (a runtime's counts as the tenant's change). As Compass's
        deleteSystemAuthFor{Runtime,Application}, the caller needs its owner's write scope, not any."""
        auth = await parts.changing(SystemAuthRepository(session), tenant_id, auth_id)
        scope = Scope.RUNTIME_WRITE if auth.runtime_id else Scope.APPLICATION_WRITE
        if not caller.has_scope(scope):
            raise ForbiddenError(f"missing scope {str(scope)!r}")
        await OneTimeTokenRepository(session).invalidate_unused(tenant_id, auth.id, now)
        return auth


system_auth = SystemAuthService()
