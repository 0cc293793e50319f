"""Tenants: created by operators with the CLI, or written as Compass's tenant fetcher writes them (an external
id, parents, labels); each one starts with its DEFAULT formation.

What an operator sees of tenants: its own, and the tenants above it (its parents, theirs...); the holder of the
platform scope tenant:write sees every tenant. Every other object is made in one tenant, which owns it; other
tenants see it only when granted it (``director.tenantaccess``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.formation.service import formation as formation_service
from director.label.service import validate_key
from director.models import Tenant
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.tenant.inputs import TENANT_TYPES, UNKNOWN_TYPE, BusinessTenantMappingInput
from director.tenant.repository import TenantRepository
from director.tenantaccess.repository import TenantAccessRepository
from kernel.errors import ConflictError, InvalidInputError, NotFoundError, TenantNotFoundError
from kernel.repository import TenantScopedRepository

MAX_NAME_LENGTH = 256
MAX_EXTERNAL_ID_LENGTH = 256
# Compass's tenant fetcher writes and deletes in chunks of 500 by default.
MAX_BATCH = 500
# Labels Compass's tenant fetcher sets from the input's fields (key: field), when they are not empty.
_LABELS = {
    "subdomain": "subdomain",
    "region": "region",
    "licensetype": "license_type",
    "customerId": "customer_id",
    "costObjectId": "cost_object_id",
    "costObjectType": "cost_object_type",
}
# Compass's resource types that tenantByLowestOwnerForResource answers for here.
_OWNED: dict[str, type[TenantScopedRepository[Any]]] = {
    "application": ApplicationRepository,
    "runtime": RuntimeRepository,
}


def _check_batch(items: Sequence[object]) -> None:
    if len(items) > MAX_BATCH:
        raise InvalidInputError(f"at most {MAX_BATCH} tenants per call, got {len(items)}")


def _trim_customer_id(external_id: str) -> str:
    """Compass drops a customer id's leading zeros, unless it is a UUID."""
    try:
        uuid.UUID(external_id)
    except ValueError:
        return external_id.lstrip("0")
    return external_id


def _normalized(data: BusinessTenantMappingInput, types: Mapping[str, str]) -> BusinessTenantMappingInput:
    """Compass's conversion of the input: customer ids trimmed (the tenant's, an account's customer parents',
    an organization's parents'), unknown types stored as "unknown"; ``types`` knows the parents' types."""
    name, external_id = data.name.strip(), data.external_tenant.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"tenant name must be 1 to {MAX_NAME_LENGTH} characters")
    if not external_id or len(external_id) > MAX_EXTERNAL_ID_LENGTH:
        raise InvalidInputError(f"externalTenant must be 1 to {MAX_EXTERNAL_ID_LENGTH} characters")
    if not data.provider.strip():
        raise InvalidInputError("provider must not be empty")
    parents = [parent for parent in data.parents or () if parent]
    if data.type == "customer":
        external_id = _trim_customer_id(external_id)
    elif data.type == "account":
        parents = [_trim_customer_id(p) if types.get(p) == "customer" else p for p in parents]
    elif data.type == "organization":
        parents = [_trim_customer_id(parent) for parent in parents]
    return replace(
        data,
        name=name,
        external_tenant=external_id,
        parents=list(parents),
        type=data.type if data.type in TENANT_TYPES else UNKNOWN_TYPE,
        customer_id=_trim_customer_id(data.customer_id) if data.customer_id is not None else None,
    )



def _parent_ids(data: BusinessTenantMappingInput, known: Mapping[str, Tenant], *, strict: bool) -> list[str]:
    """The internal ids of the parents ``data`` names, from ``known`` (external id → tenant); ``strict``: every
    named parent must be known."""
    named = [parent for parent in data.parents or () if parent]
    if strict and (missing := [parent for parent in named if parent not in known]):
        raise NotFoundError(f"parent tenants do not exist: {', '.join(missing)}")
    return list(dict.fromkeys(known[parent].id for parent in named if parent in known))

