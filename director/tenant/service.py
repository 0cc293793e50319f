"""Tenants: created by operators with the CLI; each one starts with its DEFAULT formation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.service import formation as formation_service
from director.models import Tenant
from director.pagination import Page, PageRequest
from director.tenant.repository import TenantRepository
from kernel.errors import ConflictError, InvalidInputError, TenantNotFoundError

MAX_NAME_LENGTH = 256


class TenantService:
    async def create(self, session: AsyncSession, name: str) -> Tenant:
        """No view of a new tenant exists yet: nothing to declare, and no unit of work needed."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"tenant name must be 1 to {MAX_NAME_LENGTH} characters")
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

    async def page(
        self, session: AsyncSession, *, ids: Sequence[str], search: str | None, request: PageRequest
    ) -> Page[Tenant]:
        """The tenants among ``ids`` (those a caller may act in) whose name or id contains ``search``."""
        rows, total = await TenantRepository(session).list(
            ids=ids, search=search, limit=request.limit, offset=request.offset
        )
        return Page(rows, total, request.offset)

    async def list_all(self, session: AsyncSession) -> list[Tenant]:
        tenants, _ = await TenantRepository(session).list(limit=10_000, offset=0)
        return tenants


tenant = TenantService()
