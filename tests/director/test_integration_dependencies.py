"""Integration dependencies with aspects: Compass's validation and defaults, deletion, and their nested lists
read in a constant number of statements."""

from __future__ import annotations

import pytest

from kernel.db import Database
from testing.statements import count_statements
from tests.director.examples.test_applications import add_dependency, register
from tests.support import Operator

ADD = (
    'mutation { result: addIntegrationDependencyToApplication(appID: "%s", in: { %s }) '
    "{ id ordID partOfPackage visibility releaseStatus mandatory aspects { name } } }"
)
ORD_ID = 'ordID: ":integrationDependency:orders:v1"'
PAGE = """
query {
  result: applications(first: 200) {
    data {
      id
      integrationDependencies {
        data { id name aspects { name apiResources { ordID } eventResources { ordID subset { eventType } } } }
        totalCount
      }
    }
  }
}
"""


async def test_a_dependency_without_optional_fields_takes_compass_defaults(operator: Operator) -> None:
    # given
    application = await register(operator)
    # when
    data = await operator.query(ADD % (application["id"], f'name: "orders" {ORD_ID}'))
    # then
    result = data["result"]
    assert (result["visibility"], result["releaseStatus"], result["mandatory"]) == ("public", "active", False)
    assert result["partOfPackage"] == ":package:manuallyAddedIntegrationDependencies:v1"
    assert result["aspects"] == []


async def test_a_package_the_application_has_is_accepted(operator: Operator) -> None:
    # given
    application = await register(operator)
    first = (await operator.query(ADD % (application["id"], f'name: "a" {ORD_ID}')))["result"]
    # when
    data = await operator.query(
        ADD % (application["id"], f'name: "b" {ORD_ID} partOfPackage: "{first["partOfPackage"]}"')
    )
    # then
    assert data["result"]["partOfPackage"] == first["partOfPackage"]


async def test_an_unknown_package_is_refused(operator: Operator) -> None:
    # given
    application = await register(operator)
    # when
    codes = await operator.error_codes(ADD % (application["id"], f'name: "a" {ORD_ID} partOfPackage: "nope"'))
    # then
    assert codes == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "fields",
    [
        'name: "a" ordID: "orders"',
        f'name: "a" {ORD_ID} visibility: "secret"',
        f'name: "a" {ORD_ID} releaseStatus: "gone"',
        f'name: "a" {ORD_ID} description: ""',
        f'name: "\\u00e4" {ORD_ID}',
        f'name: "a" {ORD_ID} aspects: [{{ name: "x", apiResources: [{{ ordId: "ns:api:x:v1" }}] }}]',
        f'name: "a" {ORD_ID} aspects: [{{ name: "x", eventResources: [{{ ordId: "ns:eventResource:x:1" }}] }}]',
        (
            f'name: "a" {ORD_ID} aspects: [{{ name: "x", eventResources: [{{ ordId: "ns:eventResource:x:v1", '
            'subset: [{ eventType: "created" }] }] }]'
        ),
    ],
    ids=["ord id", "visibility", "release status", "empty description", "not ASCII", "api resource",
         "event resource", "event type"],
)
async def test_what_compass_refuses_is_refused(operator: Operator, fields: str) -> None:
    # given
    application = await register(operator)
    # when
    codes = await operator.error_codes(ADD % (application["id"], fields))
    # then
    assert codes == ["INVALID_INPUT"]


async def test_a_deleted_dependency_is_gone_from_its_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    dependency = await add_dependency(operator, application["id"])
    # when
    await operator.query(f'mutation {{ result: deleteIntegrationDependency(id: "{dependency["id"]}") {{ id }} }}')
    # then
    data = await operator.query(
        f'query {{ result: application(id: "{application["id"]}") {{ integrationDependencies {{ totalCount }} }} }}'
    )
    assert data["result"]["integrationDependencies"] == {"totalCount": 0}


async def test_deleting_a_missing_dependency_is_not_found(operator: Operator) -> None:
    codes = await operator.error_codes(
        'mutation { result: deleteIntegrationDependency(id: "00000000-0000-0000-0000-000000000000") { id } }'
    )

    assert codes == ["NOT_FOUND"]


# Count and page of applications, then one per loader: integration dependencies, aspects, their event resources.
APPLICATIONS_WITH_DEPENDENCIES_STATEMENTS = 5


async def test_a_page_of_applications_with_dependencies_costs_the_same_for_1_and_5(
    operator: Operator, database: Database
) -> None:
    # given
    await add_dependency(operator, (await register(operator))["id"])
    with count_statements(database) as one:
        await operator.query(PAGE)
    for _ in range(4):
        await add_dependency(operator, (await register(operator))["id"])
    # when
    with count_statements(database) as five:
        data = await operator.query(PAGE)
    # then
    assert len(data["result"]["data"]) == 5
    assert len(one) == len(five) == APPLICATIONS_WITH_DEPENDENCIES_STATEMENTS, "\n\n".join(five)
