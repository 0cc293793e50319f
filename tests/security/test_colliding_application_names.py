"""Application names that collide once normalized (issue 9): runtimes know applications by normalized name,
so "SHOP" registered beside "shop" became a second ``mp-shop`` in every runtime of their formations, and
replaced the working one there. The Director refuses such a name within the tenant, as Compass does; the
database's unique index settles concurrent registrations; a database already holding colliding names is not
migrated blindly.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from compass import migrate
from director.models import Application
from kernel.db import Database
from tests.support import Operator, TenantFactory

REGISTER = "mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id name } }"
UPDATE = """
mutation ($id: ID!, $in: ApplicationUpdateInput!) { result: updateApplication(id: $id, in: $in) { name } }
"""
NAMES = "query { result: applications(first: 100) { data { name } } }"
CREATE_FORMATION = "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { name } }"

COMPASS = Path(sys.executable).with_name("compass")
BEFORE_NORMALIZED_NAMES = "0006"

# Each normalizes to "mp-shop", as "shop" does.
COLLIDING = ["SHOP", "Shop", "shop!", "shop-", "mp-shop", " Shop? "]


async def names(operator: Operator) -> list[str]:
    return sorted(item["name"] for item in (await operator.query(NAMES))["result"]["data"])


async def register_shop_in_retail(operator: Operator) -> str:
    await operator.query(CREATE_FORMATION, {"name": "retail"})
    data = await operator.query(REGISTER, {"in": {"name": "shop", "labels": {"scenarios": ["retail"]}}})
    return str(data["result"]["id"])


# --- the API ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("colliding", COLLIDING)
async def test_registering_a_name_that_normalizes_like_an_existing_one_is_a_conflict(
    operator: Operator, colliding: str
) -> None:
    # given
    await register_shop_in_retail(operator)

    # when
    in_retail = {"name": colliding, "labels": {"scenarios": ["retail"]}}
    answer = await operator.execute(REGISTER, {"in": in_retail})

    # then
    assert [error["extensions"]["code"] for error in answer["errors"]] == ["CONFLICT"]
    assert "'shop'" in answer["errors"][0]["message"]
    assert "'mp-shop'" in answer["errors"][0]["message"]
    assert await names(operator) == ["shop"]


async def test_a_colliding_name_in_another_tenant_is_no_conflict(tenants: TenantFactory) -> None:
    # given
    first, second = await tenants.operator(), await tenants.operator()
    await register_shop_in_retail(first)

    # when
    await second.query(REGISTER, {"in": {"name": "SHOP"}})

    # then
    assert await names(first) == ["shop"]
    assert await names(second) == ["SHOP"]


async def test_update_cannot_rename_an_application_onto_a_colliding_name(operator: Operator) -> None:
    """updateApplication takes no name (as in Compass): an update cannot make two names collide. Pinned."""
    # given
    await register_shop_in_retail(operator)
    other = await operator.query(REGISTER, {"in": {"name": "books"}})

    # when
    codes = await operator.error_codes(UPDATE, {"id": other["result"]["id"], "in": {"name": "SHOP"}})

    # then
    assert codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert await names(operator) == ["books", "shop"]


async def test_concurrent_registrations_of_colliding_names_let_exactly_one_succeed(
    operator: Operator,
) -> None:
    # when
    answers = await asyncio.gather(
        *(operator.execute(REGISTER, {"in": {"name": name}}) for name in ["shop", *COLLIDING])
    )

    # then
    succeeded = [answer["data"]["result"]["name"] for answer in answers if not answer.get("errors")]
    codes = [error["extensions"]["code"] for answer in answers for error in answer.get("errors", [])]
    assert len(succeeded) == 1
    assert codes == ["CONFLICT"] * len(COLLIDING)
    assert await names(operator) == succeeded


async def test_the_database_refuses_a_colliding_name_the_service_check_did_not_see(
    operator: Operator, database: Database
) -> None:
    """What settles two registrations that both checked before either wrote: the unique index."""
    # given
    await register_shop_in_retail(operator)
    twin = Application(tenant_id=operator.tenant_id, name="SHOP", normalized_name="mp-shop")

    # when / then
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(twin)
            await session.flush()
    assert await names(operator) == ["shop"]


# --- a database that already holds colliding names ---------------------------------------------------------


async def _insert_applications(database: Database, rows: list[tuple[str, str]]) -> dict[str, str]:
    """Tenants and applications as pycompass 0006 stored them: (tenant name, application name) → id."""
    now = datetime.now(UTC)
    tenants: dict[str, str] = {}
    ids: dict[str, str] = {}
    async with database.engine.begin() as connection:
        for tenant, name in rows:
            if tenant not in tenants:
                tenants[tenant] = str(uuid.uuid4())
                await connection.execute(
                    text(
                        "INSERT INTO tenants (id, name, type, created_at) "
                        "VALUES (:id, :name, 'ACCOUNT', :now)"
                    ),
                    {"id": tenants[tenant], "name": f"{tenant}-{uuid.uuid4().hex[:8]}", "now": now},
                )
            ids[f"{tenant}/{name}"] = str(uuid.uuid4())
            await connection.execute(
                text(
                    "INSERT INTO applications (id, tenant_id, name, status_condition, status_timestamp, "
                    "created_at, updated_at) VALUES (:id, :tenant, :name, 'INITIAL', :now, :now, :now)"
                ),
                {"id": ids[f"{tenant}/{name}"], "tenant": tenants[tenant], "name": name, "now": now},
            )
    return ids


def _application_columns(connection: object) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("applications")}


@pytest.fixture
async def colliding_database(
    fresh_url: str, fresh_database: Database
) -> dict[str, str]:
    """A database at migration 0006: tenant "acme" holds "shop" and "SHOP", tenant "other" "shop" alone."""
    await asyncio.to_thread(migrate.upgrade, fresh_url, BEFORE_NORMALIZED_NAMES)
    return await _insert_applications(
        fresh_database, [("acme", "shop"), ("acme", "SHOP"), ("acme", "books"), ("other", "shop")]
    )


async def test_migrating_a_database_with_colliding_names_stops_listing_them_and_changes_nothing(
    fresh_url: str, fresh_database: Database, colliding_database: dict[str, str]
) -> None:
    # when
    with pytest.raises(CommandError) as failure:
        await asyncio.to_thread(migrate.upgrade, fresh_url)

    # then
    message = str(failure.value)
    assert f"'SHOP' (id {colliding_database['acme/SHOP']})" in message
    assert f"'shop' (id {colliding_database['acme/shop']})" in message
    assert colliding_database["other/shop"] not in message
    assert "books" not in message
    assert await migrate.current_revision(fresh_database.engine) == BEFORE_NORMALIZED_NAMES
    async with fresh_database.engine.connect() as connection:
        assert "normalized_name" not in await connection.run_sync(_application_columns)


async def test_once_the_collision_is_resolved_the_migration_fills_in_the_normalized_names(
    fresh_url: str, fresh_database: Database, colliding_database: dict[str, str]
) -> None:
    # given: the operator renamed one of the two
    async with fresh_database.engine.begin() as connection:
        rename = text("UPDATE applications SET name = 'shop-outlet' WHERE id = :id")
        await connection.execute(rename, {"id": colliding_database["acme/SHOP"]})

    # when
    await asyncio.to_thread(migrate.upgrade, fresh_url)

    # then
    async with fresh_database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, normalized_name FROM applications"))).all()
    assert dict(rows) == {
        colliding_database["acme/shop"]: "mp-shop",
        colliding_database["acme/SHOP"]: "mp-shop-outlet",
        colliding_database["acme/books"]: "mp-books",
        colliding_database["other/shop"]: "mp-shop",
    }


async def test_compass_migrate_names_the_colliding_applications_without_a_traceback(
    tmp_path: Path, colliding_database: dict[str, str], fresh_url: str
) -> None:
    if not fresh_url.startswith("sqlite"):
        pytest.skip("the command's output does not depend on the backend")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("COMPASS_")}
    environment |= {"COMPASS_DATA_DIR": str(tmp_path / "data"), "COMPASS_DATABASE_URL": fresh_url}

    completed = await asyncio.to_thread(
        subprocess.run,
        [str(COMPASS), "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1
    assert colliding_database["acme/SHOP"] in completed.stderr
    assert "compass migrate" in completed.stderr
    assert "Traceback" not in completed.stderr
