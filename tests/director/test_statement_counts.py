"""Pinned SQL statement counts: a list query costs the same for 1 application as for many (STYLE habit 5).

The numbers are exact on purpose: a change that adds a statement per request shows up here, to be argued for.
"""

from __future__ import annotations

from typing import Any

from kernel.db import Database
from testing.statements import count_statements
from tests.director.test_applications_for_runtime import (
    agent_sync_query,
    bundle_input,
    register_application,
    register_runtime,
)
from tests.support import Operator

APPLICATIONS_WITH_BUNDLES = """
query {
  result: applications(first: 200) {
    data {
      id name labels
      auths { id }
      bundles {
        data {
          id name
          apiDefinitions { data { id name targetURL spec { type format } } totalCount }
          eventDefinitions { data { id name } totalCount }
          defaultInstanceAuth { credential { ... on BasicCredentialData { username password } } }
        }
        totalCount
      }
    }
    pageInfo { startCursor endCursor hasNextPage }
    totalCount
  }
}
"""

# One agent poll: the runtime for runtime(id); the runtime again and its scenarios label for
# applicationsForRuntime; count and page of applications; then one per loader: runtime labels (shared by
# runtime.labels and the isNormalized check), application labels, auths, bundles, API and event definitions.
AGENT_SYNC_STATEMENTS = 9
# Count and page of applications, then one per loader: labels, auths, bundles, API and event definitions.
APPLICATIONS_STATEMENTS = 7

BUNDLES_PER_APPLICATION = 3
# "Many" needs only to be more than one and within one page: a statement per row would add 9 here, and the
# loaders batch without a size limit, so 50 would prove no more than 10 and seed five times as long.
MANY = 10


async def seed_applications(operator: Operator, indexes: range) -> None:
    """Applications in DEFAULT, each with 1 auth and 3 bundles of 2 APIs, 1 event definition, basic credentials."""
    for index in indexes:
        await register_application(
            operator,
            f"app-{index:03}",
            scenarios=["DEFAULT"],
            bundles=[bundle_input(bundle) for bundle in range(BUNDLES_PER_APPLICATION)],
            auth=True,
        )


async def run_counted(
    operator: Operator, database: Database, document: str
) -> tuple[dict[str, Any], list[str]]:
    with count_statements(database) as statements:
        data = await operator.query(document)
    return data, list(statements)


def describe(statements: list[str]) -> str:
    return "\n\n".join(statements)


async def test_the_agent_sync_query_costs_the_same_for_1_and_many_applications(
    operator: Operator, database: Database
) -> None:
    # given a runtime that sees one application
    runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
    await seed_applications(operator, range(1))
    # when
    one, with_one = await run_counted(operator, database, agent_sync_query(runtime_id))
    await seed_applications(operator, range(1, MANY))
    many, with_many = await run_counted(operator, database, agent_sync_query(runtime_id))
    # then
    assert one["result"]["totalCount"] == 1
    assert many["result"]["totalCount"] == MANY
    bundle_counts = {len(application["bundles"]["data"]) for application in many["result"]["data"]}
    assert bundle_counts == {BUNDLES_PER_APPLICATION}
    assert len(with_one) == AGENT_SYNC_STATEMENTS, describe(with_one)
    assert len(with_many) == AGENT_SYNC_STATEMENTS, describe(with_many)


async def test_applications_with_bundles_cost_the_same_for_1_and_many_applications(
    operator: Operator, database: Database
) -> None:
    # given
    await seed_applications(operator, range(1))
    # when
    one, with_one = await run_counted(operator, database, APPLICATIONS_WITH_BUNDLES)
    await seed_applications(operator, range(1, MANY))
    many, with_many = await run_counted(operator, database, APPLICATIONS_WITH_BUNDLES)
    # then
    assert one["result"]["totalCount"] == 1
    assert many["result"]["totalCount"] == MANY
    assert len(with_one) == APPLICATIONS_STATEMENTS, describe(with_one)
    assert len(with_many) == APPLICATIONS_STATEMENTS, describe(with_many)
