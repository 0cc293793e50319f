"""Tenants: created by operators with the CLI; each one starts with its DEFAULT formation."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.service import formation as formation_service
from director.models import Tenant
from director.tenant.repository import TenantRepository
from kernel.errors import ConflictError, InvalidInputError, TenantNotFoundError


class TenantService:
    async def create(self, session: AsyncSession, name: str) -> Tenant:
        name = name.strip()
        if not name or len(name) > 256:
            raise InvalidInputError("tenant name must be 1 to 256 characters")
        repository = TenantRepository(session)
        if await repository.get_by_name(name) is not None:
            raise ConflictError(f"tenant {name!r} already exists")
        tenant = await repository.add(Tenant(name=name))
        await formation_service.ensure_default(session, tenant.id)
        return tenant

    async def resolve(self, session: AsyncSession, name_or_id: str) -> Tenant:
        tenant = await TenantRepository(session).get_by_name_or_id(name_or_id)
        if tenant is None:
            raise TenantNotFoundError(f"no tenant named or with id {name_or_id!r}")
        return tenant

    async def list_all(self, session: AsyncSession) -> list[Tenant]:
        tenants, _ = await TenantRepository(session).list(limit=10_000, offset=0)
        return tenants


tenant = TenantService()
