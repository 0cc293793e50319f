from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, exists, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from director.label.filters import LabelCondition
from director.models import Label, LabelDefinition


class LabelledKind(StrEnum):
    APPLICATION = "application"
    RUNTIME = "runtime"


def _owner_column(kind: LabelledKind) -> InstrumentedAttribute[str | None]:
    return Label.application_id if kind is LabelledKind.APPLICATION else Label.runtime_id


def _sqlite_json_equals(sql_value: Any, json_type: Any, value: Any) -> ColumnElement[bool]:
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


class LabelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name

    async def for_owners(self, tenant_id: str, kind: LabelledKind, owner_ids: Sequence[str]) -> dict[str, list[Label]]:
        owner = _owner_column(kind)
        rows = await self.session.execute(
            select(Label).where(Label.tenant_id == tenant_id, owner.in_(owner_ids)).order_by(Label.key)
        )
        grouped: dict[str, list[Label]] = defaultdict(list)
        for label in rows.scalars():
            grouped[getattr(label, owner.key)].append(label)
        return grouped

    async def get(self, tenant_id: str, kind: LabelledKind, owner_id: str, key: str) -> Label | None:
        statement = select(Label).where(
            Label.tenant_id == tenant_id, _owner_column(kind) == owner_id, Label.key == key
        )
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
                return label
            except IntegrityError:
                # Another request added this key since the read above (PostgreSQL; SQLite serializes writers).
                label = await self.get(tenant_id, kind, owner_id, key)
                if label is None:
                    raise
        label.value = value
        await self.session.flush()
        return label

    async def delete(self, label: Label) -> None:
        await self.session.delete(label)
        await self.session.flush()

    async def with_key(self, tenant_id: str, key: str) -> list[Label]:
        rows = await self.session.execute(select(Label).where(Label.tenant_id == tenant_id, Label.key == key))
        return list(rows.scalars())

    async def delete_with_key(self, tenant_id: str, key: str) -> None:
        await self.session.execute(delete(Label).where(Label.tenant_id == tenant_id, Label.key == key))

    def array_contains_any(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """The label's value is a JSON array holding at least one of ``values``, compared as JSON values."""
        if self.dialect == "postgresql":
            value = type_coerce(Label.value, JSONB)
            # ?| and a lax JSON path also match a lone scalar (?| even an object key): arrays only, like SQLite.
            is_array = func.jsonb_typeof(value) == "array"
            if all(isinstance(item, str) for item in values):
                return is_array & value.has_any(array([literal(item, String) for item in values]))
            path = "$[*] ? (" + " || ".join(f"@ == {json.dumps(item)}" for item in values) + ")"
            return is_array & func.jsonb_path_exists(value, cast(literal(path), JSONB.JSONPathType))
        element = func.json_each(Label.value).table_valued("value", "type").alias("element")
        matches = [_sqlite_json_equals(element.c.value, element.c.type, item) for item in values]
        condition = matches[0]
        for match in matches[1:]:
            condition = condition | match
        return exists(select(1).select_from(element).where(func.json_type(Label.value) == "array", condition))

    def equals(self, value: Any) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            return type_coerce(Label.value, JSONB) == cast(literal(json.dumps(value)), JSONB)
        if isinstance(value, (dict, list)):
            return func.json(Label.value) == func.json(literal(json.dumps(value)))
        return _sqlite_json_equals(func.json_extract(Label.value, "$"), func.json_type(Label.value), value)

    def owners_matching(self, tenant_id: str, kind: LabelledKind, condition: LabelCondition) -> Any:
        """A subquery of owner ids whose label satisfies ``condition``."""
        owner = _owner_column(kind)
        statement = select(owner).where(Label.tenant_id == tenant_id, Label.key == condition.key, owner.is_not(None))
        if condition.any_of is not None:
            statement = statement.where(self.array_contains_any(condition.any_of))
        elif condition.has_equals:
            statement = statement.where(self.equals(condition.equals))
        return statement


class LabelDefinitionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, key: str) -> LabelDefinition | None:
        statement = select(LabelDefinition).where(LabelDefinition.tenant_id == tenant_id, LabelDefinition.key == key)
        return (await self.session.execute(statement)).scalars().first()

    async def list(self, tenant_id: str) -> list[LabelDefinition]:
        statement = select(LabelDefinition).where(LabelDefinition.tenant_id == tenant_id).order_by(LabelDefinition.key)
        return list((await self.session.execute(statement)).scalars())

    async def add(self, definition: LabelDefinition) -> LabelDefinition:
        self.session.add(definition)
        await self.session.flush()
        return definition

    async def delete(self, definition: LabelDefinition) -> None:
        await self.session.delete(definition)
        await self.session.flush()
