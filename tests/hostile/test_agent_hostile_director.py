"""The Runtime Agent against a Director that answers what it should not (issue 9).

The agent connects for real (tests/agent's landscape: a pycompass server, its Connector, a runtime in a
formation); its DirectorClient is then aimed at a stand-in Director over real HTTP on 127.0.0.1 that answers
what a pycompass Director no longer gives:

- two applications with one resource name ("shop" and "SHOP" are both ``mp-shop`` to a normalized runtime):
  the agent used to replace the working application's resource with the other's, delete its credentials
  Secret, and report ``Synchronized``;
- ``hasNextPage: true`` without end: the agent used to ask for pages forever (21,645 in 5 s).
"""

from __future__ import annotations

import copy
from typing import Any

from agent.director_client import PAGE_SIZE
from agent.status import ConnectionState
from tests.agent.support import Landscape, Pages, StandInDirector, last_page
from tests.agent.test_resources import APPLICATION_ID, SHOP

TWIN_ID = "5e6f7a8b-0000-4000-8000-00000000beef"
# A client without a page limit stops when the stand-in finally ends the sequence: the count shows it.
STAND_IN_GIVES_UP_AFTER = 40


def twin_of(application: dict[str, Any], identifier: str) -> dict[str, Any]:
    """Another application under the same normalized name ("SHOP" beside "shop"), with bundles of its own."""
    twin = copy.deepcopy(application)
    twin["id"] = identifier
    for bundle in twin["bundles"]["data"]:
        bundle["id"] = f"{identifier[:8]}-{bundle['id'][9:]}"
        credential = (bundle.get("defaultInstanceAuth") or {}).get("credential") or {}
        credential.update(dict.fromkeys(credential, "intruder"))
    return twin


def application(number: int) -> dict[str, Any]:
    identifier = f"app-{number}"
    return {
        "id": identifier,
        "name": f"mp-{identifier}",
        "description": None,
        "auths": [],
        "bundles": last_page([]),
    }


async def sync(landscape: Landscape, director: StandInDirector) -> Any:
    async with landscape.agent(director_factory=director.factory()) as agent:
        return await agent.run_once()


# --- two applications, one resource name -------------------------------------------------------------------


async def test_a_colliding_application_does_not_replace_the_existing_resource_nor_delete_its_secret(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given "shop" synced into the runtime
    stand_in_director.answer([SHOP])
    assert (await sync(landscape, stand_in_director)).state is ConnectionState.SYNCHRONIZED
    applications, secrets = landscape.manifests("application"), landscape.manifests("secret")
    assert list(applications) == ["application-mp-shop.yaml"]
    assert secrets

    # when the Director shows "SHOP" too, first (as its name order puts it), and an unrelated application
    stand_in_director.answer([twin_of(SHOP, TWIN_ID), SHOP, application(1)])
    outcome = await sync(landscape, stand_in_director)

    # then "shop" keeps its resource and Secrets as they were, the rest is applied, the conflict reported
    after = landscape.manifests("application")
    assert sorted(after) == ["application-mp-app-1.yaml", "application-mp-shop.yaml"]
    assert after["application-mp-shop.yaml"] == applications["application-mp-shop.yaml"]
    assert landscape.manifests("secret") == secrets
    assert outcome.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    error = record.synchronization_status.error or ""
    assert f"applications {TWIN_ID}, {APPLICATION_ID} would all be Application/mp-shop" in error
    assert f"the existing resource of {APPLICATION_ID} is kept" in error


async def test_colliding_applications_none_of_which_exists_are_none_of_them_created(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given
    stand_in_director.answer([twin_of(SHOP, TWIN_ID), SHOP])

    # when
    outcome = await sync(landscape, stand_in_director)

    # then
    assert landscape.manifests("application") == {}
    assert landscape.manifests("secret") == {}
    assert outcome.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    assert "none of them is applied" in (outcome.error or "")


async def test_the_conflict_is_reported_again_by_a_sync_with_nothing_to_write(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given
    stand_in_director.answer([SHOP])
    await sync(landscape, stand_in_director)
    stand_in_director.answer([SHOP, twin_of(SHOP, TWIN_ID)])
    await sync(landscape, stand_in_director)
    before = landscape.stats()

    # when
    outcome = await sync(landscape, stand_in_director)

    # then
    assert landscape.stats() == before
    assert outcome.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    assert "would all be Application/mp-shop" in (outcome.error or "")


# --- pages without end -----------------------------------------------------------------------------------


def endless(total: int, per_page: int) -> Pages:
    """Page n holds ``per_page`` new applications and says more follow, until the stand-in gives up."""

    def page(number: int) -> dict[str, Any]:
        applications = [application(number * per_page + index) for index in range(per_page)]
        more = number < STAND_IN_GIVES_UP_AFTER
        info = {"startCursor": "", "endCursor": f"page-{number}" if more else "", "hasNextPage": more}
        return {"data": applications, "pageInfo": info, "totalCount": total}

    return page


async def test_a_director_that_always_has_a_next_page_is_given_total_count_over_page_size_plus_one_pages(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given 450 applications counted, in full pages of 200 that never end
    stand_in_director.pages = endless(450, PAGE_SIZE)

    # when
    outcome = await sync(landscape, stand_in_director)

    # then
    assert stand_in_director.pages_served == 450 // PAGE_SIZE + 1
    assert outcome.state is ConnectionState.SYNCHRONIZATION_FAILED
    assert "still says more pages follow after 3 pages" in (outcome.error or "")
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.SYNCHRONIZATION_FAILED
    assert landscape.manifests("application") == {}


async def test_endless_empty_pages_are_given_up_at_the_first_even_with_a_huge_total_count(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # given a count that would allow ten million pages
    stand_in_director.pages = endless(2_000_000_000, 0)

    # when
    outcome = await sync(landscape, stand_in_director)

    # then
    assert stand_in_director.pages_served == 1
    assert outcome.state is ConnectionState.SYNCHRONIZATION_FAILED
    assert "holds no application" in (outcome.error or "")
