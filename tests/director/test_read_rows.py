"""Read-only rows (``read_grouped_by``): what the view's loaders read instead of ORM entities holds the same."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from director.bundle.repository import APIDefinitionRepository, BundleRepository, EventDefinitionRepository
from kernel.db import Database
from kernel.repository import TenantScopedRepository
from tests.director.test_statement_counts import seed_applications
from tests.support import Operator


def _attributes(model: type[Any], item: Any) -> dict[str, Any]:
    return {attribute.key: getattr(item, attribute.key) for attribute in inspect(model).column_attrs}


async def _both(
    repository: TenantScopedRepository[Any], tenant_id: str, column: str, parent_ids: list[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    model = repository.model
    entities = await repository.grouped_by(tenant_id, column, parent_ids)
    rows = await repository.read_grouped_by(tenant_id, column, parent_ids)
    return (
        {key: [_attributes(model, entity) for entity in group] for key, group in entities.items()},
        {key: [_attributes(model, row) for row in group] for key, group in rows.items()},
    )


async def test_read_rows_hold_what_the_entities_hold_in_the_same_order(operator: Operator, database: Database) -> None:
    await seed_applications(operator, range(2))
    async with database.read_sessions() as session:
        bundles = (await BundleRepository(session).grouped_by(operator.tenant_id, "tenant_id", [operator.tenant_id]))[
            operator.tenant_id
        ]
        bundle_ids = [bundle.id for bundle in bundles]
        application_ids = sorted({bundle.application_id for bundle in bundles})
        cases: list[tuple[TenantScopedRepository[Any], str, list[str]]] = [
            (BundleRepository(session), "application_id", application_ids),
            (APIDefinitionRepository(session), "bundle_id", bundle_ids),
            (EventDefinitionRepository(session), "bundle_id", bundle_ids),
        ]
        for repository, column, parent_ids in cases:
            entities, rows = await _both(repository, operator.tenant_id, column, parent_ids)
            assert rows == entities
            assert sum(len(group) for group in rows.values()) >= len(parent_ids)
