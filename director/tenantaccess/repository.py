from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, delete, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import (
    APIDefinition,
    Application,
    Aspect,
    Bundle,
    Document,
    EventDefinition,
    IntegrationDependency,
    Runtime,
    RuntimeContext,
    TenantAccess,
)
from kernel.repository import WRITING

_MODELS: dict[str, type[Application | Runtime | RuntimeContext]] = {
    "APPLICATION": Application,
    "RUNTIME": Runtime,
    "RUNTIME_CONTEXT": RuntimeContext,
}
# Rows below a granted object, by what they hang from: (model, the column naming the parent, the parent's kind).
_BELOW: dict[str, tuple[type[Any], str, str]] = {
    "BUNDLE": (Bundle, "application_id", "APPLICATION"),
    "API_DEFINITION": (APIDefinition, "application_id", "APPLICATION"),
    "EVENT_DEFINITION": (EventDefinition, "application_id", "APPLICATION"),
    "DOCUMENT": (Document, "bundle_id", "BUNDLE"),
    "INTEGRATION_DEPENDENCY": (IntegrationDependency, "application_id", "APPLICATION"),
    "ASPECT": (Aspect, "integration_dependency_id", "INTEGRATION_DEPENDENCY"),
}


def granted(tenant_id: str, resource_type: str, *, owner: bool = False) -> Select[str]:
    """The ids of the objects of ``resource_type`` granted to ``tenant_id`` (only those it owns: ``owner``), as a
    subquery every tenant-scoped statement can take, so a grant costs no statement of its own."""
    statement = select(TenantAccess.resource_id).where(
        TenantAccess.tenant_id == tenant_id, TenantAccess.resource_type == resource_type
    )
    return statement.where(TenantAccess.owner.is_(True)) if owner else statement


def visible_ids(kind: str, tenant_id: str, *, owner: bool) -> Select[str] | CompoundSelect[str]:
    """The ids of the objects of ``kind`` the tenant sees (``owner``: may change): its own, those granted to it
    and, for a row below an application (a bundle, a document...), those below the applications it sees.

    A union rather than an OR, so that PostgreSQL looks the rows up by index on each side."""
    if kind in _MODELS:
        model = _MODELS[kind]
        return union(
            select(model.id).where(model.tenant_id == tenant_id), granted(tenant_id, kind, owner=owner)
        )
    model, column, parent = _BELOW[kind]
    return select(model.id).where(getattr(model, column).in_(visible_ids(parent, tenant_id, owner=owner)))


class Shared:
    """A repository of rows other tenants may be granted (``director.tenantaccess``): a row hanging from a granted
    object is seen through it, whatever tenant wrote it; one that hangs from none is its own tenant's. In a unit of
    work that writes, only objects granted as an owner count: a read grant does not let the tenant change them.

    Placed before ``TenantScopedRepository`` among the bases, whose ``visible_to`` it replaces.
    """

    model: ClassVar[type[Any]]
    session: AsyncSession
    # (column naming the object the row hangs from, that object's kind); ("id", kind) for the granted objects.
    reached_through: ClassVar[tuple[tuple[str, str], ...]]

    def visible_to(self, tenant_id: str) -> ColumnElement[bool]:
        owner = bool(self.session.info.get(WRITING))
        columns = [(getattr(self.model, column), kind) for column, kind in self.reached_through]
        reached = [column.in_(visible_ids(kind, tenant_id, owner=owner)) for column, kind in columns]
        if all(self.model.__table__.c[column.key].nullable for column, _ in columns):
            # A row that hangs from none of them (a template's webhook) is its tenant's alone.
            reached.append(
                and_(self.model.tenant_id == tenant_id, *(column.is_(None) for column, _ in columns))
            )
        return or_(*reached)


class TenantAccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def home_of(self, resource_type: str, resource_id: str) -> str | None:
        """The tenant the object was made in, whoever else has access to it."""
        model = _MODELS[resource_type]
        return (await self.session.execute(select(model.tenant_id).where(model.id == resource_id))).scalar()

    async def get(self, tenant_id: str, resource_type: str, resource_id: str) -> TenantAccess | None:
        """The grant given to ``tenant_id`` itself (not one that reached it from a child)."""
        return await self.session.get(TenantAccess, (tenant_id, resource_type, resource_id, tenant_id))

    async def owns(self, tenant_id: str, resource_type: str, resource_id: str) -> bool:
        """Whether a grant lets ``tenant_id`` change the object (given to it, or to a tenant below it)."""
        statement = granted(tenant_id, resource_type, owner=True).where(
            TenantAccess.resource_id == resource_id
        )
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def add_all(self, rows: Sequence[TenantAccess]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def delete_given_to(self, source: str, resource_type: str, resource_id: str) -> None:
        """The grant given to ``source`` and the rows it made for the tenants above it."""
        await self.session.execute(
            delete(TenantAccess).where(
                TenantAccess.source == source,
                TenantAccess.resource_type == resource_type,
                TenantAccess.resource_id == resource_id,
            )
        )

    async def delete_of(self, resource_type: str, resource_id: str) -> None:
        """Every grant of an object being deleted and, for a runtime, of its contexts (which go with it), in one
        statement: run before the object's rows go."""
        of_object = and_(TenantAccess.resource_type == resource_type, TenantAccess.resource_id == resource_id)
        if resource_type == "RUNTIME":
            contexts = select(RuntimeContext.id).where(RuntimeContext.runtime_id == resource_id)
            of_object = or_(
                of_object,
                and_(TenantAccess.resource_type == "RUNTIME_CONTEXT", TenantAccess.resource_id.in_(contexts)),
            )
        await self.session.execute(delete(TenantAccess).where(of_object))
