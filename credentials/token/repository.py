from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.models import OneTimeToken


class TokenRedemptionRepository:
    """Redemption across tenants: the token itself is the credential, so the tenant comes from its row."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def redeem(self, token_hash: str, types: Sequence[str], now: datetime) -> OneTimeToken | None:
        """Marks the token used in one conditional UPDATE: of concurrent redemptions exactly one changes the row."""
        result = await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.type.in_(list(types)),
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await self.find(token_hash)

    async def find(self, token_hash: str) -> OneTimeToken | None:
        statement = select(OneTimeToken).where(OneTimeToken.token_hash == token_hash)
        return (await self.session.execute(statement)).scalars().first()

    async def expire_unused(self, system_auth_ids: Sequence[str], token_type: str, now: datetime) -> None:
        """Ends the unused tokens of one type held by these client ids (e.g. signing tokens, on revocation)."""
        if not system_auth_ids:
            return
        await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.system_auth_id.in_(list(system_auth_ids)),
                OneTimeToken.type == token_type,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )

    async def delete_unused(self, system_auth_id: str, token_type: str) -> None:
        """Drops the client's unspent tokens of one type: they were never used, so there is nothing to keep."""
        await self.session.execute(
            delete(OneTimeToken)
            .where(
                OneTimeToken.system_auth_id == system_auth_id,
                OneTimeToken.type == token_type,
                OneTimeToken.used_at.is_(None),
            )
            .execution_options(synchronize_session=False)
        )

    async def prune(self, before: datetime, *, limit: int) -> int:
        """Deletes up to ``limit`` tokens spent or expired before ``before``; answers how many."""
        spent = and_(OneTimeToken.used_at.is_not(None), OneTimeToken.used_at < before)
        done = or_(spent, OneTimeToken.expires_at < before)
        batch = select(OneTimeToken.id).where(done).limit(limit)
        result = await self.session.execute(
            delete(OneTimeToken).where(OneTimeToken.id.in_(batch)).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
