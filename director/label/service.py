"""Labels on applications and runtimes, validated against label definitions; ``scenarios`` names formations."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.repository import FormationRepository
from director.json_schema import check_schema, violation
from director.label.repository import LabelDefinitionRepository, LabelledKind, LabelRepository
from director.models import Label, LabelDefinition
from kernel.errors import ConflictError, InvalidInputError, NotFoundError

SCENARIOS = "scenarios"
_KEY = re.compile(r"^[A-Za-z0-9_.\-/]{1,256}$")


def validate_key(key: str) -> None:
    if not _KEY.match(key):
        raise InvalidInputError(f"label key {key!r} must be 1 to 256 letters, digits or _ . - /")


async def _validate(key: str, value: Any, schema: Any) -> None:
    problem = await violation(schema, value, f"the label definition of {key!r}")
    if problem is not None:
        raise InvalidInputError(f"value of label {key!r} does not match its label definition: {problem}")


class LabelService:
    async def scenarios_schema(self, session: AsyncSession, tenant_id: str) -> dict[str, Any]:
        names = await FormationRepository(session).names(tenant_id)
        return {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9]([-_A-Za-z0-9 ]{0,254}[A-Za-z0-9])?$", "enum": names},
        }

    async def validate_scenarios(self, session: AsyncSession, tenant_id: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidInputError("label 'scenarios' must be a list of formation names")
        names = list(dict.fromkeys(value))
        known = {formation.name for formation in await FormationRepository(session).by_names(tenant_id, names)}
        if missing := [name for name in names if name not in known]:
            raise InvalidInputError(f"label 'scenarios' names formations that do not exist: {', '.join(missing)}")
        return names

    async def set(
        self, session: AsyncSession, tenant_id: str, kind: LabelledKind, owner_id: str, key: str, value: Any
    ) -> Label:
        validate_key(key)
        repository = LabelRepository(session)
        if key == SCENARIOS:
            names = await self.validate_scenarios(session, tenant_id, value)
            if not names:
                existing = await repository.get(tenant_id, kind, owner_id, key)
                if existing is not None:
                    await repository.delete(existing)
                return Label(tenant_id=tenant_id, key=key, value=[])
            return await repository.set(tenant_id, kind, owner_id, key, names)
        definition = await LabelDefinitionRepository(session).get(tenant_id, key)
        if definition is not None and definition.schema is not None:
            await _validate(key, value, definition.schema)
        return await repository.set(tenant_id, kind, owner_id, key, value)

    async def set_many(
        self, session: AsyncSession, tenant_id: str, kind: LabelledKind, owner_id: str, labels: dict[str, Any]
    ) -> None:
        for key, value in labels.items():
            await self.set(session, tenant_id, kind, owner_id, key, value)

    async def delete(self, session: AsyncSession, tenant_id: str, kind: LabelledKind, owner_id: str, key: str) -> Label:
        repository = LabelRepository(session)
        label = await repository.get(tenant_id, kind, owner_id, key)
        if label is None:
            raise NotFoundError(f"the {kind} has no label {key!r}")
        await repository.delete(label)
        return label

    # Label definitions

    async def definitions(self, session: AsyncSession, tenant_id: str) -> list[LabelDefinition]:
        stored = await LabelDefinitionRepository(session).list(tenant_id)
        scenarios = LabelDefinition(tenant_id=tenant_id, key=SCENARIOS, schema=await self.scenarios_schema(session, tenant_id))
        return sorted([scenarios, *stored], key=lambda definition: definition.key)

    async def definition(self, session: AsyncSession, tenant_id: str, key: str) -> LabelDefinition | None:
        if key == SCENARIOS:
            return LabelDefinition(tenant_id=tenant_id, key=SCENARIOS, schema=await self.scenarios_schema(session, tenant_id))
        return await LabelDefinitionRepository(session).get(tenant_id, key)

    async def _check_existing_labels(self, session: AsyncSession, tenant_id: str, key: str, schema: Any) -> None:
        if schema is None:
            return
        for label in await LabelRepository(session).with_key(tenant_id, key):
            await _validate(key, label.value, schema)

    async def create_definition(
        self, session: AsyncSession, tenant_id: str, key: str, schema: Any
    ) -> LabelDefinition:
        validate_key(key)
        repository = LabelDefinitionRepository(session)
        if key == SCENARIOS or await repository.get(tenant_id, key) is not None:
            raise ConflictError(f"label definition {key!r} already exists")
        if schema is not None:
            await check_schema(schema)
        await self._check_existing_labels(session, tenant_id, key, schema)
        return await repository.add(LabelDefinition(tenant_id=tenant_id, key=key, schema=schema))

    async def update_definition(
        self, session: AsyncSession, tenant_id: str, key: str, schema: Any
    ) -> LabelDefinition:
        if key == SCENARIOS:
            raise InvalidInputError("the scenarios label definition follows the formations; change those instead")
        definition = await LabelDefinitionRepository(session).get(tenant_id, key)
        if definition is None:
            raise NotFoundError(f"label definition {key!r} does not exist")
        if schema is not None:
            await check_schema(schema)
        await self._check_existing_labels(session, tenant_id, key, schema)
        definition.schema = schema
        await session.flush()
        return definition

    async def delete_definition(
        self, session: AsyncSession, tenant_id: str, key: str, delete_related_labels: bool
    ) -> LabelDefinition:
        if key == SCENARIOS:
            raise InvalidInputError("the scenarios label definition cannot be deleted")
        repository = LabelDefinitionRepository(session)
        definition = await repository.get(tenant_id, key)
        if definition is None:
            raise NotFoundError(f"label definition {key!r} does not exist")
        labels = LabelRepository(session)
        if await labels.with_key(tenant_id, key):
            if not delete_related_labels:
                raise ConflictError(f"labels with key {key!r} exist; pass deleteRelatedLabels: true to delete them")
            await labels.delete_with_key(tenant_id, key)
        await repository.delete(definition)
        return definition


label = LabelService()
