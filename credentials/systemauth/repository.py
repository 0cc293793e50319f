from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from credentials.models import OneTimeToken, SystemAuth
from kernel.changes import credential_gone
from kernel.repository import TenantScopedRepository


class SystemAuthRepository(TenantScopedRepository[SystemAuth]):
    model = SystemAuth
    noun = "system auth"
    deletion_tags = (credential_gone,)

    async def client(self, client_id: str) -> SystemAuth | None:
        """The system auth holding the OAuth client ``client_id``, of whichever tenant (or none): the token
        endpoint knows the client before it knows a tenant."""
        statement = select(SystemAuth).where(SystemAuth.id == client_id, SystemAuth.client_secret_hash.is_not(None))
        return (await self.session.execute(statement)).scalars().first()

    async def global_one(self, auth_id: str) -> SystemAuth | None:
        """An integration system's system auth: they belong to no tenant."""
        statement = select(SystemAuth).where(
            SystemAuth.id == auth_id, SystemAuth.tenant_id.is_(None), SystemAuth.integration_system_id.is_not(None)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def of_integration_systems(self, integration_system_ids: Sequence[str]) -> dict[str, list[SystemAuth]]:
        statement = self._ordered(
            select(SystemAuth).where(
                SystemAuth.tenant_id.is_(None), SystemAuth.integration_system_id.in_(integration_system_ids)
            )
        )
        grouped: dict[str, list[SystemAuth]] = defaultdict(list)
        for row in (await self.session.execute(statement)).scalars():
            grouped[row.integration_system_id or ""].append(row)
        return grouped


class OneTimeTokenRepository(TenantScopedRepository[OneTimeToken]):
    model = OneTimeToken
    noun = "one-time token"

    async def system_auth_of_valid(self, tenant_id: str, token_hash: str, now: datetime) -> SystemAuth | None:
        """The system auth of the tenant's unused, unexpired token with this hash."""
        statement = (
            select(SystemAuth)
            .join(OneTimeToken, OneTimeToken.system_auth_id == SystemAuth.id)
            .where(
                OneTimeToken.tenant_id == tenant_id,
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
        )
        return (await self.session.execute(statement)).scalars().first()

    async def invalidate_unused(self, tenant_id: str, system_auth_id: str, now: datetime) -> None:
        await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.tenant_id == tenant_id,
                OneTimeToken.system_auth_id == system_auth_id,
                OneTimeToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
