"""Labels on applications and runtimes, validated against label definitions; ``scenarios`` names formations.

Label writes are always part of a write of their owner (an application's, a runtime's, an assignment): the owner's
service declares the change, not this one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.repository import FormationRepository
from director.json_schema import violation
from director.label.filters import parse_label_filter
from director.label.inputs import LabelFilter
from director.label.repository import LabelledKind, LabelledRepository, LabelRepository
from director.labeldefinition.repository import LabelDefinitionRepository
from director.models import SCENARIOS, Label
from director.pagination import Page, PageRequest
from director.validation import list_size
from kernel.errors import InvalidInputError, NotFoundError
from kernel.models import IdMixin

_KEY = re.compile(r"^[A-Za-z0-9_.\-/]{1,256}$")

M = TypeVar("M", bound=IdMixin)


def validate_key(key: str) -> None:
    if not _KEY.match(key):
        raise InvalidInputError(f"label key {key!r} must be 1 to 256 letters, digits or _ . - /")


async def check_against_definition(key: str, value: Any, schema: Any) -> None:
    problem = await violation(schema, value, f"the label definition of {key!r}")
    if problem is not None:
        raise InvalidInputError(f"value of label {key!r} does not match its label definition: {problem}")


async def filtered_page(
    repository: LabelledRepository[M],
    tenant_id: str,
    filters: Sequence[LabelFilter],
    request: PageRequest,
    *,
    columns: Mapping[str, object] | None = None,
) -> Page[M]:
    """A page of labelled rows (applications, runtimes) matching every filter, and holding ``columns``' values
    (column name to value) if given: their services' ``page``."""
    conditions = [parse_label_filter(item.key, item.query) for item in list_size(filters, "filter")]
    rows, total = await repository.page(
        repository.filtered(tenant_id, conditions, columns=columns), limit=request.limit, offset=request.offset
    )
    return Page(rows, total, request.offset)


class LabelService:
    async def validate_scenarios(self, session: AsyncSession, tenant_id: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidInputError("label 'scenarios' must be a list of formation names")
        names = list(dict.fromkeys(value))
        known = {formation.name for formation in await FormationRepository(session).by_names(tenant_id, names)}
        if missing := [name for name in names if name not in known]:
            raise InvalidInputError(f"label 'scenarios' names formations that do not exist: {', '.join(missing)}")
        return names

    async def set(  # noqa: PLR0917 - a label is (owner kind, owner id, key, value), read in that order at every call
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
        definition = await LabelDefinitionRepository(session).get_by_key(tenant_id, key)
        if definition is not None and definition.schema is not None:
            await check_against_definition(key, value, definition.schema)
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

    # Batch reads for the DataLoaders: the labels of many owners in one statement.

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[Label]]:
        return await LabelRepository(session).for_owners(tenant_id, LabelledKind.APPLICATION, application_ids)

    async def by_runtimes(self, session: AsyncSession, tenant_id: str, runtime_ids: Sequence[str]) -> dict[str, list[Label]]:
        return await LabelRepository(session).for_owners(tenant_id, LabelledKind.RUNTIME, runtime_ids)


label = LabelService()
