from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, exists, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from director.label.filters import LabelCondition
from director.models import Label, LabelDefinition


class LabelledKind(StrEnum):
    APPLICATION = "application"
    RUNTIME = "runtime"


def _owner_column(kind: LabelledKind) -> InstrumentedAttribute[str | None]:
    return Label.application_id if kind is LabelledKind.APPLICATION else Label.runtime_id


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
            self.session.add(label)
        else:
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
        """The label's value is a JSON array holding at least one of ``values``."""
        if self.dialect == "postgresql":
            if all(isinstance(value, str) for value in values):
                return type_coerce(Label.value, JSONB).has_any(array([literal(v, String) for v in values]))
            return func.jsonb_path_exists(
                type_coerce(Label.value, JSONB),
                cast(literal("$[*] ? (" + " || ".join(f"@ == {json.dumps(v)}" for v in values) + ")"), JSONB.JSONPathType),
            )
        element = func.json_each(Label.value).table_valued("value", "type").alias("element")
        matches = [
            (element.c.value == value) & (element.c.type == "text")
            if isinstance(value, str)
            else func.json_quote(element.c.value) == json.dumps(value)
            for value in values
        ]
        condition = matches[0]
        for match in matches[1:]:
            condition = condition | match
        return exists(select(1).select_from(element).where(func.json_type(Label.value) == "array", condition))

    def equals(self, value: Any) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            return type_coerce(Label.value, JSONB) == cast(literal(json.dumps(value)), JSONB)
        return func.json(Label.value) == func.json(literal(json.dumps(value)))

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
