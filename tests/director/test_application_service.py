"""The application service's own rules, called with its plain inputs (no GraphQL): what resolvers used to decide."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from credentials.models import IssuedCertificate, SystemAuth
from director.application.inputs import ApplicationRegisterInput
from director.application.service import application as application_service
from director.polling.invalidation import unit_of_work
from director.tenant.service import tenant as tenant_service
from director.tenantaccess.service import TenantAccessService
from kernel.db import Database
from kernel.errors import NotFoundError

REVOKED_AT = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


async def _tenant(database: Database) -> str:
    async with database.transaction() as session:
        return (await tenant_service.create(session, f"tenant-{uuid.uuid4().hex[:10]}")).id


async def _application_with_certificate(database: Database, tenant_id: str) -> tuple[str, str]:
    """An application whose system auth holds one unrevoked certificate; returns the application id and serial."""
    async with unit_of_work(database, tenant_id) as session:
        application = await application_service.register(session, tenant_id, ApplicationRegisterInput(name="shop"))
        auth = SystemAuth(tenant_id=tenant_id, application_id=application.id)
        session.add(auth)
        await session.flush()
        serial = uuid.uuid4().hex
        session.add(
            IssuedCertificate(
                serial=serial,
                fingerprint_sha256=uuid.uuid4().hex * 2,
                tenant_id=tenant_id,
                system_auth_id=auth.id,
                subject=f"CN={auth.id}",
                not_before=REVOKED_AT - timedelta(days=400),
                not_after=REVOKED_AT + timedelta(days=400),
            )
        )
        return application.id, serial


async def _revoked_at(database: Database, serial: str) -> datetime | None:
    async with database.transaction() as session:
        statement = select(IssuedCertificate.revoked_at).where(IssuedCertificate.serial == serial)
        return (await session.execute(statement)).scalar_one()


async def test_unregistering_an_application_revokes_its_certificates_at_the_given_time(database: Database) -> None:
    # given
    tenant_id = await _tenant(database)
    application_id, serial = await _application_with_certificate(database, tenant_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        await application_service.unregister(session, tenant_id, application_id, now=REVOKED_AT)

    # then
    assert await _revoked_at(database, serial) == REVOKED_AT


async def test_an_owner_grantee_unregistering_an_application_revokes_its_certificates(database: Database) -> None:
    # given an application shared with another tenant as an owner
    tenant_id, grantee = await _tenant(database), await _tenant(database)
    application_id, serial = await _application_with_certificate(database, tenant_id)
    async with unit_of_work(database, tenant_id) as session:
        await TenantAccessService().grant(
            session, tenant_id=grantee, resource_type="APPLICATION", resource_id=application_id, owner=True
        )

    # when the grantee unregisters it
    async with unit_of_work(database, grantee) as session:
        await application_service.unregister(session, grantee, application_id, now=REVOKED_AT)

    # then the certificates issued in the tenant that made it are revoked
    assert await _revoked_at(database, serial) == REVOKED_AT


async def test_revoking_an_applications_certificates_answers_the_revoked_serials(database: Database) -> None:
    # given
    tenant_id = await _tenant(database)
    application_id, serial = await _application_with_certificate(database, tenant_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        serials = await application_service.revoke_certificates(session, tenant_id, application_id, now=REVOKED_AT)

    # then
    assert serials == [serial]
    assert await _revoked_at(database, serial) == REVOKED_AT


async def test_revoking_the_certificates_of_a_missing_application_is_not_found(database: Database) -> None:
    tenant_id = await _tenant(database)

    with pytest.raises(NotFoundError, match="does not exist"):
        async with unit_of_work(database, tenant_id) as session:
            await application_service.revoke_certificates(session, tenant_id, str(uuid.uuid4()), now=REVOKED_AT)

