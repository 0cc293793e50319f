"""Label definitions: label keys and the JSON schemas their values must match; ``scenarios`` follows the formations.

A domain apart from labels (as Compass's ``labeldef``): its writes declare the tenant's change on the unit of work,
while label writes are always part of their owner's write, declared by the owner's service.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.repository import FormationRepository
from director.formation.service import NAME_PATTERN
from director.json_schema import check_schema
from director.label.repository import LabelRepository
from director.label.service import check_against_definition, validate_key
from director.labeldefinition.inputs import LabelDefinitionInput
from director.labeldefinition.repository import LabelDefinitionRepository
from director.models import SCENARIOS, LabelDefinition
from director.polling.invalidation import changes
from kernel.errors import ConflictError, InvalidInputError, NotFoundError


def _schema(data: LabelDefinitionInput) -> Any:
    return json.loads(data.schema) if data.schema is not None else None


class LabelDefinitionService:
    async def scenarios_schema(self, session: AsyncSession, tenant_id: str) -> dict[str, Any]:
        names = await FormationRepository(session).names(tenant_id)
        return {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": NAME_PATTERN, "enum": names},
        }

    async def _scenarios(self, session: AsyncSession, tenant_id: str) -> LabelDefinition:
        return LabelDefinition(tenant_id=tenant_id, key=SCENARIOS, schema=await self.scenarios_schema(session, tenant_id))

    async def all(self, session: AsyncSession, tenant_id: str) -> list[LabelDefinition]:
        stored = await LabelDefinitionRepository(session).list(tenant_id)
        return sorted([await self._scenarios(session, tenant_id), *stored], key=lambda definition: definition.key)

    async def find(self, session: AsyncSession, tenant_id: str, key: str) -> LabelDefinition | None:
        if key == SCENARIOS:
            return await self._scenarios(session, tenant_id)
        return await LabelDefinitionRepository(session).get_by_key(tenant_id, key)

    async def _get_or_raise(self, session: AsyncSession, tenant_id: str, key: str) -> LabelDefinition:
        definition = await LabelDefinitionRepository(session).get_by_key(tenant_id, key)
        if definition is None:
            raise NotFoundError(f"label definition {key!r} does not exist")
        return definition

    async def _check(self, session: AsyncSession, tenant_id: str, key: str, schema: Any) -> None:
        """The schema is one this server runs, and the labels with the key already match it."""
        if schema is None:
            return
        await check_schema(schema)
        for label in await LabelRepository(session).with_key(tenant_id, key):
            await check_against_definition(key, label.value, schema)

    async def create(self, session: AsyncSession, tenant_id: str, data: LabelDefinitionInput) -> LabelDefinition:
        await changes(session).tenant()
        validate_key(data.key)
        repository = LabelDefinitionRepository(session)
        if data.key == SCENARIOS or await repository.get_by_key(tenant_id, data.key) is not None:
            raise ConflictError(f"label definition {data.key!r} already exists")
        schema = _schema(data)
        await self._check(session, tenant_id, data.key, schema)
        return await repository.add(LabelDefinition(tenant_id=tenant_id, key=data.key, schema=schema))

    async def update(self, session: AsyncSession, tenant_id: str, data: LabelDefinitionInput) -> LabelDefinition:
        await changes(session).tenant()
        if data.key == SCENARIOS:
            raise InvalidInputError("the scenarios label definition follows the formations; change those instead")
        definition = await self._get_or_raise(session, tenant_id, data.key)
        schema = _schema(data)
        await self._check(session, tenant_id, data.key, schema)
        definition.schema = schema
        await session.flush()
        return definition

    async def delete(
        self, session: AsyncSession, tenant_id: str, key: str, *, delete_related_labels: bool
    ) -> LabelDefinition:
        await changes(session).tenant()
        if key == SCENARIOS:
            raise InvalidInputError("the scenarios label definition cannot be deleted")
        definition = await self._get_or_raise(session, tenant_id, key)
        labels = LabelRepository(session)
        if await labels.with_key(tenant_id, key):
            if not delete_related_labels:
                raise ConflictError(f"labels with key {key!r} exist; pass deleteRelatedLabels: true to delete them")
            await labels.delete_with_key(tenant_id, key)
        await LabelDefinitionRepository(session).delete(definition)
        return definition


label_definition = LabelDefinitionService()
