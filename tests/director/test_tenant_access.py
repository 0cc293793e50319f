"""Tenant access (addTenantAccess, removeTenantAccess): a grant shows another tenant's object, and all below it,
to exactly the grantee (and the tenants above it); an owner grant also lets it change the object."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from director.models import SCENARIOS, Label, Runtime, Tenant, TenantAccess
from director.polling.revision import RevisionRepository
from director.tenant.repository import TenantRepository
from kernel.db import Database
from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES, Scope
from testing.changes import heard_everything
from testing.statements import count_statements
from tests.director.test_applications_for_runtime import bundle_input, register_application, register_runtime
from tests.support import ASSIGN_FORMATION, CREATE_FORMATION, Operator, TenantFactory

APPLICATION_TREE = """
query ($id: ID!) {
  result: application(id: $id) {
    name
    labels
    webhooks { url }
    bundles {
      data {
        name
        apiDefinitions { data { name } }
        eventDefinitions { data { name } }
        documents { data { title } }
      }
    }
  }
}
"""
APPLICATIONS_WITH_TREES = """
query {
  result: applications(first: 200) {
    data {
      name
      labels
      webhooks { url }
      bundles { data { name apiDefinitions { data { name } } eventDefinitions { data { name } } documents { data { title } } } }
    }
  }
}
"""
APPLICATION_NAMES = "query { result: applications(first: 200) { data { name } } }"
RUNTIME_NAMES = "query { result: runtimes(first: 200) { data { name } } }"
UPDATE_DESCRIPTION = """
mutation ($id: ID!) {
  result: updateApplication(id: $id, in: {providerName: "ACME", description: "changed by the grantee"}) { description }
}
"""
ADD_BUNDLE = (
    'mutation ($id: ID!) { result: addBundle(applicationID: $id, in: {name: "added by the grantee"}) { id } }'
)


def add(tenant: str, resource_id: str, *, owner: bool = False, kind: str = "APPLICATION") -> str:
    return f"""
mutation {{
  result: addTenantAccess(in: {{tenantID: "{tenant}", resourceType: {kind}, resourceID: "{resource_id}", owner: {str(owner).lower()}}}) {{
    tenantID resourceType resourceID owner
  }}
}}
"""


def remove(tenant: str, resource_id: str, *, kind: str = "APPLICATION") -> str:
    return f"""
mutation {{
  result: removeTenantAccess(tenantID: "{tenant}", resourceID: "{resource_id}", resourceType: {kind}) {{
    tenantID resourceType resourceID owner
  }}
}}
"""


@pytest.fixture
async def home(tenants: TenantFactory) -> Operator:
    """An operator allowed to share its tenant's objects."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | {Scope.TENANT_ACCESS_WRITE}))


@pytest.fixture
async def grantee(tenants: TenantFactory) -> Operator:
    return await tenants.operator()


async def names(operator: Operator, document: str = APPLICATION_NAMES) -> list[str]:
    return [item["name"] for item in (await operator.query(document))["result"]["data"]]


async def shared_application(home: Operator, name: str = "shared shop") -> str:
    return await register_application(home, name, bundles=[bundle_input(0)])


async def tree(operator: Operator, application_id: str) -> dict[str, Any] | None:
    body = await operator.execute(APPLICATION_TREE, {"id": application_id})
    return body["data"]["result"]


def test_tenant_access_write_is_a_platform_scope_a_tenants_token_does_not_hold() -> None:
    assert Scope.TENANT_ACCESS_WRITE in PLATFORM_SCOPES
    assert Scope.TENANT_ACCESS_WRITE not in ALL_SCOPES


async def test_an_operator_without_tenant_access_write_may_not_grant(
    operator: Operator, grantee: Operator
) -> None:
    application_id = await register_application(operator)

    assert await operator.error_codes(add(grantee.tenant_id, application_id)) == ["FORBIDDEN"]


async def test_adding_access_answers_the_grant(home: Operator, grantee: Operator) -> None:
    application_id = await shared_application(home)

    answer = (await home.query(add(grantee.tenant_id, application_id, owner=True)))["result"]

    assert answer == {
        "tenantID": grantee.tenant_id,
        "resourceType": "APPLICATION",
        "resourceID": application_id,
        "owner": True,
    }


