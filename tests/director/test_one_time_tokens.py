"""One-time tokens for runtimes and applications, the system auths they are bound to, and invalidation."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from director.models import OneTimeToken
from kernel.db import Database
from tests.support import Operator, TenantFactory

TOKEN_FIELDS = "token connectorURL used expiresAt createdAt usedAt raw rawEncoded type"
REQUEST_RUNTIME_TOKEN = f"""
mutation ($id: ID!, $systemAuthID: ID) {{
  result: requestOneTimeTokenForRuntime(id: $id, systemAuthID: $systemAuthID) {{ {TOKEN_FIELDS} }}
}}
"""
REQUEST_APPLICATION_TOKEN = f"""
mutation ($id: ID!, $systemAuthID: ID) {{
  result: requestOneTimeTokenForApplication(id: $id, systemAuthID: $systemAuthID) {{
    {TOKEN_FIELDS} legacyConnectorURL
  }}
}}
"""
RUNTIME_AUTHS = "query ($id: ID!) { result: runtime(id: $id) { auths { id } } }"
APPLICATION_AUTHS = "query ($id: ID!) { result: application(id: $id) { auths { id } } }"
REGISTER_RUNTIME = "mutation ($name: String!) { result: registerRuntime(in: {name: $name}) { id } }"
REGISTER_APPLICATION = "mutation ($name: String!) { result: registerApplication(in: {name: $name}) { id } }"
INVALIDATE = """
mutation ($id: ID!) { result: invalidateSystemAuthOneTimeToken(authID: $id) { __typename id type } }
"""
SYSTEM_AUTH = "query ($id: ID!) { result: systemAuth(id: $id) { __typename id type } }"
SYSTEM_AUTH_OWNER = "query ($id: ID!) { result: systemAuth(id: $id) { tenantId referenceObjectId } }"

URL_SAFE_BASE64 = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Kind:
    """Runtime or application: the same behaviour with its own documents and lifetime."""

    name: str
    register: str
    request_token: str
    auths: str
    lifetime: timedelta
    token_type: str
    auth_typename: str

    @property
    def reference_type(self) -> str:
        return self.name.upper()


RUNTIME = Kind(
    name="Runtime",
    register=REGISTER_RUNTIME,
    request_token=REQUEST_RUNTIME_TOKEN,
    auths=RUNTIME_AUTHS,
    lifetime=timedelta(minutes=60),
    token_type="Runtime",
    auth_typename="RuntimeSystemAuth",
)
APPLICATION = Kind(
    name="Application",
    register=REGISTER_APPLICATION,
    request_token=REQUEST_APPLICATION_TOKEN,
    auths=APPLICATION_AUTHS,
    lifetime=timedelta(minutes=5),
    token_type="Application",
    auth_typename="AppSystemAuth",
)
KINDS = [pytest.param(RUNTIME, id="runtime"), pytest.param(APPLICATION, id="application")]


async def register(operator: Operator, kind: Kind) -> str:
    data = await operator.query(kind.register, {"name": f"{kind.name.lower()}-{uuid.uuid4().hex[:8]}"})
    return str(data["result"]["id"])


async def request_token(
    operator: Operator, kind: Kind, object_id: str, system_auth_id: str | None = None
) -> dict[str, Any]:
    data = await operator.query(kind.request_token, {"id": object_id, "systemAuthID": system_auth_id})
    return dict(data["result"])


async def auth_ids(operator: Operator, kind: Kind, object_id: str) -> list[str]:
    data = await operator.query(kind.auths, {"id": object_id})
    return [auth["id"] for auth in data["result"]["auths"]]


async def stored_tokens(database: Database, tenant_id: str) -> list[OneTimeToken]:
    async with database.read_sessions() as session:
        rows = await session.execute(
            select(OneTimeToken).where(OneTimeToken.tenant_id == tenant_id).order_by(OneTimeToken.created_at)
        )
        return list(rows.scalars())


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize("kind", KINDS)
class TestRequestOneTimeToken:
    async def test_the_token_is_64_random_bytes_in_url_safe_base64(
        self, operator: Operator, kind: Kind
    ) -> None:
        object_id = await register(operator, kind)
        first = await request_token(operator, kind, object_id)
        second = await request_token(operator, kind, object_id)
        for token in (first["token"], second["token"]):
            assert URL_SAFE_BASE64.match(token)
            assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 64
        assert first["token"] != second["token"]

    async def test_the_connector_url_is_the_connectors_graphql_endpoint(
        self, operator: Operator, kind: Kind
    ) -> None:
        token = await request_token(operator, kind, await register(operator, kind))
        assert token["connectorURL"].startswith(("http://", "https://"))
        assert token["connectorURL"].endswith("/connector/graphql")

    async def test_a_new_token_is_unused_and_of_its_kind(self, operator: Operator, kind: Kind) -> None:
        token = await request_token(operator, kind, await register(operator, kind))
        assert (token["used"], token["usedAt"], token["type"]) == (False, None, kind.token_type)

    async def test_the_token_lives_for_its_kinds_lifetime(self, operator: Operator, kind: Kind) -> None:
        token = await request_token(operator, kind, await register(operator, kind))
        assert timestamp(token["expiresAt"]) - timestamp(token["createdAt"]) == kind.lifetime

    async def test_raw_is_the_token_record_as_json_and_raw_encoded_its_base64(
        self, operator: Operator, kind: Kind
    ) -> None:
        token = await request_token(operator, kind, await register(operator, kind))
        raw = json.loads(token["raw"])
        assert raw["token"] == token["token"]
        assert raw["connectorURL"] == token["connectorURL"]
        assert raw["used"] is False
        assert raw["type"] == kind.token_type
        assert timestamp(raw["expiresAt"]) == timestamp(token["expiresAt"])
        assert base64.b64decode(token["rawEncoded"]).decode() == token["raw"]

    async def test_only_the_sha256_of_the_token_is_stored(
        self, operator: Operator, database: Database, kind: Kind
    ) -> None:
        # given
        token = await request_token(operator, kind, await register(operator, kind))
        # when
        [row] = await stored_tokens(database, operator.tenant_id)
        # then
        assert row.token_hash == hashlib.sha256(token["token"].encode()).hexdigest()
        stored = [str(getattr(row, column.key)) for column in OneTimeToken.__table__.columns]
        assert not any(token["token"] in value for value in stored)
        assert row.used_at is None
        assert row.type == kind.token_type

    async def test_without_a_system_auth_id_a_new_system_auth_is_created(
        self, operator: Operator, kind: Kind
    ) -> None:
        # given
        object_id = await register(operator, kind)
        assert await auth_ids(operator, kind, object_id) == []
        # when
        await request_token(operator, kind, object_id)
        await request_token(operator, kind, object_id)
        # then
        assert len(await auth_ids(operator, kind, object_id)) == 2

    async def test_with_an_existing_system_auth_id_no_new_auth_is_created(
        self, operator: Operator, database: Database, kind: Kind
    ) -> None:
        # given
        object_id = await register(operator, kind)
        await request_token(operator, kind, object_id)
        [auth_id] = await auth_ids(operator, kind, object_id)
        # when
        await request_token(operator, kind, object_id, auth_id)
        # then
        assert await auth_ids(operator, kind, object_id) == [auth_id]
        rows = await stored_tokens(database, operator.tenant_id)
        assert [row.system_auth_id for row in rows] == [auth_id, auth_id]

    async def test_a_system_auth_of_another_object_is_invalid_input(
        self, operator: Operator, kind: Kind
    ) -> None:
        # given
        object_id, other_id = await register(operator, kind), await register(operator, kind)
        await request_token(operator, kind, other_id)
        [foreign_auth] = await auth_ids(operator, kind, other_id)
        # when
        codes = await operator.error_codes(kind.request_token, {"id": object_id, "systemAuthID": foreign_auth})
        # then
        assert codes == ["INVALID_INPUT"]
        assert await auth_ids(operator, kind, object_id) == []

    async def test_a_system_auth_of_the_other_kind_is_invalid_input(
        self, operator: Operator, kind: Kind
    ) -> None:
        other_kind = APPLICATION if kind is RUNTIME else RUNTIME
        object_id, other_id = await register(operator, kind), await register(operator, other_kind)
        await request_token(operator, other_kind, other_id)
        [foreign_auth] = await auth_ids(operator, other_kind, other_id)
        codes = await operator.error_codes(kind.request_token, {"id": object_id, "systemAuthID": foreign_auth})
        assert codes == ["INVALID_INPUT"]

    async def test_a_system_auth_that_does_not_exist_is_not_found(
        self, operator: Operator, kind: Kind
    ) -> None:
        object_id = await register(operator, kind)
        variables = {"id": object_id, "systemAuthID": str(uuid.uuid4())}
        codes = await operator.error_codes(kind.request_token, variables)
        assert codes == ["NOT_FOUND"]

    async def test_a_system_auth_of_another_tenant_is_not_found(
        self, tenants: TenantFactory, kind: Kind
    ) -> None:
        operator, other = await tenants.operator(), await tenants.operator()
        other_id = await register(other, kind)
        await request_token(other, kind, other_id)
        [foreign_auth] = await auth_ids(other, kind, other_id)
        object_id = await register(operator, kind)
        codes = await operator.error_codes(kind.request_token, {"id": object_id, "systemAuthID": foreign_auth})
        assert codes == ["NOT_FOUND"]

    async def test_an_object_that_does_not_exist_is_not_found(
        self, operator: Operator, database: Database, kind: Kind
    ) -> None:
        codes = await operator.error_codes(kind.request_token, {"id": str(uuid.uuid4()), "systemAuthID": None})
        assert codes == ["NOT_FOUND"]
        assert await stored_tokens(database, operator.tenant_id) == []

    async def test_an_object_of_another_tenant_is_not_found(self, tenants: TenantFactory, kind: Kind) -> None:
        operator, other = await tenants.operator(), await tenants.operator()
        foreign_id = await register(other, kind)
        variables = {"id": foreign_id, "systemAuthID": None}
        assert await operator.error_codes(kind.request_token, variables) == ["NOT_FOUND"]
        assert await auth_ids(other, kind, foreign_id) == []


async def test_the_legacy_connector_url_carries_the_application_token(operator: Operator) -> None:
    """Compass appends ``token=<token>`` to the legacy URL; the Kyma console hands it out as it is."""
    token = await request_token(operator, APPLICATION, await register(operator, APPLICATION))
    assert token["legacyConnectorURL"].endswith(f"?token={token['token']}")


@pytest.mark.parametrize("kind", KINDS)
class TestSystemAuth:
    async def test_a_system_auth_is_found_by_id_with_its_kind(self, operator: Operator, kind: Kind) -> None:
        object_id = await register(operator, kind)
        await request_token(operator, kind, object_id)
        [auth_id] = await auth_ids(operator, kind, object_id)
        data = await operator.query(SYSTEM_AUTH, {"id": auth_id})
        assert data["result"] == {"__typename": kind.auth_typename, "id": auth_id, "type": kind.reference_type}

    async def test_a_system_auth_of_another_tenant_is_null(self, tenants: TenantFactory, kind: Kind) -> None:
        operator, other = await tenants.operator(), await tenants.operator()
        other_id = await register(other, kind)
        await request_token(other, kind, other_id)
        [foreign_auth] = await auth_ids(other, kind, other_id)
        assert (await operator.query(SYSTEM_AUTH, {"id": foreign_auth}))["result"] is None

    async def test_invalidating_marks_every_unused_token_of_the_auth_used(
        self, operator: Operator, database: Database, kind: Kind
    ) -> None:
        # given two tokens of one auth and one of another
        object_id = await register(operator, kind)
        await request_token(operator, kind, object_id)
        [auth_id] = await auth_ids(operator, kind, object_id)
        await request_token(operator, kind, object_id, auth_id)
        await request_token(operator, kind, await register(operator, kind))
        # when
        data = await operator.query(INVALIDATE, {"id": auth_id})
        # then
        assert data["result"] == {"__typename": kind.auth_typename, "id": auth_id, "type": kind.reference_type}
        rows = await stored_tokens(database, operator.tenant_id)
        used = {(row.system_auth_id == auth_id, row.used_at is not None) for row in rows}
        assert used == {(True, True), (False, False)}


    async def test_a_system_auth_names_its_tenant_and_the_object_it_belongs_to(
        self, operator: Operator, kind: Kind
    ) -> None:
        # given
        object_id = await register(operator, kind)
        await request_token(operator, kind, object_id)
        [auth_id] = await auth_ids(operator, kind, object_id)

        # when
        data = await operator.query(SYSTEM_AUTH_OWNER, {"id": auth_id})

        # then
        assert data["result"] == {"tenantId": operator.tenant_id, "referenceObjectId": object_id}

    async def test_the_token_answers_through_the_one_time_token_interface(
        self, operator: Operator, kind: Kind
    ) -> None:
        # given
        object_id = await register(operator, kind)
        document = kind.request_token.replace(TOKEN_FIELDS, "... on OneTimeToken { __typename used type }")

        # when
        data = await operator.query(document.replace(" legacyConnectorURL", ""), {"id": object_id})

        # then
        assert data["result"] == {"__typename": f"OneTimeTokenFor{kind.name}", "used": False, "type": kind.token_type}


async def test_an_application_token_requested_without_scenario_groups_has_none(operator: Operator) -> None:
    """Compass fills them from the request's scenario_groups header; without it the list is empty."""
    application_id = await register(operator, APPLICATION)

    data = await operator.query(
        "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { scenarioGroups } }",
        {"id": application_id},
    )

    assert data["result"] == {"scenarioGroups": []}


async def test_invalidating_an_auth_that_does_not_exist_is_not_found(operator: Operator) -> None:
    assert await operator.error_codes(INVALIDATE, {"id": str(uuid.uuid4())}) == ["NOT_FOUND"]


async def test_a_system_auth_that_does_not_exist_is_null(operator: Operator) -> None:
    assert (await operator.query(SYSTEM_AUTH, {"id": str(uuid.uuid4())}))["result"] is None
