"""Tenant access: an object (application, runtime, runtime context) of one tenant shared with another, as
Compass's ``addTenantAccess`` does it.

A grant makes the object, and everything under it, visible to the grantee in every query (the repositories'
``visible_to``); an owner grant also lets the grantee change and delete it. As in Compass, a grant to a tenant
reaches every tenant above it (its parents, theirs...), and revoking it takes back exactly what it gave.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from director.models import TenantAccess
from director.models.tenant_access import RESOURCE_TYPES
from director.polling.invalidation import changes
from director.tenant.repository import TenantRepository
from director.tenant.service import tenant as tenant_service
from director.tenantaccess.inputs import TenantAccessInput, TenantAccessView
from director.tenantaccess.repository import TenantAccessRepository
from kernel.errors import InvalidInputError, NotFoundError


def _check_type(resource_type: str) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise InvalidInputError(
            f"resourceType must be one of {', '.join(RESOURCE_TYPES)}, got {resource_type!r}"
        )


def _missing(resource_type: str, resource_id: str) -> NotFoundError:
    return NotFoundError(f"{resource_type.lower().replace('_', ' ')} {resource_id} does not exist")


class TenantAccessService:
    async def grant(
        self, session: AsyncSession, *, tenant_id: str, resource_type: str, resource_id: str, owner: bool
    ) -> None:
        """Gives ``tenant_id`` (internal) and the tenants above it access to the object; granting it again changes
        nothing (Compass keeps the first grant), nor does granting it to the tenant it was made in."""
        _check_type(resource_type)
        home = await self._home(session, resource_type, resource_id)
        await self._grant(session, home, tenant_id, resource_type, resource_id, owner=owner)

    async def revoke(
        self, session: AsyncSession, *, tenant_id: str, resource_type: str, resource_id: str
    ) -> None:
        """Takes back the grant given to ``tenant_id`` (internal) and what it gave the tenants above it; a tenant
        that never had it is left as it was."""
        _check_type(resource_type)
        home = await self._home(session, resource_type, resource_id)
        await self._hold(session, home, resource_type)
        await self._revoke(session, tenant_id, resource_type, resource_id)

    async def add(
        self, session: AsyncSession, caller_tenant_id: str, data: TenantAccessInput
    ) -> TenantAccessView:
        """``addTenantAccess``: the caller shares an object it may change (its own, or one it was granted as an
        owner) with the tenant ``data`` names by its external id."""
        _check_type(data.resource_type)
        grantee = await self._grantee(session, data.tenant_id)
        home = await self._home(session, data.resource_type, data.resource_id)
        await self._check_changeable(session, caller_tenant_id, home, data.resource_type, data.resource_id)
        await self._grant(session, home, grantee, data.resource_type, data.resource_id, owner=data.owner)
        return await self._view(
            session,
            home,
            grantee,
            external_id=data.tenant_id,
            resource_type=data.resource_type,
            resource_id=data.resource_id,
        )

    async def remove(
        self,
        session: AsyncSession,
        caller_tenant_id: str,
        *,
        tenant_id: str,
        resource_type: str,
        resource_id: str,
    ) -> TenantAccessView:
        """``removeTenantAccess``: ``tenant_id`` is the grantee's external id; the grant must exist."""
        _check_type(resource_type)
        grantee = await self._grantee(session, tenant_id)
        home = await self._home(session, resource_type, resource_id)
        await self._check_changeable(session, caller_tenant_id, home, resource_type, resource_id)
        if home == grantee:
            raise InvalidInputError(f"tenant {tenant_id} owns {resource_id}: its access cannot be removed")
        await self._hold(session, home, resource_type)
        view = await self._view(
            session, home, grantee, external_id=tenant_id, resource_type=resource_type, resource_id=resource_id
        )
        await self._revoke(session, grantee, resource_type, resource_id)
        return view

    async def _grant(
        self, session: AsyncSession, home: str, tenant_id: str, resource_type: str, resource_id: str, *, owner: bool
    ) -> None:
        if home == tenant_id:
            return
        await self._hold(session, home, resource_type)
        repository = TenantAccessRepository(session)
        if await repository.get(tenant_id, resource_type, resource_id) is not None:
            return
        reached = [tenant_id, *await tenant_service.ancestors(session, tenant_id)]
        changes(session).other_tenants(reached)
        await repository.add_all(
            [
                TenantAccess(
                    tenant_id=reached_id,
                    resource_type=resource_type,
                    resource_id=resource_id,
                    source=tenant_id,
                    owner=owner,
                )
                for reached_id in reached
                if reached_id != home
            ]
        )

    async def _revoke(self, session: AsyncSession, tenant_id: str, resource_type: str, resource_id: str) -> None:
        repository = TenantAccessRepository(session)
        if await repository.get(tenant_id, resource_type, resource_id) is None:
            return
        changes(session).other_tenants([tenant_id, *await tenant_service.ancestors(session, tenant_id)])
        await repository.delete_given_to(tenant_id, resource_type, resource_id)

    async def _hold(self, session: AsyncSession, home: str, resource_type: str) -> None:
        """Before the grants of an application are read or written: its home tenant's row, which every writer of
        the application in that tenant locks before it reads who shares it (``Changes.application``). Grants of
        runtimes and contexts feed no other tenant's view, so they lock nothing."""
        if resource_type == "APPLICATION":
            await changes(session).grants_of(home)

    async def _home(self, session: AsyncSession, resource_type: str, resource_id: str) -> str:
        home = await TenantAccessRepository(session).home_of(resource_type, resource_id)
        if home is None:
            raise _missing(resource_type, resource_id)
        return home

    async def _grantee(self, session: AsyncSession, external_id: str) -> str:
        found = await TenantRepository(session).get_by_external_id(external_id)
        if found is None:
            raise NotFoundError(f"tenant {external_id} does not exist")
        return found.id

    async def _check_changeable(
        self, session: AsyncSession, caller_tenant_id: str, home: str, resource_type: str, resource_id: str
    ) -> None:
        """The object must be the caller's, or granted to it as an owner; any other answers like a missing one."""
        if home != caller_tenant_id and not await TenantAccessRepository(session).owns(
            caller_tenant_id, resource_type, resource_id
        ):
            raise _missing(resource_type, resource_id)

    async def _view(
        self, session: AsyncSession, home: str, grantee: str, *, external_id: str, resource_type: str, resource_id: str
    ) -> TenantAccessView:
        if home == grantee:
            return TenantAccessView(external_id, resource_type, resource_id, owner=True)
        found = await TenantAccessRepository(session).get(grantee, resource_type, resource_id)
        if found is None:
            raise NotFoundError(f"tenant access for tenant {external_id} to {resource_id} does not exist")
        return TenantAccessView(external_id, resource_type, resource_id, owner=found.owner)


tenant_access = TenantAccessService()
