"""The system auth service's own rules: token lifetimes and who may spend a system auth's tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from credentials.models import OneTimeToken
from director.application.inputs import ApplicationRegisterInput
from director.application.service import application as application_service
from director.polling.invalidation import unit_of_work
from director.runtime.inputs import RuntimeRegisterInput
from director.runtime.service import runtime as runtime_service
from director.systemauth.inputs import TokenPolicy
from director.systemauth.service import system_auth as system_auth_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.errors import ForbiddenError
from kernel.principal import OperatorPrincipal, Scope

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = TokenPolicy(
    runtime_ttl=timedelta(minutes=60),
    application_ttl=timedelta(minutes=5),
    connector_url="https://compass/connector/graphql",
    legacy_connector_url="https://compass/v1/applications/signingRequests/info",
)


async def _tenant(database: Database) -> str:
    async with database.transaction() as session:
        return (await tenant_service.create(session, f"system-auth-service-{uuid.uuid4().hex[:10]}")).id


async def _runtime(database: Database, tenant_id: str) -> str:
    async with unit_of_work(database, tenant_id) as session:
        return (await runtime_service.register(session, tenant_id, RuntimeRegisterInput(name="cluster"))).id


async def _used_at(database: Database, token_id: str) -> datetime | None:
    async with database.transaction() as session:
        return (await session.execute(select(OneTimeToken.used_at).where(OneTimeToken.id == token_id))).scalar_one()


async def test_a_runtime_token_lives_the_runtime_ttl_from_the_time_given(database: Database) -> None:
    # given
    tenant_id = await _tenant(database)
    runtime_id = await _runtime(database, tenant_id)

    # when
    async with unit_of_work(database, tenant_id) as session:
        issued = await system_auth_service.request_runtime_token(
            session, tenant_id, runtime_id, None, policy=POLICY, now=NOW
        )

    # then
    assert (issued.record.created_at, issued.record.expires_at) == (NOW, NOW + timedelta(minutes=60))
    assert issued.record.type == "Runtime"


async def test_an_application_token_lives_the_application_ttl_from_the_time_given(database: Database) -> None:
    # given
    tenant_id = await _tenant(database)
    async with unit_of_work(database, tenant_id) as session:
        application = await application_service.register(session, tenant_id, ApplicationRegisterInput(name="shop"))

    # when
    async with unit_of_work(database, tenant_id) as session:
        issued = await system_auth_service.request_application_token(
            session, tenant_id, application.id, None, policy=POLICY, now=NOW
        )

    # then
    assert (issued.record.created_at, issued.record.expires_at) == (NOW, NOW + timedelta(minutes=5))
    assert issued.legacy_connector_url == f"https://compass/v1/applications/signingRequests/info?token={issued.token}"


async def test_spending_a_runtimes_tokens_needs_runtime_write_not_any_write_scope(database: Database) -> None:
    # given
    tenant_id = await _tenant(database)
    runtime_id = await _runtime(database, tenant_id)
    async with unit_of_work(database, tenant_id) as session:
        issued = await system_auth_service.request_runtime_token(
            session, tenant_id, runtime_id, None, policy=POLICY, now=NOW
        )
    application_writer = OperatorPrincipal(subject="operator", tenant_id=tenant_id, scopes=frozenset({Scope.APPLICATION_WRITE}))

    # when
    with pytest.raises(ForbiddenError, match="missing scope 'runtime:write'"):
        async with unit_of_work(database, tenant_id) as session:
            await system_auth_service.invalidate_tokens(
                session, tenant_id, issued.record.system_auth_id, caller=application_writer, now=NOW
            )

    # then
    assert await _used_at(database, issued.record.id) is None


async def test_spending_a_runtimes_tokens_marks_them_used_at_the_time_given(database: Database) -> None:
    # given
    tenant_id = await _tenant(database)
    runtime_id = await _runtime(database, tenant_id)
    async with unit_of_work(database, tenant_id) as session:
        issued = await system_auth_service.request_runtime_token(
            session, tenant_id, runtime_id, None, policy=POLICY, now=NOW
        )
    runtime_writer = OperatorPrincipal(subject="operator", tenant_id=tenant_id, scopes=frozenset({Scope.RUNTIME_WRITE}))

    # when
    async with unit_of_work(database, tenant_id) as session:
        await system_auth_service.invalidate_tokens(
            session, tenant_id, issued.record.system_auth_id, caller=runtime_writer, now=NOW + timedelta(minutes=1)
        )

    # then
    assert await _used_at(database, issued.record.id) == NOW + timedelta(minutes=1)
