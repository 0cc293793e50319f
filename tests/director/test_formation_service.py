"""The formation service declares what an assignment changes: one runtime's view, not its whole tenant's."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from director.application.inputs import ApplicationRegisterInput
from director.application.service import application as application_service
from director.formation.inputs import FormationInput, FormationObjectType
from director.formation.service import formation as formation_service
from director.models import Runtime, Tenant
from director.polling.invalidation import unit_of_work
from director.runtime.inputs import RuntimeRegisterInput
from director.runtime.service import runtime as runtime_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from testing.statements import count_statements


async def _tenant_with_runtimes(database: Database) -> tuple[str, list[str]]:
    async with database.transaction() as session:
        tenant = await tenant_service.create(session, f"formation-service-{uuid.uuid4().hex[:10]}")
    async with unit_of_work(database, tenant.id) as session:
        runtimes = [
            (await runtime_service.register(session, tenant.id, RuntimeRegisterInput(name=name))).id
            for name in ("assigned", "other")
        ]
        await formation_service.create(session, tenant.id, FormationInput(name="blue"))
    return tenant.id, runtimes


async def _revisions(database: Database, tenant_id: str) -> dict[str, int]:
    async with database.transaction() as session:
        tenant = (await session.execute(select(Tenant.revision).where(Tenant.id == tenant_id))).scalar_one()
        runtimes = (await session.execute(select(Runtime.id, Runtime.revision).where(Runtime.tenant_id == tenant_id))).all()
    return {"tenant": tenant, **dict(runtimes)}


async def test_assigning_a_runtime_changes_its_own_view_only(database: Database) -> None:
    # given
    tenant_id, (assigned, _other) = await _tenant_with_runtimes(database)
    before = await _revisions(database, tenant_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await formation_service.assign(session, tenant_id, FormationObjectType.RUNTIME, assigned, "blue")

    # then: the other runtime's and the tenant's revisions are as they were
    assert await _revisions(database, tenant_id) == {**before, assigned: before[assigned] + 1}


async def test_creating_a_formation_changes_every_view_of_the_tenant(database: Database) -> None:
    # given
    tenant_id, _ = await _tenant_with_runtimes(database)
    before = await _revisions(database, tenant_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await formation_service.create(session, tenant_id, FormationInput(name="green"))

    # then
    assert await _revisions(database, tenant_id) == {**before, "tenant": before["tenant"] + 1}


async def _join(database: Database, tenant_id: str, name: str) -> int:
    """Registers a runtime and assigns it to formation "blue": the statements of the assignment alone."""
    async with unit_of_work(database, tenant_id) as session:
        runtime = await runtime_service.register(session, tenant_id, RuntimeRegisterInput(name=name))
        with count_statements(database) as statements:
            await formation_service.assign(
                session, tenant_id, FormationObjectType.RUNTIME, runtime.id, "blue"
            )
    return len(statements)


async def test_assigning_a_runtime_runs_as_many_statements_however_many_the_formation_holds(
    database: Database,
) -> None:
    # given: a formation with an application (whose assignments with a runtime are checked for webhooks)
    tenant_id, _ = await _tenant_with_runtimes(database)
    async with unit_of_work(database, tenant_id) as session:
        application = await application_service.register(
            session, tenant_id, ApplicationRegisterInput(name="shop")
        )
        await formation_service.assign(
            session, tenant_id, FormationObjectType.APPLICATION, application.id, "blue"
        )
    first = await _join(database, tenant_id, "joining-0")
    for index in range(1, 25):
        await _join(database, tenant_id, f"joining-{index}")

    # when / then: the 26th runtime's assignment makes 53 rows where the first made 3, in as many statements
    assert await _join(database, tenant_id, "joining-25") == first
