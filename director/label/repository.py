from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    Text,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from director.label.filters import LabelCondition
from director.models import SCENARIOS, Label
from director.tenantaccess.repository import visible_ids
from kernel.models import IdMixin
from kernel.repository import WRITING, TenantScopedRepository

M = TypeVar("M", bound=IdMixin)


class LabelledKind(StrEnum):
    APPLICATION = "application"
    RUNTIME = "runtime"
    RUNTIME_CONTEXT = "runtime context"


_OWNER_COLUMNS: dict[LabelledKind, InstrumentedAttribute[str | None]] = {
    LabelledKind.APPLICATION: Label.application_id,
    LabelledKind.RUNTIME: Label.runtime_id,
    LabelledKind.RUNTIME_CONTEXT: Label.runtime_context_id,
}


def _owner_column(kind: LabelledKind) -> InstrumentedAttribute[str | None]:
    return _OWNER_COLUMNS[kind]


def _sqlite_json_equals(sql_value: ColumnElement[Any], json_type: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    """A scalar from SQLite's JSON functions (its SQL value and json_type) equals the JSON scalar ``value``.

    SQLite hands true and false back as 1 and 0, and 2.0 as a real: comparing types and values, rather than
    JSON text, gives the answers PostgreSQL's jsonb gives.
    """
    if value is None:
        return json_type == "null"
    if isinstance(value, bool):
        return json_type == ("true" if value else "false")
    if isinstance(value, (int, float)):
        # SQLite integers are 64 bit; a larger JSON integer can only be compared as a real.
        number = value if isinstance(value, float) or -(2**63) <= value < 2**63 else float(value)
        return json_type.in_(("integer", "real")) & (sql_value == literal(number))
    return (json_type == "text") & (sql_value == literal(value, String))


_NUMBERS = ("integer", "real")
_CONSTANTS = ("true", "false", "null")


def _sqlite_alternatives(wanted: Any, types: tuple[str, ...], column: str = "value") -> Select[Any]:
    """The ``column`` (SQL value or JSON type) of the elements of the JSON array ``wanted`` of one of ``types``."""
    alternative = func.json_each(wanted).table_valued("value", "type").alias("alternative")
    return select(alternative.c[column]).where(alternative.c.type.in_(types))


class LabelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def visible_to(self, tenant_id: str, kind: LabelledKind) -> ColumnElement[bool]:
        """The tenant's labels on objects of ``kind``, and those on the objects granted to it
        (``director.tenantaccess``), except their formations: ``scenarios`` names formations of the tenant that set
        it, so each tenant keeps its own."""
        owner = bool(self.session.info.get(WRITING))
        granted = _owner_column(kind).in_(visible_ids(kind.name, tenant_id, owner=owner))
        return or_(Label.tenant_id == tenant_id, (Label.key != SCENARIOS) & granted)

    async def for_owners(self, tenant_id: str, kind: LabelledKind, owner_ids: Sequence[str]) -> dict[str, list[Label]]:
        owner = _owner_column(kind)
        rows = await self.session.execute(
            select(Label).where(self.visible_to(tenant_id, kind), owner.in_(owner_ids)).order_by(Label.key)
        )
        grouped: dict[str, list[Label]] = defaultdict(list)
        for label in rows.scalars():
            grouped[getattr(label, owner.key)].append(label)
        return grouped

    async def get(self, tenant_id: str, kind: LabelledKind, owner_id: str, key: str) -> Label | None:
        statement = select(Label).where(self.visible_to(tenant_id, kind), _owner_column(kind) == owner_id, Label.key == key)
        return (await self.session.execute(statement)).scalars().first()

    async def set(self, tenant_id: str, kind: LabelledKind, owner_id: str, key: str, value: Any) -> Label:
        label = await self.get(tenant_id, kind, owner_id, key)
        if label is None:
            label = Label(tenant_id=tenant_id, key=key, value=value)
            setattr(label, _owner_column(kind).key, owner_id)
            await self.session.flush()
            try:
                async with self.session.begin_nested():
                    self.session.add(label)
            except IntegrityError:
                # Another request added this key since the read above (PostgreSQL; SQLite serializes writers).
                label = await self.get(tenant_id, kind, owner_id, key)
                if label is None:
                    raise
            else:
                return label
        label.value = value
        await self.session.flush()
        return label

    async def delete(self, label: Label) -> None:
        await self.session.delete(label)
        await self.session.flush()

    async def with_key(self, tenant_id: str, key: str) -> list[Label]:
        rows = await self.session.execute(select(Label).where(Label.tenant_id == tenant_id, Label.key == key))
        return list(rows.scalars())

    async def in_formations(self, tenant_id: str, names: Sequence[str]) -> list[Label]:
        """The tenant's ``scenarios`` labels naming any of the formations ``names``: their members, chosen by the
        database, where reading every labelled object of the tenant grew with the tenant."""
        statement = select(Label).where(
            Label.tenant_id == tenant_id, Label.key == SCENARIOS, self.array_contains_any(names)
        )
        return list((await self.session.execute(statement)).scalars())

    async def delete_with_key(self, tenant_id: str, key: str) -> None:
        await self.session.execute(delete(Label).where(Label.tenant_id == tenant_id, Label.key == key))

    def array_contains_any(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """The label's value is a JSON array holding at least one of the scalars ``values``, compared as JSON values.

        The values travel as one parameter (a JSON array, or a text[] of strings) whatever their number: a filter
        with 1,000 alternatives as 1,000 ORed comparisons passed SQLite's expression depth limit.
        """
        wanted = literal(json.dumps(list(values)))
        if self.dialect == "postgresql":
            value = type_coerce(Label.value, JSONB)
            # ?| also matches a lone scalar (even an object key): arrays only, like SQLite.
            is_array = func.jsonb_typeof(value) == "array"
            if all(isinstance(item, str) for item in values):
                holds_any: ColumnElement[bool] = value.has_any(literal(list(values), ARRAY(Text)))
                return is_array & holds_any
            # jsonb_array_elements fails on anything but an array, and SQL does not promise to test is_array first
            elements_of = case((is_array, value), else_=cast(literal("[]"), JSONB))
            element = func.jsonb_array_elements(elements_of).table_valued("value").alias("element")
            alternatives = select(func.jsonb_array_elements(cast(wanted, JSONB)))
            return is_array & exists(select(1).select_from(element).where(element.c.value.in_(alternatives)))
        # SQLite's json_each gives each JSON value as (SQL value, JSON type): true and false are 1 and 0 of types
        # of their own, and an integer equals the same number as a real. Each IN list below is built once.
        element = func.json_each(Label.value).table_valued("value", "type").alias("element")
        return exists(
            select(1)
            .select_from(element)
            .where(
                func.json_type(Label.value) == "array",
                or_(
                    (element.c.type == "text") & element.c.value.in_(_sqlite_alternatives(wanted, ("text",))),
                    element.c.type.in_(_NUMBERS) & element.c.value.in_(_sqlite_alternatives(wanted, _NUMBERS)),
                    element.c.type.in_(_sqlite_alternatives(wanted, _CONSTANTS, column="type")),
                ),
            )
        )

    def equals(self, value: Any) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            return type_coerce(Label.value, JSONB) == cast(literal(json.dumps(value)), JSONB)
        if isinstance(value, (dict, list)):
            return func.json(Label.value) == func.json(literal(json.dumps(value)))
        return _sqlite_json_equals(func.json_extract(Label.value, "$"), func.json_type(Label.value), value)

    def owners_matching(self, tenant_id: str | None, kind: LabelledKind, condition: LabelCondition) -> Any:
        """A subquery of owner ids whose label satisfies ``condition``; of every tenant when ``tenant_id`` is None
        (``applicationsGlobal``)."""
        owner = _owner_column(kind)
        statement = select(owner).where(Label.key == condition.key, owner.is_not(None))
        if tenant_id is not None:
            statement = statement.where(self.visible_to(tenant_id, kind))
        if condition.any_of is not None:
            statement = statement.where(self.array_contains_any(condition.any_of))
        elif condition.has_equals:
            statement = statement.where(self.equals(condition.equals))
        return statement


class LabelledRepository(TenantScopedRepository[M]):
    """Rows that carry labels (applications, runtimes), selected by label conditions."""

    kind: ClassVar[LabelledKind]

    def filtered(
        self, tenant_id: str, conditions: Sequence[LabelCondition], *, columns: Mapping[str, object] | None = None
    ) -> Select[M]:
        labels = LabelRepository(self.session)
        statement = self.select(tenant_id)
        for column, value in (columns or {}).items():
            statement = statement.where(getattr(self.model, column) == value)
        for condition in conditions:
            statement = statement.where(self.model.id.in_(labels.owners_matching(tenant_id, self.kind, condition)))
        return statement
