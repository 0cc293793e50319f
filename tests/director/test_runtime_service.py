"""The runtime service's own rules, called with plain inputs as any caller (GraphQL, CLI, seeding) would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from credentials.models import IssuedCertificate, SystemAuth
from director.label.service import label as label_service
from director.models import SCENARIOS, Runtime, Tenant
from director.polling.invalidation import unit_of_work
from director.runtime.inputs import RuntimeRegisterInput, RuntimeUpdateInput
from director.runtime.service import runtime as runtime_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.errors import ForbiddenError
from kernel.principal import CertificateIdentity, ClientKind, ClientPrincipal, OperatorPrincipal

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


async def _tenant_with_runtime(database: Database) -> tuple[str, str]:
    async with database.transaction() as session:
        tenant = await tenant_service.create(session, f"runtime-service-{uuid.uuid4().hex[:10]}")
    async with unit_of_work(database, tenant.id) as session:
        runtime = await runtime_service.register(session, tenant.id, RuntimeRegisterInput(name="cluster"))
    return tenant.id, runtime.id


def _the_runtime_itself(tenant_id: str, runtime_id: str) -> ClientPrincipal:
    identity = CertificateIdentity(
        serial="01", client_id="client", tenant_id=tenant_id, kind=ClientKind.RUNTIME, object_id=runtime_id,
        not_after=NOW + timedelta(days=1),
    )
    return ClientPrincipal(identity)


async def _scenarios(database: Database, tenant_id: str, runtime_id: str) -> object:
    async with database.transaction() as session:
        labels = await label_service.by_runtimes(session, tenant_id, [runtime_id])
    return next((label.value for label in labels.get(runtime_id, []) if label.key == SCENARIOS), None)


async def _revisions(database: Database, tenant_id: str, runtime_id: str) -> tuple[int, int]:
    async with database.transaction() as session:
        tenant = (await session.execute(select(Tenant.revision).where(Tenant.id == tenant_id))).scalar_one()
        runtime = (await session.execute(select(Runtime.revision).where(Runtime.id == runtime_id))).scalar_one()
    return tenant, runtime


async def _certificate(database: Database, tenant_id: str, runtime_id: str) -> str:
    serial = uuid.uuid4().hex[:20]
    async with database.transaction() as session:
        auth = SystemAuth(tenant_id=tenant_id, runtime_id=runtime_id)
        session.add(auth)
        await session.flush()
        session.add(
            IssuedCertificate(
                serial=serial, fingerprint_sha256=uuid.uuid4().hex * 2, tenant_id=tenant_id, system_auth_id=auth.id,
                subject="CN=cluster", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30),
            )
        )
    return serial


async def _revoked_at(database: Database, serial: str) -> datetime | None:
    async with database.transaction() as session:
        statement = select(IssuedCertificate.revoked_at).where(IssuedCertificate.serial == serial)
        return (await session.execute(statement)).scalar_one()


async def test_a_runtime_may_not_put_itself_into_a_formation_by_label(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)

    # when
    with pytest.raises(ForbiddenError, match="cannot change its own formations"):
        async with unit_of_work(database, tenant_id) as session:
            await runtime_service.set_label(
                session, tenant_id, runtime_id, SCENARIOS, ["DEFAULT"], caller=_the_runtime_itself(tenant_id, runtime_id)
            )

    # then
    assert await _scenarios(database, tenant_id, runtime_id) is None


async def test_a_runtime_may_not_change_its_formations_through_update(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    data = RuntimeUpdateInput(name="cluster", labels={SCENARIOS: ["DEFAULT"]})

    # when
    with pytest.raises(ForbiddenError, match="cannot change its own formations"):
        async with unit_of_work(database, tenant_id) as session:
            await runtime_service.update(
                session, tenant_id, runtime_id, data, caller=_the_runtime_itself(tenant_id, runtime_id)
            )

    # then
    assert await _scenarios(database, tenant_id, runtime_id) is None


async def test_a_runtime_may_not_leave_its_formations(database: Database) -> None:
    # given: an operator put the runtime into DEFAULT
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    operator = OperatorPrincipal(subject="operator", tenant_id=tenant_id)
    async with unit_of_work(database, tenant_id) as session:
        await runtime_service.set_label(session, tenant_id, runtime_id, SCENARIOS, ["DEFAULT"], caller=operator)

    # when
    with pytest.raises(ForbiddenError, match="cannot change its own formations"):
        async with unit_of_work(database, tenant_id) as session:
            await runtime_service.delete_label(
                session, tenant_id, runtime_id, SCENARIOS, caller=_the_runtime_itself(tenant_id, runtime_id)
            )

    # then
    assert await _scenarios(database, tenant_id, runtime_id) == ["DEFAULT"]


async def test_a_runtime_may_label_itself_and_report_its_status(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    itself = _the_runtime_itself(tenant_id, runtime_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await runtime_service.set_label(session, tenant_id, runtime_id, "region", "eu", caller=itself)
        updated = await runtime_service.update(
            session, tenant_id, runtime_id, RuntimeUpdateInput(name="cluster", labels={"zone": "a"}), caller=itself
        )

    # then
    assert updated.name == "cluster"


async def test_an_operator_may_put_a_runtime_into_a_formation(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    operator = OperatorPrincipal(subject="operator", tenant_id=tenant_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await runtime_service.set_label(session, tenant_id, runtime_id, SCENARIOS, ["DEFAULT"], caller=operator)

    # then
    assert await _scenarios(database, tenant_id, runtime_id) == ["DEFAULT"]


async def test_a_runtimes_own_write_bumps_its_revision_not_its_tenants(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    before = await _revisions(database, tenant_id, runtime_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await runtime_service.set_label(
            session, tenant_id, runtime_id, "region", "eu", caller=_the_runtime_itself(tenant_id, runtime_id)
        )

    # then
    assert await _revisions(database, tenant_id, runtime_id) == (before[0], before[1] + 1)


async def test_unregistering_a_runtime_revokes_its_certificates_at_the_time_given(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    serial = await _certificate(database, tenant_id, runtime_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await runtime_service.unregister(session, tenant_id, runtime_id, now=NOW)

    # then
    assert await _revoked_at(database, serial) == NOW


async def test_revoking_a_runtimes_certificates_answers_the_serials_and_keeps_the_runtime(database: Database) -> None:
    # given
    tenant_id, runtime_id = await _tenant_with_runtime(database)
    serial = await _certificate(database, tenant_id, runtime_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        revoked = await runtime_service.revoke_certificates(session, tenant_id, runtime_id, now=NOW)

    # then
    assert revoked == [serial]
    assert await _revoked_at(database, serial) == NOW
    async with database.transaction() as session:
        assert (await runtime_service.by_ids(session, tenant_id, [runtime_id])).keys() == {runtime_id}