class TenantService:
    async def create(self, session: AsyncSession, name: str) -> Tenant:
        """No view of a new tenant exists yet: nothing to declare, and no unit of work needed."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"tenant name must be 1 to {MAX_NAME_LENGTH} characters")
        repository = TenantRepository(session)
        if await repository.get_by_name(name) is not None:
            raise ConflictError(f"tenant {name!r} already exists")
        tenant_id = str(uuid.uuid4())
        tenant = await repository.add(Tenant(id=tenant_id, external_id=tenant_id, name=name))
        await formation_service.ensure_default(session, tenant.id)
        return tenant

    async def ancestors(self, session: AsyncSession, tenant_id: str) -> list[str]:
        """The tenants above ``tenant_id``, nearest first: one statement per level."""
        repository, found, level = TenantRepository(session), [tenant_id], [tenant_id]
        while level:
            parents = await repository.parents_of(level)
            level = [parent for ids in parents.values() for parent in ids if parent not in found]
            found.extend(dict.fromkeys(level))
        return found[1:]

    async def _visible(self, session: AsyncSession, tenant_id: str, found: Tenant | None, everywhere: bool) -> Tenant | None:
        if found is None or everywhere or found.id == tenant_id:
            return found
        return found if found.id in await self.ancestors(session, tenant_id) else None

    async def by_external_id(
        self, session: AsyncSession, tenant_id: str, external_id: str, *, everywhere: bool
    ) -> Tenant | None:
        """``everywhere``: the caller holds tenant:write; otherwise its own tenant and those above it."""
        found = await TenantRepository(session).get_by_external_id(external_id)
        return await self._visible(session, tenant_id, found, everywhere)

    async def by_internal_id(self, session: AsyncSession, tenant_id: str, internal_id: str, *, everywhere: bool) -> Tenant | None:
        found = await TenantRepository(session).get(internal_id)
        return await self._visible(session, tenant_id, found, everywhere)

    async def roots(self, session: AsyncSession, tenant_id: str, external_id: str, *, everywhere: bool) -> list[Tenant]:
        """Compass's rootTenants: the topmost tenants above the tenant (none for a tenant without parents); of
        cost objects only the nearest."""
        tenant = await self.by_external_id(session, tenant_id, external_id, everywhere=everywhere)
        if tenant is None:
            return []
        repository, depth_of, level, depth = TenantRepository(session), {}, [tenant.id], 0
        roots: list[str] = []
        while level:
            parents = await repository.parents_of(level)
            roots.extend(node for node in level if depth and node not in parents)
            depth += 1
            level = [parent for ids in parents.values() for parent in ids if parent not in depth_of]
            depth_of.update(dict.fromkeys(level, depth))
        found = await repository.by_ids(roots)
        cost_objects = [depth_of[root.id] for root in found if root.type == "cost-object"]
        return [root for root in found if root.type != "cost-object" or depth_of[root.id] == min(cost_objects)]

    async def lowest_owner(self, session: AsyncSession, tenant_id: str, object_id: str, resource: str) -> str:
        """Compass's tenantByLowestOwnerForResource: the caller's tenant when it may change the object (it made it,
        or was granted it as an owner); otherwise the tenant the object was made in."""
        repository = _OWNED.get(resource)
        if repository is None:
            raise InvalidInputError(f"resource must be one of {', '.join(_OWNED)}, got {resource!r}")
        found = await repository(session).get_or_raise(tenant_id, object_id)
        if found.tenant_id == tenant_id or await TenantAccessRepository(session).owns(tenant_id, resource.upper(), object_id):
            return tenant_id
        return str(found.tenant_id)

    async def write(
        self, session: AsyncSession, tenant_id: str, inputs: Sequence[BusinessTenantMappingInput]  # noqa: ARG002 - tenants are the platform's
    ) -> list[str]:
        """Compass's writeTenants: each tenant is created, or updated when its external id exists; parents named
        by external id must be in the batch or exist; returns the internal ids."""
        _check_batch(inputs)
        changes(session).outside_views()
        repository = TenantRepository(session)
        batch_types = {data.external_tenant: data.type for data in inputs}
        named = [parent for data in inputs for parent in data.parents or () if parent and parent not in batch_types]
        stored = await repository.by_external_ids(named)
        normalized = [_normalized(data, {**{key: t.type for key, t in stored.items()}, **batch_types}) for data in inputs]
        written = {data.external_tenant: await self._upsert(session, data) for data in normalized}
        # The parents outside the batch are what ``stored`` read: writing the batch changes none of them.
        known = {**stored, **written}
        for data in normalized:
            await repository.set_parents(written[data.external_tenant].id, _parent_ids(data, known, strict=True))
        return list(dict.fromkeys(tenant.id for tenant in written.values()))

    async def write_one(self, session: AsyncSession, tenant_id: str, data: BusinessTenantMappingInput) -> str:  # noqa: ARG002 - tenants are the platform's
        """Compass's writeTenant: like writeTenants, but parents that do not exist are left out."""
        changes(session).outside_views()
        stored = await TenantRepository(session).by_external_ids([parent for parent in data.parents or () if parent])
        data = _normalized(data, {external_id: t.type for external_id, t in stored.items()})
        tenant = await self._upsert(session, data)
        # A tenant naming itself as a parent finds itself, as written now.
        known = {**stored, data.external_tenant: tenant}
        await TenantRepository(session).set_parents(tenant.id, _parent_ids(data, known, strict=False))
        return tenant.id

    async def _upsert(self, session: AsyncSession, data: BusinessTenantMappingInput) -> Tenant:
        repository = TenantRepository(session)
        tenant = await repository.get_by_external_id(data.external_tenant)
        await self._check_name_free(repository, data.name, tenant)
        if tenant is None:
            tenant = await repository.add(
                Tenant(external_id=data.external_tenant, name=data.name, type=data.type, provider=data.provider)
            )
            await formation_service.ensure_default(session, tenant.id)
        else:
            tenant.name, tenant.type, tenant.provider = data.name, data.type, data.provider
        for key, field in _LABELS.items():
            if value := getattr(data, field):
                await repository.set_label(tenant.id, key, value)
        await session.flush()
        return tenant

    @staticmethod
    async def _check_name_free(repository: TenantRepository, name: str, tenant: Tenant | None) -> None:
        """Names stay unique here (the CLI and the Tenant header accept a name)."""
        holder = await repository.get_by_name(name)
        if holder is not None and (tenant is None or holder.id != tenant.id):
            raise ConflictError(f"another tenant is named {name!r}")

    async def update(
        self, session: AsyncSession, tenant_id: str, internal_id: str, data: BusinessTenantMappingInput  # noqa: ARG002 - tenants are the platform's
    ) -> Tenant:
        """Compass's updateTenant: name, external id, type, provider and parents (those that exist) are replaced;
        labels stay."""
        changes(session).outside_views()
        repository = TenantRepository(session)
        tenant = await repository.get(internal_id)
        if tenant is None:
            raise NotFoundError(f"tenant {internal_id} does not exist")
        stored = await repository.by_external_ids([parent for parent in data.parents or () if parent])
        data = _normalized(data, {external_id: t.type for external_id, t in stored.items()})
        holder = await repository.get_by_external_id(data.external_tenant)
        if holder is not None and holder.id != tenant.id:
            raise ConflictError(f"another tenant has the external id {data.external_tenant!r}")
        await self._check_name_free(repository, data.name, tenant)
        tenant.name, tenant.external_id = data.name, data.external_tenant
        tenant.type, tenant.provider = data.type, data.provider
        # The tenant is found under its new external id only, as a lookup after the change would find it.
        known = {**{key: t for key, t in stored.items() if t.id != tenant.id}, tenant.external_id: tenant}
        await repository.set_parents(tenant.id, _parent_ids(data, known, strict=False))
        return tenant

    async def delete(self, session: AsyncSession, tenant_id: str, external_ids: Sequence[str]) -> int:  # noqa: ARG002 - tenants are the platform's
        """Compass's deleteTenants: each tenant (unless a cost object) with the tenants below it, and everything
        they own; external ids that do not exist are skipped; answers how many ids were given."""
        changes(session).outside_views()
        _check_batch(external_ids)
        repository = TenantRepository(session)
        for tenant in (await repository.by_external_ids(external_ids)).values():
            if tenant.type != "cost-object":
                await self._delete_below(repository, tenant.id, {tenant.id})
            await repository.delete(tenant)
        return len(external_ids)

    async def _delete_below(self, repository: TenantRepository, tenant_id: str, seen: set[str]) -> None:
        """``seen``: parents may form a cycle (nothing forbids it, in Compass either)."""
        for child_id in await repository.children_of(tenant_id):
            if child_id in seen:
                continue
            seen.add(child_id)
            await self._delete_below(repository, child_id, seen)
            child = await repository.get(child_id)
            if child is not None:
                await repository.delete(child)

    async def set_label(self, session: AsyncSession, tenant_id: str, internal_id: str, key: str, value: Any) -> None:  # noqa: ARG002 - tenants are the platform's
        changes(session).outside_views()
        validate_key(key)
        repository = TenantRepository(session)
        if await repository.get(internal_id) is None:
            raise NotFoundError(f"tenant {internal_id} does not exist")
        await repository.set_label(internal_id, key, value)

    async def parents_of(self, session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> dict[str, list[str]]:  # noqa: ARG002 - batch read of tenants already shown
        return await TenantRepository(session).parents_of(ids)

    async def labels_of(self, session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:  # noqa: ARG002 - batch read of tenants already shown
        return await TenantRepository(session).labels_of(ids)

    async def initialized(self, session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> dict[str, bool]:  # noqa: ARG002 - batch read of tenants already shown
        found = await TenantRepository(session).initialized(ids)
        return {tenant: tenant in found for tenant in ids}

    async def resolve(self, session: AsyncSession, name_or_id: str) -> Tenant:
        tenant = await TenantRepository(session).get_by_name_or_id(name_or_id)
        if tenant is None:
            raise TenantNotFoundError(f"no tenant named or with id {name_or_id!r}")
        return tenant

    async def page(
        self, session: AsyncSession, *, ids: Sequence[str] | None, search: str | None, request: PageRequest
    ) -> Page[Tenant]:
        """The tenants among ``ids`` (those a caller may act in; None: all) whose name or id contains ``search``."""
        rows, total = await TenantRepository(session).list(
            ids=ids, search=search, limit=request.limit, offset=request.offset
        )
        return Page(rows, total, request.offset)

    async def list_all(self, session: AsyncSession) -> list[Tenant]:
        tenants, _ = await TenantRepository(session).list(limit=10_000, offset=0)
        return tenants


tenant = TenantService()