async def test_a_granted_application_is_listed_among_the_grantees_applications(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)

    await home.query(add(grantee.tenant_id, application_id))

    assert "shared shop" in await names(grantee)


async def test_the_grantee_sees_the_whole_tree_of_a_granted_application(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id))

    assert await tree(grantee, application_id) == await tree(home, application_id)


async def test_a_tenant_not_granted_the_application_does_not_see_it(
    home: Operator, grantee: Operator, tenants: TenantFactory
) -> None:
    bystander = await tenants.operator()
    application_id = await shared_application(home)

    await home.query(add(grantee.tenant_id, application_id))

    assert await names(bystander) == []
    assert await tree(bystander, application_id) is None


async def test_removing_access_hides_the_application_again(home: Operator, grantee: Operator) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id))

    removed = (await home.query(remove(grantee.tenant_id, application_id)))["result"]

    assert removed["owner"] is False
    assert await names(grantee) == []
    assert await tree(grantee, application_id) is None


async def test_a_read_grant_does_not_let_the_grantee_change_the_application(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=False))

    assert await grantee.error_codes(UPDATE_DESCRIPTION, {"id": application_id}) == ["NOT_FOUND"]
    assert await grantee.error_codes(ADD_BUNDLE, {"id": application_id}) == ["NOT_FOUND"]


async def test_an_owner_grant_lets_the_grantee_change_the_application(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))

    await grantee.query(UPDATE_DESCRIPTION, {"id": application_id})

    description = await home.query(
        "query ($id: ID!) { result: application(id: $id) { description } }", {"id": application_id}
    )
    assert description["result"]["description"] == "changed by the grantee"


async def test_what_an_owner_grantee_adds_belongs_to_the_application_and_leaves_with_the_grant(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    bundle_id = (await grantee.query(ADD_BUNDLE, {"id": application_id}))["result"]["id"]
    bundle = "query ($app: ID!, $id: ID!) { result: application(id: $app) { bundle(id: $id) { name } } }"

    seen_by_home = (await home.query(bundle, {"app": application_id, "id": bundle_id}))["result"]["bundle"]
    await home.query(remove(grantee.tenant_id, application_id))

    assert seen_by_home == {"name": "added by the grantee"}
    assert (await grantee.query(bundle, {"app": application_id, "id": bundle_id}))["result"] is None


async def test_granting_an_application_of_another_tenant_answers_not_found(
    home: Operator, grantee: Operator, tenants: TenantFactory
) -> None:
    foreign = await register_application(await tenants.operator())

    assert await home.error_codes(add(grantee.tenant_id, foreign)) == ["NOT_FOUND"]


async def test_granting_to_a_tenant_that_does_not_exist_answers_not_found(home: Operator) -> None:
    application_id = await shared_application(home)

    assert await home.error_codes(add(str(uuid.uuid4()), application_id)) == ["NOT_FOUND"]


async def test_granting_again_keeps_the_first_grant(home: Operator, grantee: Operator) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=False))

    again = (await home.query(add(grantee.tenant_id, application_id, owner=True)))["result"]

    assert again["owner"] is False


async def test_granting_to_the_tenant_the_object_was_made_in_answers_it_as_owner(home: Operator) -> None:
    application_id = await shared_application(home)

    answer = (await home.query(add(home.tenant_id, application_id)))["result"]

    assert answer["owner"] is True
    assert await home.error_codes(remove(home.tenant_id, application_id)) == ["INVALID_INPUT"]


async def test_removing_access_never_given_answers_not_found(home: Operator, grantee: Operator) -> None:
    application_id = await shared_application(home)

    assert await home.error_codes(remove(grantee.tenant_id, application_id)) == ["NOT_FOUND"]


