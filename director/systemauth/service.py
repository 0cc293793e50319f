"""System auths (client ids) and the one-time tokens bound to them; redemption is the Connector's."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from credentials.audit.repository import AuditRepository, audit_event
from credentials.systemauth.repository import OneTimeTokenRepository, SystemAuthRepository
from credentials.tokens import TokenType, hash_token, new_token
from director.application.repository import ApplicationRepository
from director.models import OneTimeToken, SystemAuth
from director.runtime.repository import RuntimeRepository
from kernel.errors import InvalidInputError, NotFoundError
from kernel.models import utcnow


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
        auth = await SystemAuthRepository(session).get(tenant_id, auth_id)
        if auth is None:
            raise NotFoundError(f"system auth {auth_id} does not exist")
        return auth

    async def _system_auth(
        self, session: AsyncSession, tenant_id: str, token_type: TokenType, object_id: str, auth_id: str | None
    ) -> SystemAuth:
        owner_column = "runtime_id" if token_type is TokenType.RUNTIME else "application_id"
        if auth_id is None:
            auth = SystemAuth(tenant_id=tenant_id, **{owner_column: object_id})
            return await SystemAuthRepository(session).add(auth)
        auth = await self.get(session, tenant_id, auth_id)
        if getattr(auth, owner_column) != object_id:
            raise InvalidInputError(f"system auth {auth_id} does not belong to {token_type.value.lower()} {object_id}")
        return auth

    async def request_token(
        self,
        session: AsyncSession,
        tenant_id: str,
        token_type: TokenType,
        object_id: str,
        auth_id: str | None,
        *,
        ttl: timedelta,
        connector_url: str,
        now: datetime | None = None,
    ) -> IssuedToken:
        if token_type is TokenType.RUNTIME:
            found = await RuntimeRepository(session).get(tenant_id, object_id) is not None
        else:
            found = await ApplicationRepository(session).get(tenant_id, object_id) is not None
        if not found:
            raise NotFoundError(f"{token_type.value.lower()} {object_id} does not exist")
        auth = await self._system_auth(session, tenant_id, token_type, object_id, auth_id)
        issued_at = now or utcnow()
        token = new_token()
        record = await OneTimeTokenRepository(session).add(
            OneTimeToken(
                tenant_id=tenant_id,
                system_auth_id=auth.id,
                token_hash=hash_token(token),
                type=token_type.value,
                created_at=issued_at,
                expires_at=issued_at + ttl,
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
        legacy_url = f"{connector_url.replace('/graphql', '/v1/applications/signingRequests/info')}?token={token}"
        return IssuedToken(token, record, connector_url, legacy_url)

    async def invalidate_tokens(self, session: AsyncSession, tenant_id: str, auth_id: str) -> SystemAuth:
        auth = await self.get(session, tenant_id, auth_id)
        await OneTimeTokenRepository(session).invalidate_unused(tenant_id, auth.id, utcnow())
        return auth


system_auth = SystemAuthService()
