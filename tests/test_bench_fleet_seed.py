"""bench/fleet.py writes its runtimes in bulk (COPY): the rows must be those ``registerRuntime`` and
``assignFormation`` write, or the fleet would measure a Director no operator could have. PostgreSQL only, as the
bench."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bench.fleet import Fleet, add_runtimes, seed
from director.formation.inputs import FormationObjectType
from director.formation.service import formation as formation_service
from director.models import Application, AssignmentOperation, FormationAssignment, Label, Runtime
from director.polling.invalidation import unit_of_work
from director.runtime.inputs import RuntimeRegisterInput
from director.runtime.service import runtime as runtime_service
from kernel.db import Database
from testing.databases import POSTGRES_URL, temporary_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="bench/fleet.py runs on PostgreSQL only")

SHAPE = argparse.Namespace(applications=2, formations=2, bundles=1)
RUNTIMES = 5


async def _register_through_the_services(database: Database, fleet: Fleet) -> None:
    """What the bench did before it wrote in bulk: each runtime registered and assigned as an operator does."""
    async with unit_of_work(database, fleet.tenant_id) as session:
        for index in range(RUNTIMES):
            runtime = await runtime_service.register(
                session, fleet.tenant_id, RuntimeRegisterInput(name=f"fleet-runtime-{index:05d}")
            )
            name = fleet.formations[index % len(fleet.formations)]
            await formation_service.assign(
                session, fleet.tenant_id, FormationObjectType.RUNTIME, runtime.id, name
            )


async def _rows(database: Database, tenant_id: str) -> dict[str, Any]:
    """The tenant's runtimes, labels, assignments and operations, with ids replaced by names."""
    async with database.read_sessions() as session:
        names = dict(
            (
                await session.execute(select(Runtime.id, Runtime.name).where(Runtime.tenant_id == tenant_id))
            ).all()
        )
        names.update(
            (
                await session.execute(
                    select(Application.id, Application.name).where(Application.tenant_id == tenant_id)
                )
            ).all()
        )
        labels = (await session.execute(select(Label).where(Label.tenant_id == tenant_id))).scalars()
        assignments = (
            await session.execute(
                select(FormationAssignment).where(FormationAssignment.tenant_id == tenant_id)
            )
        ).scalars()
        operations = (
            await session.execute(
                select(AssignmentOperation).where(AssignmentOperation.tenant_id == tenant_id)
            )
        ).scalars()
        return {
            "labels": Counter(
                (names.get(label.runtime_id or label.application_id or ""), label.key, str(label.value))
                for label in labels
            ),
            "assignments": Counter(
                (
                    names[row.source],
                    row.source_type,
                    names[row.target],
                    row.target_type,
                    row.state,
                    row.notification,
                )
                for row in assignments
            ),
            "operations": Counter(
                (row.type, row.triggered_by, row.finished_at is not None) for row in operations
            ),
        }


async def test_the_bulk_seed_writes_the_rows_the_services_write(tmp_path: Path) -> None:
    async with temporary_database("postgresql", tmp_path, migrated=True, prefix="fleet_seed") as url:
        database = Database(url)
        try:
            through_services = await seed(database, SHAPE)
            await _register_through_the_services(database, through_services)
            in_bulk = await seed(database, SHAPE)
            await add_runtimes(database, in_bulk, RUNTIMES)

            expected = await _rows(database, through_services.tenant_id)
            # Every two participants paired both ways, and each with itself: an application and 3 runtimes in
            # one formation, an application and 2 in the other.
            assert expected["assignments"].total() == 4**2 + 3**2
            assert len(in_bulk.runtime_ids) == RUNTIMES
            assert await _rows(database, in_bulk.tenant_id) == expected
        finally:
            await database.dispose()