async def test_a_grant_reaches_the_tenants_above_the_grantee(
    home: Operator, tenants: TenantFactory, database: Database
) -> None:
    parent = await tenants.operator()
    child = await tenants.operator()
    async with database.transaction() as session:
        await TenantRepository(session).set_parents(child.tenant_id, [parent.tenant_id])
    application_id = await shared_application(home)

    await home.query(add(child.tenant_id, application_id))
    seen = (await names(parent), await names(child))
    await home.query(remove(child.tenant_id, application_id))

    assert seen == (["shared shop"], ["shared shop"])
    assert (await names(parent), await names(child)) == ([], [])


async def test_a_granted_runtime_is_listed_among_the_grantees_runtimes(
    home: Operator, grantee: Operator
) -> None:
    runtime_id = await register_runtime(home)
    name = (await home.query("query ($id: ID!) { result: runtime(id: $id) { name } }", {"id": runtime_id}))[
        "result"
    ]["name"]

    await home.query(add(grantee.tenant_id, runtime_id, kind="RUNTIME"))

    assert await names(grantee, RUNTIME_NAMES) == [name]


async def test_a_granted_runtime_context_is_seen_through_its_id(home: Operator, grantee: Operator) -> None:
    runtime_id = await register_runtime(home)
    context = """
    mutation ($id: ID!) { result: registerRuntimeContext(runtimeID: $id, in: {key: "subscription", value: "s1"}) { id } }
    """
    context_id = (await home.query(context, {"id": runtime_id}))["result"]["id"]
    read = "query ($r: ID!, $c: ID!) { result: runtime(id: $r) { runtimeContext(id: $c) { key value } } }"

    await home.query(add(grantee.tenant_id, runtime_id, kind="RUNTIME"))
    before = (await grantee.query(read, {"r": runtime_id, "c": context_id}))["result"]["runtimeContext"]
    await home.query(add(grantee.tenant_id, context_id, kind="RUNTIME_CONTEXT"))
    after = (await grantee.query(read, {"r": runtime_id, "c": context_id}))["result"]["runtimeContext"]

    assert (before, after) == (None, {"key": "subscription", "value": "s1"})


