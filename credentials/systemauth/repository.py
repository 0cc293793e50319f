from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from credentials.models import OneTimeToken, SystemAuth
from kernel.repository import TenantScopedRepository


class SystemAuthRepository(TenantScopedRepository[SystemAuth]):
    model = SystemAuth
    noun = "system auth"


class OneTimeTokenRepository(TenantScopedRepository[OneTimeToken]):
    model = OneTimeToken
    noun = "one-time token"

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
