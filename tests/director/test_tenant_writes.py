"""Tenants as Compass's tenant fetcher writes them: external ids, parents, labels; who may write and see them."""

from __future__ import annotations

import uuid

import pytest

from kernel.db import Database
from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES, Scope
from testing.statements import count_statements
from tests.support import Operator, TenantFactory

TENANT = "id internalID name type parents initialized labels provider"


@pytest.fixture
async def platform(tenants: TenantFactory) -> Operator:
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


def external() -> str:
    return str(uuid.uuid4())


def write(external_id: str, *, name: str | None = None, type_: str = "account", parents: tuple[str, ...] = ()) -> str:
    listed = ", ".join(f'"{parent}"' for parent in parents)
    return f"""
mutation {{
  result: writeTenant(in: {{
    name: "{name or f"tenant {external_id}"}", externalTenant: "{external_id}", parents: [{listed}],
    type: "{type_}", provider: "tests"
  }})
}}
"""


def by_external_id(external_id: str) -> str:
    return f'query {{ result: tenantByExternalID(id: "{external_id}") {{ {TENANT} }} }}'


async def written(
    operator: Operator, external_id: str, *, name: str | None = None, type_: str = "account", parents: tuple[str, ...] = ()
) -> str:
    return str((await operator.query(write(external_id, name=name, type_=type_, parents=parents)))["result"])


def test_a_tenants_operator_does_not_hold_the_platform_scopes_by_default() -> None:
    assert Scope.TENANT_WRITE not in ALL_SCOPES
    assert Scope.CERTIFICATE_SUBJECT_MAPPING_WRITE not in ALL_SCOPES


async def test_an_operator_with_every_default_scope_may_not_write_tenants(operator: Operator) -> None:
    assert await operator.error_codes(write(external())) == ["FORBIDDEN"]
    assert await operator.error_codes('mutation { result: deleteTenants(in: ["x"]) }') == ["FORBIDDEN"]


async def test_writing_an_existing_external_id_updates_that_tenant(platform: Operator) -> None:
    external_id = external()
    first = await written(platform, external_id)

    again = await written(platform, external_id, name=f"renamed {external_id}", type_="subaccount")

    assert again == first
    tenant = (await platform.query(by_external_id(external_id)))["result"]
    assert (tenant["name"], tenant["type"]) == (f"renamed {external_id}", "subaccount")


async def test_a_customer_id_loses_its_leading_zeros_unless_it_is_a_uuid(platform: Operator) -> None:
    number = f"000{uuid.uuid4().int % 10**9}"

    await written(platform, number, type_="customer")

    assert (await platform.query(by_external_id(number.lstrip("0"))))["result"]["id"] == number.lstrip("0")


async def test_a_type_compass_does_not_know_is_stored_as_unknown(platform: Operator) -> None:
    external_id = external()

    await written(platform, external_id, type_="galaxy")

    assert (await platform.query(by_external_id(external_id)))["result"]["type"] == "unknown"


async def test_write_tenant_leaves_out_parents_that_do_not_exist(platform: Operator) -> None:
    external_id = external()

    await written(platform, external_id, parents=(external(),))

    assert (await platform.query(by_external_id(external_id)))["result"]["parents"] == []


async def test_write_tenants_refuses_parents_that_do_not_exist_and_writes_none(platform: Operator) -> None:
    external_id = external()

    codes = await platform.error_codes(f"""
mutation {{
  result: writeTenants(in: [{{ name: "t {external_id}", externalTenant: "{external_id}", parents: ["{external()}"],
                               type: "account", provider: "tests" }}])
}}
""")

    assert codes == ["NOT_FOUND"]
    assert await platform.error_codes(by_external_id(external_id)) == ["NOT_FOUND"]


async def test_a_tenant_name_another_tenant_has_is_a_conflict(platform: Operator) -> None:
    name = f"taken {external()}"
    await written(platform, external(), name=name)

    assert await platform.error_codes(write(external(), name=name)) == ["CONFLICT"]


async def test_an_operator_sees_its_own_tenant_and_those_above_it_only(
    platform: Operator, tenants: TenantFactory
) -> None:
    parent, child, stranger = external(), external(), external()
    parent_id = await written(platform, parent)
    child_id = await written(platform, child, parents=(parent,))
    await written(platform, stranger)
    operator = await tenants.operator(tenant_id=child_id)

    assert (await operator.query(by_external_id(child)))["result"]["parents"] == [parent_id]
    assert (await operator.query(by_external_id(parent)))["result"]["internalID"] == parent_id
    assert await operator.error_codes(by_external_id(stranger)) == ["NOT_FOUND"]
    assert await operator.error_codes(f'query {{ result: tenantByInternalID(id: "{parent_id}") {{ id }} }}') == []


async def test_another_tenant_answers_like_a_missing_one(operator: Operator, tenants: TenantFactory) -> None:
    other = await tenants.create()

    aimed = await operator.execute(f'query {{ result: tenantByInternalID(id: "{other}") {{ id }} }}')
    missing = await operator.execute(f'query {{ result: tenantByInternalID(id: "{uuid.uuid4()}") {{ id }} }}')

    assert [error["extensions"]["code"] for error in aimed["errors"]] == ["NOT_FOUND"]
    assert aimed["data"] == missing["data"]


async def test_root_tenants_of_a_tenant_without_parents_are_none(platform: Operator) -> None:
    external_id = external()
    await written(platform, external_id)

    data = await platform.query(f'query {{ result: rootTenants(externalTenant: "{external_id}") {{ id }} }}')

    assert data["result"] == []


