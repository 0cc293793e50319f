from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import CertificateSubjectMapping


class CertificateSubjectMappingRepository:
    """Not tenant-scoped: the mappings are the platform's, as in Compass."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, mapping_id: str) -> CertificateSubjectMapping | None:
        return await self.session.get(CertificateSubjectMapping, mapping_id)

    async def list(self, *, limit: int, offset: int) -> tuple[list[CertificateSubjectMapping], int]:
        total = (await self.session.execute(select(func.count()).select_from(CertificateSubjectMapping))).scalar_one()
        statement = (
            select(CertificateSubjectMapping)
            .order_by(CertificateSubjectMapping.created_at, CertificateSubjectMapping.id)
            .limit(limit)
            .offset(offset)
        )
        return list((await self.session.execute(statement)).scalars()), total

    async def every(self) -> Sequence[CertificateSubjectMapping]:
        """All of them in creation order (a certificate takes the first that matches); they are few."""
        statement = select(CertificateSubjectMapping).order_by(
            CertificateSubjectMapping.created_at, CertificateSubjectMapping.id
        )
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, mapping: CertificateSubjectMapping) -> CertificateSubjectMapping:
        self.session.add(mapping)
        await self.session.flush()
        return mapping

    async def delete(self, mapping: CertificateSubjectMapping) -> None:
        await self.session.delete(mapping)
        await self.session.flush()
