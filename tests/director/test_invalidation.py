"""The unit of work's own rules: what a declaration bumps, what forgetting one costs, and the lock order it keeps."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from director.models import Runtime, Tenant
from director.polling.invalidation import changes, unit_of_work
from kernel.db import Database
from tests.support import Operator


async def _revisions(database: Database, tenant_id: str, runtime_id: str) -> tuple[int, int]:
    async with database.read_sessions() as session:
        tenant = (await session.execute(select(Tenant.revision).where(Tenant.id == tenant_id))).scalar_one()
        runtime = (await session.execute(select(Runtime.revision).where(Runtime.id == runtime_id))).scalar_one()
    return tenant, runtime


async def _runtime(operator: Operator, name: str) -> str:
    data = await operator.query(
        "mutation($in: RuntimeRegisterInput!) { registerRuntime(in: $in) { id } }", {"in": {"name": name}}
    )
    return str(data["registerRuntime"]["id"])


async def test_a_write_that_declares_nothing_bumps_every_view_of_its_tenant(
    database: Database, operator: Operator
) -> None:
    runtime_id = await _runtime(operator, "undeclared")
    before = await _revisions(database, operator.tenant_id, runtime_id)

    async with unit_of_work(database, operator.tenant_id):
        pass

    after = await _revisions(database, operator.tenant_id, runtime_id)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)


async def test_a_runtimes_own_write_bumps_that_runtime_and_not_the_tenant(
    database: Database, operator: Operator
) -> None:
    runtime_id = await _runtime(operator, "own-write")
    before = await _revisions(database, operator.tenant_id, runtime_id)

    async with unit_of_work(database, operator.tenant_id) as session:
        await changes(session).runtime(runtime_id)

    after = await _revisions(database, operator.tenant_id, runtime_id)
    assert (after[0] - before[0], after[1] - before[1]) == (0, 1)


async def test_a_rolled_back_write_bumps_nothing(database: Database, operator: Operator) -> None:
    runtime_id = await _runtime(operator, "rolled-back")
    before = await _revisions(database, operator.tenant_id, runtime_id)

    with pytest.raises(LookupError):
        async with unit_of_work(database, operator.tenant_id) as session:
            await changes(session).runtime(runtime_id)
            raise LookupError("the write fails")

    assert await _revisions(database, operator.tenant_id, runtime_id) == before


async def test_a_tenant_wide_declaration_after_a_runtimes_own_is_refused(
    database: Database, operator: Operator
) -> None:
    runtime_id = await _runtime(operator, "out-of-order")

    with pytest.raises(RuntimeError, match="before a runtime's own"):
        async with unit_of_work(database, operator.tenant_id) as session:
            await changes(session).runtime(runtime_id)
            await changes(session).tenant()


async def test_a_write_outside_a_unit_of_work_cannot_declare(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(RuntimeError, match="unit_of_work"):
            changes(session)