async def test_a_grantees_runtime_sees_an_application_the_grantee_put_in_its_formation(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    await grantee.query(CREATE_FORMATION, {"name": "shared"})
    runtime_id = await register_runtime(grantee, scenarios=["shared"])

    await grantee.query(ASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": "shared"})

    visible = "query ($id: ID!) { result: applicationsForRuntime(runtimeID: $id, first: 10) { data { id } } }"
    assert [app["id"] for app in (await grantee.query(visible, {"id": runtime_id}))["result"]["data"]] == [
        application_id
    ]


async def test_the_grantees_formations_of_an_application_are_its_own(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    await grantee.query(CREATE_FORMATION, {"name": "grantees own"})

    await grantee.query(
        ASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": "grantees own"}
    )

    scenarios = 'query ($id: ID!) { result: application(id: $id) { labels(key: "scenarios") } }'
    home_labels = (await home.query(scenarios, {"id": application_id}))["result"]["labels"]
    grantee_labels = (await grantee.query(scenarios, {"id": application_id}))["result"]["labels"]
    assert "grantees own" not in str(home_labels)
    assert grantee_labels == {"scenarios": ["grantees own"]}


async def _revision(database: Database, tenant_id: str) -> int:
    async with database.read_sessions() as session:
        return int(
            (await session.execute(select(Tenant.revision).where(Tenant.id == tenant_id))).scalar_one()
        )


async def test_a_change_to_a_granted_application_bumps_every_view_of_the_grantee(
    home: Operator, grantee: Operator, database: Database
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id))
    before = await _revision(database, grantee.tenant_id)

    await home.query(UPDATE_DESCRIPTION, {"id": application_id})

    assert await _revision(database, grantee.tenant_id) == before + 1


async def test_adding_and_removing_access_bump_every_view_of_the_grantee(
    home: Operator, grantee: Operator, database: Database
) -> None:
    application_id = await shared_application(home)
    before = await _revision(database, grantee.tenant_id)

    await home.query(add(grantee.tenant_id, application_id))
    granted = await _revision(database, grantee.tenant_id)
    await home.query(remove(grantee.tenant_id, application_id))

    assert (granted, await _revision(database, grantee.tenant_id)) == (before + 1, before + 2)


async def test_listing_granted_applications_costs_the_same_for_1_and_10(
    home: Operator, grantee: Operator, database: Database
) -> None:
    async def statements_for_listing() -> int:
        with count_statements(database) as statements:
            await grantee.query(APPLICATIONS_WITH_TREES)
        return len(list(statements))

    first = await shared_application(home, "app 0")
    await home.query(add(grantee.tenant_id, first))
    await heard_everything(database)  # else the caller's tenant, read while a grant's notification comes, is not kept
    await names(grantee)  # the caller's tenant is read once, on its first request
    one = await statements_for_listing()
    for index in range(1, 10):
        await home.query(add(grantee.tenant_id, await shared_application(home, f"app {index}")))
    await heard_everything(database)

    assert await statements_for_listing() == one


async def test_the_lowest_owner_of_a_read_granted_application_is_the_tenant_it_was_made_in(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=False))
    lowest = 'query ($id: ID!) { result: tenantByLowestOwnerForResource(id: $id, resource: "application") }'

    assert (await grantee.query(lowest, {"id": application_id}))["result"] == home.tenant_id


async def test_the_lowest_owner_of_an_owner_granted_application_is_the_grantee(
    home: Operator, grantee: Operator
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    lowest = 'query ($id: ID!) { result: tenantByLowestOwnerForResource(id: $id, resource: "application") }'

    assert (await grantee.query(lowest, {"id": application_id}))["result"] == grantee.tenant_id


async def test_an_owner_grantees_write_to_a_granted_runtime_bumps_that_runtimes_view(
    home: Operator, grantee: Operator, database: Database
) -> None:
    runtime_id = await register_runtime(home)
    await home.query(add(grantee.tenant_id, runtime_id, owner=True, kind="RUNTIME"))
    revision = select(Runtime.revision).where(Runtime.id == runtime_id)
    async with database.read_sessions() as session:
        before = (await session.execute(revision)).scalar_one()

    await grantee.query(
        'mutation ($id: ID!) { result: setRuntimeLabel(runtimeID: $id, key: "env", value: "prod") { key } }',
        {"id": runtime_id},
    )

    async with database.read_sessions() as session:
        assert (await session.execute(revision)).scalar_one() == before + 1


BUNDLE_IDS = "query ($id: ID!) { result: application(id: $id) { bundles { data { id } } } }"
REQUEST_INSTANCE_AUTH = (
    "mutation ($b: ID!) { result: requestBundleInstanceAuthCreation(bundleID: $b, in: {}) { id } }"
)
INSTANCE_AUTH = "query ($id: ID!) { result: bundleInstanceAuth(id: $id) { id } }"
REQUEST_RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"
RUNTIME_AUTHS = "query ($id: ID!) { result: runtime(id: $id) { auths { id } } }"
REGISTER_CONTEXT = """
mutation ($id: ID!) { result: registerRuntimeContext(runtimeID: $id, in: {key: "subscription", value: "s1"}) { id } }
"""


async def _grants_of(database: Database, *resource_ids: str) -> int:
    async with database.read_sessions() as session:
        statement = select(TenantAccess).where(TenantAccess.resource_id.in_(resource_ids))
        return len((await session.execute(statement)).scalars().all())


async def test_the_tenant_that_requested_a_bundle_instance_auth_still_sees_it_once_its_grant_is_removed(
    home: Operator, grantee: Operator
) -> None:
    application_id = await register_application(home, bundles=[{"name": "orders"}])
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    bundle_id = (await grantee.query(BUNDLE_IDS, {"id": application_id}))["result"]["bundles"]["data"][0]["id"]
    auth_id = (await grantee.query(REQUEST_INSTANCE_AUTH, {"b": bundle_id}))["result"]["id"]

    await home.query(remove(grantee.tenant_id, application_id))

    assert (await grantee.query(INSTANCE_AUTH, {"id": auth_id}))["result"] == {"id": auth_id}


async def test_a_token_an_owner_grantee_requests_for_a_runtime_is_issued_in_the_runtimes_tenant(
    home: Operator, grantee: Operator
) -> None:
    runtime_id = await register_runtime(home)
    await home.query(add(grantee.tenant_id, runtime_id, owner=True, kind="RUNTIME"))

    await grantee.query(REQUEST_RUNTIME_TOKEN, {"id": runtime_id})

    assert len((await home.query(RUNTIME_AUTHS, {"id": runtime_id}))["result"]["auths"]) == 1


async def test_one_object_holds_a_label_key_once_whichever_tenants_set_it(
    home: Operator, grantee: Operator, database: Database
) -> None:
    application_id = await shared_application(home)

    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            for tenant_id in (home.tenant_id, grantee.tenant_id):
                session.add(Label(tenant_id=tenant_id, application_id=application_id, key="env", value="prod"))
                await session.flush()


async def test_one_tenant_holds_the_formations_of_an_object_once(home: Operator, database: Database) -> None:
    application_id = await shared_application(home)

    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            for value in (["a"], ["b"]):
                session.add(Label(tenant_id=home.tenant_id, application_id=application_id, key=SCENARIOS, value=value))
                await session.flush()


async def test_unregistering_a_granted_application_deletes_its_grants(
    home: Operator, grantee: Operator, database: Database
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id))

    await home.query("mutation ($id: ID!) { result: unregisterApplication(id: $id) { id } }", {"id": application_id})

    assert await _grants_of(database, application_id) == 0


async def test_unregistering_a_granted_runtime_deletes_its_grants_and_its_contexts_grants(
    home: Operator, grantee: Operator, database: Database
) -> None:
    runtime_id = await register_runtime(home)
    context_id = (await home.query(REGISTER_CONTEXT, {"id": runtime_id}))["result"]["id"]
    await home.query(add(grantee.tenant_id, runtime_id, kind="RUNTIME"))
    await home.query(add(grantee.tenant_id, context_id, kind="RUNTIME_CONTEXT"))

    await home.query("mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id } }", {"id": runtime_id})

    assert await _grants_of(database, runtime_id, context_id) == 0


async def test_unregistering_a_granted_runtime_context_deletes_its_grants(
    home: Operator, grantee: Operator, database: Database
) -> None:
    runtime_id = await register_runtime(home)
    context_id = (await home.query(REGISTER_CONTEXT, {"id": runtime_id}))["result"]["id"]
    await home.query(add(grantee.tenant_id, context_id, kind="RUNTIME_CONTEXT"))

    await home.query("mutation ($id: ID!) { result: unregisterRuntimeContext(id: $id) { id } }", {"id": context_id})

    assert await _grants_of(database, context_id) == 0


@pytest.fixture
def locked_tenants(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tenant rows the Director's writes lock, in order."""
    locked: list[str] = []
    lock_tenant = RevisionRepository.lock_tenant

    async def recording(self: RevisionRepository, tenant_id: str) -> bool:
        locked.append(tenant_id)
        return await lock_tenant(self, tenant_id)

    monkeypatch.setattr(RevisionRepository, "lock_tenant", recording)
    return locked


async def test_an_owner_grantee_sharing_an_application_further_locks_its_home_tenant(
    home: Operator, grantee: Operator, tenants: TenantFactory, locked_tenants: list[str]
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    sharer = await tenants.operator(scopes=sorted(ALL_SCOPES | {Scope.TENANT_ACCESS_WRITE}), tenant_id=grantee.tenant_id)
    third = await tenants.operator()
    locked_tenants.clear()

    await sharer.query(add(third.tenant_id, application_id))

    assert locked_tenants == [home.tenant_id]


async def test_removing_access_to_an_application_locks_its_home_tenant(
    home: Operator, grantee: Operator, tenants: TenantFactory, locked_tenants: list[str]
) -> None:
    application_id = await shared_application(home)
    await home.query(add(grantee.tenant_id, application_id, owner=True))
    sharer = await tenants.operator(scopes=sorted(ALL_SCOPES | {Scope.TENANT_ACCESS_WRITE}), tenant_id=grantee.tenant_id)
    locked_tenants.clear()

    await sharer.query(remove(grantee.tenant_id, application_id))

    assert locked_tenants == [home.tenant_id]