async def test_root_tenants_are_the_topmost_over_every_path(platform: Operator) -> None:
    top, middle, other_top, child = external(), external(), external(), external()
    await written(platform, top, type_="customer")
    await written(platform, middle, parents=(top,))
    await written(platform, other_top, type_="customer")
    await written(platform, child, type_="subaccount", parents=(middle, other_top))

    data = await platform.query(f'query {{ result: rootTenants(externalTenant: "{child}") {{ id }} }}')

    assert sorted(tenant["id"] for tenant in data["result"]) == sorted([top, other_top])


async def test_root_tenants_cost_the_same_for_one_and_three_roots(platform: Operator, database: Database) -> None:
    roots = [external() for _ in range(3)]
    for root in roots:
        await written(platform, root, type_="customer")
    one, three = external(), external()
    await written(platform, one, parents=(roots[0],))
    await written(platform, three, parents=tuple(roots))
    document = 'query {{ result: rootTenants(externalTenant: "{}") {{ ' + TENANT + " }} }}"

    with count_statements(database) as for_one:
        assert len((await platform.query(document.format(one)))["result"]) == 1
    with count_statements(database) as for_three:
        assert len((await platform.query(document.format(three)))["result"]) == 3

    assert len(for_one) == len(for_three)


async def test_deleting_a_tenant_deletes_the_tenants_below_it_and_refuses_their_operators(
    platform: Operator, tenants: TenantFactory
) -> None:
    parent, child = external(), external()
    await written(platform, parent)
    child_id = await written(platform, child, parents=(parent,))
    child_operator = await tenants.operator(tenant_id=child_id)
    await child_operator.query('mutation { result: registerRuntime(in: { name: "kyma" }) { id } }')

    await platform.query(f'mutation {{ result: deleteTenants(in: ["{parent}"]) }}')

    assert await platform.error_codes(by_external_id(child)) == ["NOT_FOUND"]
    assert await child_operator.error_codes("query { result: runtimes { totalCount } }") == ["TENANT_NOT_FOUND"]
    register = 'mutation { result: registerRuntime(in: { name: "kyma" }) { id } }'
    assert await child_operator.error_codes(register) == ["TENANT_NOT_FOUND"]


async def test_update_tenant_of_a_missing_tenant_is_not_found(platform: Operator) -> None:
    codes = await platform.error_codes(f"""
mutation {{
  result: updateTenant(id: "{uuid.uuid4()}", in: {{ name: "x", externalTenant: "{external()}", type: "account",
                                                     provider: "tests" }}) {{ id }}
}}
""")

    assert codes == ["NOT_FOUND"]


async def test_set_tenant_label_replaces_the_value(platform: Operator) -> None:
    external_id = external()
    internal_id = await written(platform, external_id)
    label = 'mutation {{ result: setTenantLabel(tenantID: "{}", key: "region", value: "{}") {{ key value }} }}'

    await platform.query(label.format(internal_id, "eu-1"))
    await platform.query(label.format(internal_id, "us-1"))

    data = await platform.query(f'query {{ result: tenantByExternalID(id: "{external_id}") {{ labels(key: "region") }} }}')
    assert data["result"]["labels"] == {"region": "us-1"}


async def test_the_lowest_owner_of_another_tenants_runtime_is_not_found(operator: Operator, tenants: TenantFactory) -> None:
    other = await tenants.operator()
    runtime = await other.query('mutation { result: registerRuntime(in: { name: "kyma" }) { id } }')
    document = 'query {{ result: tenantByLowestOwnerForResource(id: "{}", resource: "{}") }}'

    assert await operator.error_codes(document.format(runtime["result"]["id"], "runtime")) == ["NOT_FOUND"]
    assert await operator.error_codes(document.format(runtime["result"]["id"], "formation")) == ["INVALID_INPUT"]


async def test_deleting_tenants_whose_parents_form_a_cycle_deletes_both(platform: Operator) -> None:
    first, second = external(), external()
    await written(platform, first)
    await written(platform, second, parents=(first,))
    await written(platform, first, parents=(second,))

    await platform.query(f'mutation {{ result: deleteTenants(in: ["{first}"]) }}')

    assert await platform.error_codes(by_external_id(second)) == ["NOT_FOUND"]


async def test_at_most_500_tenants_are_deleted_per_call(platform: Operator) -> None:
    ids = ", ".join(f'"{external()}"' for _ in range(501))

    assert await platform.error_codes(f"mutation {{ result: deleteTenants(in: [{ids}]) }}") == ["INVALID_INPUT"]


async def test_the_tenants_page_lists_every_tenant_for_a_holder_of_tenant_write_only(
    platform: Operator, operator: Operator
) -> None:
    external_id = external()
    await written(platform, external_id)
    document = f'query {{ result: tenants(searchTerm: "{external_id}") {{ data {{ id }} totalCount }} }}'

    assert (await platform.query(document))["result"]["data"] == [{"id": external_id}]
    assert (await operator.query(document))["result"]["totalCount"] == 0


async def test_a_page_of_tenants_costs_the_same_statements_for_1_and_5_tenants(
    platform: Operator, database: Database
) -> None:
    prefix = uuid.uuid4().hex
    parent = external()
    await written(platform, parent)
    for index in range(5):
        await written(platform, f"{prefix}-{index}", parents=(parent,))
    document = 'query {{ result: tenants(first: {}, searchTerm: "' + prefix + '") {{ data {{ ' + TENANT + " }} }} }}"

    with count_statements(database) as for_one:
        assert len((await platform.query(document.format(1)))["result"]["data"]) == 1
    with count_statements(database) as for_five:
        assert len((await platform.query(document.format(5)))["result"]["data"]) == 5

    assert len(for_one) == len(for_five)
