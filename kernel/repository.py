"""The base every tenant-scoped repository builds on: every statement is scoped to one tenant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.changes import note
from kernel.errors import NotFoundError
from kernel.models import IdMixin

# Set on the session of a unit of work that writes: there a tenant sees only what it may change (an object another
# tenant granted it to read is not among them; ``director.tenantaccess``).
WRITING = "kernel.writing"

# Bound by the id every repository looks rows up by (each of these models is also a mapped, TenantOwned class).
M = TypeVar("M", bound=IdMixin)


class TenantScopedRepository(Generic[M]):
    model: ClassVar[type[Any]]
    # How a refusal names a missing row: "<noun> <id> does not exist".
    noun: ClassVar[str]
    order_by: ClassVar[tuple[str, ...]] = ("created_at", "id")
    # What a deleted row's id tells the processes that keep something of it in memory (``kernel.changes``).
    deletion_tags: ClassVar[tuple[Callable[[str], str], ...]] = ()

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def visible_to(self, tenant_id: str) -> ColumnElement[bool]:
        """The rows the tenant sees: its own; objects other tenants share add theirs (``director.tenantaccess``)."""
        return self.model.tenant_id == tenant_id  # type: ignore[no-any-return]

    def select(self, tenant_id: str) -> Select[M]:
        return select(self.model).where(self.visible_to(tenant_id))

    def _ordered(self, statement: Select[M]) -> Select[M]:
        return statement.order_by(*(getattr(self.model, column) for column in self.order_by))

    async def get(self, tenant_id: str, object_id: str) -> M | None:
        statement = self.select(tenant_id).where(self.model.id == object_id)
        return (await self.session.execute(statement)).scalars().first()

    async def get_or_raise(self, tenant_id: str, object_id: str) -> M:
        """``get`` for a row the caller names: its absence is the caller's NOT_FOUND, not an empty answer."""
        found = await self.get(tenant_id, object_id)
        if found is None:
            raise NotFoundError(f"{self.noun} {object_id} does not exist")
        return found

    async def lock(self, tenant_id: str, object_id: str) -> M | None:
        """``get`` that holds the row until the transaction ends; SQLite's writers are serial anyway.

        FOR NO KEY UPDATE on PostgreSQL: concurrent inserts of child rows (which take KEY SHARE) are not blocked.
        """
        statement = self.select(tenant_id).where(self.model.id == object_id).with_for_update(key_share=True)
        return (await self.session.execute(statement)).scalars().first()

    async def page(self, statement: Select[M], *, limit: int, offset: int) -> tuple[list[M], int]:
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(self._ordered(statement).limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def grouped_by(self, tenant_id: str, column: str, parent_ids: Sequence[str]) -> dict[str, list[M]]:
        """Children of many parents in one statement, for DataLoaders."""
        parent = getattr(self.model, column)
        rows = await self.session.execute(self._ordered(self.select(tenant_id).where(parent.in_(parent_ids))))
        grouped: dict[str, list[M]] = defaultdict(list)
        for row in rows.scalars():
            grouped[getattr(row, column)].append(row)
        return grouped

    async def read_grouped_by(self, tenant_id: str, column: str, parent_ids: Sequence[str]) -> dict[str, list[M]]:
        """``grouped_by`` for rows that are only read: each row has the entity's attribute names and values, but
        none of an ORM entity's cost (identity map, state, instrumented attributes), which a runtime's view of
        hundreds of definitions pays thousands of times. Never change them: they are no entities."""
        attributes = inspect(self.model).column_attrs
        statement = self._ordered(self.select(tenant_id).where(getattr(self.model, column).in_(parent_ids)))
        rows = await self.session.execute(
            statement.with_only_columns(*(attribute.expression.label(attribute.key) for attribute in attributes))
        )
        grouped: dict[str, list[Any]] = defaultdict(list)  # rows that read as M
        for row in rows:
            grouped[getattr(row, column)].append(row)
        return grouped

    async def by_ids(self, tenant_id: str, ids: Sequence[str]) -> dict[str, M]:
        rows = await self.session.execute(self.select(tenant_id).where(self.model.id.in_(ids)))
        return {row.id: row for row in rows.scalars()}

    async def add(self, obj: M) -> M:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def delete(self, obj: M) -> None:
        await self.session.delete(obj)
        await self.session.flush()
        note(self.session, *(tag(obj.id) for tag in self.deletion_tags))
