"""Watchers in the Director: a tenant's operators manage the tenant's, the global ones (built in, or the platform
operator's ``compass watchers``) are read only, and a tenant's runtimes read the global ones and their tenant's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from director.watcher.models import Watcher
from kernel.db import Database
from kernel.settings import Settings
from tests.connector.support import Harness, harness
from tests.fixtures.servers import StartServer
from tests.support import Operator
from tests.test_cli import compass

WATCHER_FIELDS = "id name module resourceToWatch { group version resource } labelsToWatch field global"
WATCHERS = f"query {{ result: watchers {{ {WATCHER_FIELDS} }} }}"
CREATE = f"mutation ($in: WatcherInput!) {{ result: createWatcher(in: $in) {{ {WATCHER_FIELDS} }} }}"
DELETE = "mutation ($id: ID!) { result: deleteWatcher(id: $id) { id } }"
BUILT_IN = {"compass-runtime-agent-applications", "compass-runtime-agent-compassconnections"}


def watcher_input(name: str = "orders", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "module": "orders-operator",
        "resourceToWatch": {"group": "shop.example.com", "version": "v1", "resource": "orders"},
        **changes,
    }


def codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors") or []]


@pytest.fixture
async def server(start_server: StartServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(start_server(), database, tmp_path) as subject:
        yield subject


async def ids_of(operator: Operator) -> list[str]:
    return [watcher["id"] for watcher in (await operator.query(WATCHERS))["result"]]


async def test_a_new_tenant_reads_the_built_in_watchers(server: Harness) -> None:
    operator = await server.operator()

    watchers = {watcher["id"]: watcher for watcher in (await operator.query(WATCHERS))["result"]}

    assert set(watchers) >= BUILT_IN
    applications = watchers["compass-runtime-agent-applications"]
    assert applications == {
        "id": "compass-runtime-agent-applications",
        "name": "compass-runtime-agent-applications",
        "module": "compass-runtime-agent",
        "resourceToWatch": {"group": "applicationconnector.kyma-project.io", "version": "v1alpha1", "resource": "applications"},
        "labelsToWatch": {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"},
        "field": "SPEC",
        "global": True,
    }  # fmt: skip
    connections = watchers["compass-runtime-agent-compassconnections"]
    assert connections["resourceToWatch"]["resource"] == "compassconnections"
    assert connections["labelsToWatch"] is None


async def test_a_created_watcher_is_answered_and_listed_after_the_global_ones(server: Harness) -> None:
    # given
    operator = await server.operator()
    labels = {"app.kubernetes.io/part-of": "shop"}

    # when
    created = (await operator.query(CREATE, {"in": watcher_input(labelsToWatch=labels, field="STATUS")}))["result"]

    # then
    assert created["global"] is False
    assert (created["name"], created["module"], created["field"], created["labelsToWatch"]) == (
        "orders", "orders-operator", "STATUS", labels
    )  # fmt: skip
    listed = await ids_of(operator)
    assert listed[-1] == created["id"]
    assert set(listed[:-1]) >= BUILT_IN


async def test_field_defaults_to_spec_and_the_core_group_is_empty(server: Harness) -> None:
    operator = await server.operator()
    core = {"group": "", "version": "v1", "resource": "configmaps"}

    created = (await operator.query(CREATE, {"in": watcher_input(resourceToWatch=core)}))["result"]

    assert (created["field"], created["resourceToWatch"]) == ("SPEC", core)


async def test_a_tenant_deletes_its_watcher(server: Harness) -> None:
    operator = await server.operator()
    created = (await operator.query(CREATE, {"in": watcher_input()}))["result"]

    deleted = (await operator.query(DELETE, {"id": created["id"]}))["result"]

    assert deleted == {"id": created["id"]}
    assert created["id"] not in await ids_of(operator)


async def test_another_tenants_watcher_is_neither_listed_nor_deletable(server: Harness) -> None:
    # given
    owner, intruder = await server.operator(), await server.operator()
    created = (await owner.query(CREATE, {"in": watcher_input()}))["result"]

    # when
    listed = await ids_of(intruder)
    deleted = await intruder.execute(DELETE, {"id": created["id"]})

    # then
    assert created["id"] not in listed
    assert codes(deleted) == ["NOT_FOUND"]
    assert created["id"] in await ids_of(owner)


async def test_the_same_name_is_a_conflict_in_one_tenant_and_free_in_another(server: Harness) -> None:
    first, second = await server.operator(), await server.operator()
    await first.query(CREATE, {"in": watcher_input()})

    again = await first.execute(CREATE, {"in": watcher_input()})
    elsewhere = await second.execute(CREATE, {"in": watcher_input()})

    assert codes(again) == ["CONFLICT"]
    assert codes(elsewhere) == []


async def test_a_tenant_past_the_watcher_limit_is_refused_until_it_deletes_one(
    start_server: StartServer, database: Database, tmp_path: Path
) -> None:
    async with harness(start_server(max_watchers=3), database, tmp_path) as limited:
        operator = await limited.operator()
        created = [(await operator.query(CREATE, {"in": watcher_input(f"w{n}")}))["result"]["id"] for n in range(3)]

        refused = await operator.execute(CREATE, {"in": watcher_input("one-more")})
        await operator.query(DELETE, {"id": created[0]})
        accepted = await operator.execute(CREATE, {"in": watcher_input("one-more")})

    assert codes(refused) == ["WATCHER_LIMIT_REACHED"]
    assert codes(accepted) == []


@pytest.mark.parametrize("built_in", sorted(BUILT_IN))
async def test_a_built_in_watcher_cannot_be_deleted(server: Harness, built_in: str) -> None:
    operator = await server.operator()

    answer = await operator.execute(DELETE, {"id": built_in})

    assert codes(answer) == ["GLOBAL_WATCHER"]
    assert built_in in await ids_of(operator)


@pytest.mark.parametrize(
    "changes",
    [
        {"module": "Orders_Operator"},
        {"module": "-orders"},
        {"name": ""},
        {"name": "orders.v1"},
        {"resourceToWatch": {"group": "shop.example.com", "version": "", "resource": "orders"}},
        {"resourceToWatch": {"group": "shop.example.com", "version": "v1", "resource": ""}},
        {"labelsToWatch": {"tier": 1}},
        {"labelsToWatch": {"tier": ["a"]}},
        {"labelsToWatch": {"tier:front": "a"}},
        {"labelsToWatch": {"Shop.Example.com/tier": "a"}},
        {"labelsToWatch": {"/tier": "a"}},
        {"labelsToWatch": {"tier": "front/end"}},
        {"labelsToWatch": {"tier": "-front"}},
    ],
    ids=[
        "module-case", "module-dash", "no-name", "name-not-a-label", "no-version", "no-resource", "label-int",
        "label-list", "label-key-colon", "label-prefix-case", "label-empty-prefix", "label-value-slash",
        "label-value-dash",
    ],
)
async def test_an_invalid_watcher_is_refused_as_invalid_input(server: Harness, changes: dict[str, Any]) -> None:
    operator = await server.operator()

    answer = await operator.execute(CREATE, {"in": watcher_input(**changes)})

    assert codes(answer) == ["INVALID_INPUT"]


async def test_an_operator_without_runtime_scopes_neither_reads_nor_writes_watchers(server: Harness) -> None:
    operator = await server.operator(scopes=["application:read"])

    read = await operator.execute(WATCHERS)
    written = await operator.execute(CREATE, {"in": watcher_input()})

    assert codes(read) == codes(written) == ["FORBIDDEN"]


async def test_a_runtime_reads_the_global_watchers_and_its_tenants_only(server: Harness) -> None:
    # given: a watcher in the runtime's tenant and one in another tenant
    operator, other = await server.operator(), await server.operator()
    own = (await operator.query(CREATE, {"in": watcher_input("own")}))["result"]
    foreign = (await other.query(CREATE, {"in": watcher_input("foreign")}))["result"]
    runtime = await server.connect_runtime(operator)

    # when
    answer = await server.director(server.mtls(runtime.credentials), WATCHERS)

    # then
    ids = {watcher["id"] for watcher in answer.result}
    assert ids >= {*BUILT_IN, own["id"]}
    assert foreign["id"] not in ids


async def test_a_runtime_cannot_write_watchers(server: Harness) -> None:
    runtime = await server.connect_runtime(await server.operator())

    answer = await server.director(server.mtls(runtime.credentials), CREATE, {"in": watcher_input()})

    assert answer.codes == ["FORBIDDEN"]


async def test_an_applications_certificate_cannot_read_watchers(server: Harness) -> None:
    application = await server.connect_application(await server.operator())

    answer = await server.director(server.mtls(application.credentials), WATCHERS)

    assert answer.codes == ["FORBIDDEN"]


async def test_a_runtime_polling_with_its_etag_gets_a_new_watcher_at_once(server: Harness) -> None:
    """The agent's watchers query is answered from the runtime's cached view: a new watcher must change it."""
    # given: the runtime's answer and its ETag
    operator = await server.operator()
    runtime = await server.connect_runtime(operator)
    client = server.mtls(runtime.credentials)
    first = await client.post("/director/graphql", json={"query": WATCHERS})
    etag = first.headers["etag"]
    unchanged = await client.post("/director/graphql", json={"query": WATCHERS}, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304

    # when
    created = (await operator.query(CREATE, {"in": watcher_input()}))["result"]

    # then
    again = await client.post("/director/graphql", json={"query": WATCHERS}, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert created["id"] in {watcher["id"] for watcher in again.json()["data"]["result"]}


# --- the platform operator's global watchers (`compass watchers`) -------------------------------------------


async def test_a_global_watcher_from_the_cli_is_every_tenants_and_only_the_cli_deletes_it(
    server: Harness, settings: Settings, tmp_path: Path
) -> None:
    # given: a runtime of some tenant has its view cached
    operator = await server.operator()
    runtime = await server.connect_runtime(operator)
    client = server.mtls(runtime.credentials)
    etag = (await client.post("/director/graphql", json={"query": WATCHERS})).headers["etag"]
    url = settings.effective_database_url

    # when: the platform operator creates one
    created = compass(
        tmp_path, "watchers", "create", "--global", "--name", "cluster-roles", "--module", "rbac-auditor",
        "--group", "rbac.authorization.k8s.io", "--version", "v1", "--resource", "clusterroles",
        "--label", "audit=true", "--field", "status", COMPASS_DATABASE_URL=url,
    )  # fmt: skip

    # then: it is listed, every tenant's runtime sees it at once, and no tenant deletes it
    assert created.returncode == 0, created.stderr
    watcher_id = created.stdout.split("\t")[0]
    assert created.stdout.strip().split("\t")[1:] == [
        "cluster-roles", "rbac-auditor", "rbac.authorization.k8s.io/v1/clusterroles", "status", "audit=true"
    ]  # fmt: skip
    listed = compass(tmp_path, "watchers", "list", COMPASS_DATABASE_URL=url)
    assert {line.split("\t")[0] for line in listed.stdout.splitlines()} >= {*BUILT_IN, watcher_id}
    polled = await client.post("/director/graphql", json={"query": WATCHERS}, headers={"If-None-Match": etag})
    seen = {watcher["id"]: watcher for watcher in polled.json()["data"]["result"]}
    assert (seen[watcher_id]["global"], seen[watcher_id]["field"]) == (True, "STATUS")
    assert codes(await (await server.operator()).execute(DELETE, {"id": watcher_id})) == ["GLOBAL_WATCHER"]

    # and the CLI deletes it, but not a built-in one
    assert compass(tmp_path, "watchers", "delete", watcher_id, COMPASS_DATABASE_URL=url).returncode == 0
    assert watcher_id not in await ids_of(operator)
    built_in = compass(tmp_path, "watchers", "delete", "compass-runtime-agent-applications", COMPASS_DATABASE_URL=url)
    assert built_in.returncode == 1
    assert "built in" in built_in.stderr


async def test_two_global_watchers_of_one_name_are_refused_by_the_database_itself(database: Database) -> None:
    # given: two platform operators at once, past the service's check of the name (NULL tenants are never equal
    # in the (tenant, name) constraint, so the global names have an index of their own)
    watchers = [
        Watcher(tenant_id=None, name="audit", module="auditor", group="", version="v1", resource="pods", field="SPEC")
        for _ in range(2)
    ]

    # when / then
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add_all(watchers)
            await session.flush()


@pytest.mark.backend_independent("the command refuses before it opens the database")
def test_the_cli_makes_only_global_watchers(tmp_path: Path, settings: Settings) -> None:
    refused = compass(
        tmp_path, "watchers", "create", "--name", "x", "--module", "m", "--version", "v1", "--resource", "pods",
        COMPASS_DATABASE_URL=settings.effective_database_url,
    )  # fmt: skip

    assert refused.returncode == 2
    assert "--global" in refused.stderr
