"""Tenant isolation: no query, mutation, filter or nested field reaches another tenant's objects.

The stateful property test drives random operations in two tenants against a model (isolation_model.py); the
examples below pin the nastiest cases down one by one.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given

# The model's asserts explain their failures only if pytest rewrites them, which it must do before the import.
pytest.register_assert_rewrite("tests.director.isolation_model")

from tests.director.isolation_model import (  # noqa: E402
    ACTORS,
    Operation,
    World,
    assert_answers_like_a_missing_id,
    error_codes,
    histories,
)
from tests.support import Operator, TenantFactory  # noqa: E402

REGISTER_APPLICATION = "mutation ($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }"
REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { registerRuntime(in: $in) { id } }"
CREATE_FORMATION = "mutation ($name: String!) { createFormation(formation: {name: $name}) { name } }"
ASSIGN_FORMATION = """
    mutation ($id: ID!, $type: FormationObjectType!, $name: String!) {
      assignFormation(objectID: $id, objectType: $type, formation: {name: $name}) { name }
    }"""
FILTERED = """
    query ($filter: [LabelFilter!]) {
      applications(filter: $filter) { totalCount data { id } }
      runtimes(filter: $filter) { totalCount data { id } }
    }"""
APPLICATIONS_FOR_RUNTIME = """
    query ($id: ID!) { applicationsForRuntime(runtimeID: $id) { totalCount data { id name } } }"""
SET_APPLICATION_LABEL = """
    mutation ($id: ID!, $key: String!, $value: Any!) {
      setApplicationLabel(applicationID: $id, key: $key, value: $value) { key value }
    }"""
APPLICATION_LABELS = "query ($id: ID!) { application(id: $id) { labels } }"
REQUEST_TOKEN_FOR_RUNTIME = """
    mutation ($id: ID!, $auth: ID) {
      requestOneTimeTokenForRuntime(id: $id, systemAuthID: $auth) { token }
    }"""
RUNTIME_AUTHS = "query ($id: ID!) { runtime(id: $id) { auths { id } } }"


async def register_application(operator: Operator, name: str, **fields: Any) -> str:
    data = await operator.query(REGISTER_APPLICATION, {"in": {"name": name, **fields}})
    return str(data["registerApplication"]["id"])


async def register_runtime(operator: Operator, name: str, **fields: Any) -> str:
    data = await operator.query(REGISTER_RUNTIME, {"in": {"name": name, **fields}})
    return str(data["registerRuntime"]["id"])


async def assign(operator: Operator, object_id: str, object_type: str, formation: str) -> None:
    await operator.query(ASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": formation})


@hypothesis.settings(
    # Each example is a whole history of requests in two fresh tenants: 10 keep the test to a few seconds.
    max_examples=10,
    deadline=None,
    database=None,
    derandomize=True,
    # No explain phase: it traces every line the server runs and makes a failing run take minutes longer.
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    # The fixtures are shared by the examples on purpose: each example works in two fresh tenants of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=histories)
async def test_each_tenant_sees_exactly_its_own_objects_whatever_both_tenants_do(
    tenants: TenantFactory, steps: list[Operation]
) -> None:
    # given
    world = await World.start(tenants)
    # when both tenants do the steps (each answer is checked against the model as it comes)
    for step in steps:
        await world.perform(step)
    # then each tenant sees exactly its model, however it looks
    for actor in ACTORS:
        await world.check_snapshot(actor)
    for actor in ACTORS:
        await world.check_lookups(actor)


@pytest.mark.parametrize(
    "label_filter",
    [
        {"key": "only-b", "query": '"yes"'},
        {"key": "only-b"},
        {"key": "scenarios", "query": '$[*] ? (@ == "b-only")'},
    ],
    ids=["key-and-value", "key", "scenario"],
)
async def test_a_label_filter_matching_only_the_other_tenants_objects_finds_nothing(
    tenants: TenantFactory, label_filter: dict[str, str]
) -> None:
    # given
    a, b = await tenants.operator(), await tenants.operator()
    await b.query(CREATE_FORMATION, {"name": "b-only"})
    labels = {"only-b": "yes", "scenarios": ["b-only"]}
    await register_application(b, "shop", labels=labels)
    await register_runtime(b, "cluster", labels=labels)
    # when
    data = await a.query(FILTERED, {"filter": [label_filter]})
    # then
    assert data == {"applications": {"totalCount": 0, "data": []}, "runtimes": {"totalCount": 0, "data": []}}


async def test_applications_for_runtime_lists_only_its_tenants_applications_when_formation_names_collide(
    tenants: TenantFactory,
) -> None:
    # given: both tenants have a formation "shared" with applications in it
    a, b = await tenants.operator(), await tenants.operator()
    for operator in (a, b):
        await operator.query(CREATE_FORMATION, {"name": "shared"})
    runtime_id = await register_runtime(a, "cluster")
    await assign(a, runtime_id, "RUNTIME", "shared")
    own_id = await register_application(a, "mine")
    await assign(a, own_id, "APPLICATION", "shared")
    for name in ("mine", "theirs"):
        await assign(b, await register_application(b, name), "APPLICATION", "shared")
    # when
    data = await a.query(APPLICATIONS_FOR_RUNTIME, {"id": runtime_id})
    # then
    assert data == {"applicationsForRuntime": {"totalCount": 1, "data": [{"id": own_id, "name": "mp-mine"}]}}


async def test_setting_a_label_on_another_tenants_application_answers_not_found_and_keeps_its_labels(
    tenants: TenantFactory,
) -> None:
    # given
    a, b = await tenants.operator(), await tenants.operator()
    application_id = await register_application(b, "shop", labels={"env": "prod"})
    # when
    body = await a.execute(SET_APPLICATION_LABEL, {"id": application_id, "key": "env", "value": "dev"})
    # then
    assert error_codes(body) == ["NOT_FOUND"]
    labels = await b.query(APPLICATION_LABELS, {"id": application_id})
    assert labels == {"application": {"labels": {"env": "prod"}}}


async def test_setting_a_label_on_another_tenants_application_answers_like_a_missing_application(
    tenants: TenantFactory,
) -> None:
    # given
    a, b = await tenants.operator(), await tenants.operator()
    application_id = await register_application(b, "shop")

    def variables(object_id: str) -> dict[str, Any]:
        return {"id": object_id, "key": "env", "value": "dev"}

    # when
    body = await a.execute(SET_APPLICATION_LABEL, variables(application_id))
    # then
    await assert_answers_like_a_missing_id(a, SET_APPLICATION_LABEL, variables, application_id, body)


async def test_requesting_a_one_time_token_for_another_tenants_runtime_answers_not_found(
    tenants: TenantFactory,
) -> None:
    # given
    a, b = await tenants.operator(), await tenants.operator()
    runtime_id = await register_runtime(b, "cluster")

    def variables(object_id: str) -> dict[str, Any]:
        return {"id": object_id}

    # when
    body = await a.execute(REQUEST_TOKEN_FOR_RUNTIME, variables(runtime_id))
    # then: the same answer as for a runtime that does not exist, and no system auth for B's runtime
    assert error_codes(body) == ["NOT_FOUND"]
    await assert_answers_like_a_missing_id(a, REQUEST_TOKEN_FOR_RUNTIME, variables, runtime_id, body)
    assert await b.query(RUNTIME_AUTHS, {"id": runtime_id}) == {"runtime": {"auths": []}}


async def test_requesting_a_one_time_token_with_another_tenants_system_auth_answers_not_found(
    tenants: TenantFactory,
) -> None:
    # given: B's runtime has a system auth; A has a runtime of its own
    a, b = await tenants.operator(), await tenants.operator()
    their_runtime_id = await register_runtime(b, "cluster")
    await b.query(REQUEST_TOKEN_FOR_RUNTIME, {"id": their_runtime_id})
    [their_auth] = (await b.query(RUNTIME_AUTHS, {"id": their_runtime_id}))["runtime"]["auths"]
    own_runtime_id = await register_runtime(a, "cluster")

    def variables(auth_id: str) -> dict[str, Any]:
        return {"id": own_runtime_id, "auth": auth_id}

    # when
    body = await a.execute(REQUEST_TOKEN_FOR_RUNTIME, variables(their_auth["id"]))
    # then
    assert error_codes(body) == ["NOT_FOUND"]
    await assert_answers_like_a_missing_id(a, REQUEST_TOKEN_FOR_RUNTIME, variables, their_auth["id"], body)


async def test_a_formation_only_the_other_tenant_has_cannot_be_assigned(tenants: TenantFactory) -> None:
    # given
    a, b = await tenants.operator(), await tenants.operator()
    await b.query(CREATE_FORMATION, {"name": "b-only"})
    application_id = await register_application(a, "shop")
    # when
    by_label = await a.execute(
        SET_APPLICATION_LABEL, {"id": application_id, "key": "scenarios", "value": ["b-only"]}
    )
    by_formation = await a.execute(
        ASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": "b-only"}
    )
    # then: refused as for a formation that exists nowhere, and A's application is in no formation
    assert (error_codes(by_label), error_codes(by_formation)) == (["INVALID_INPUT"], ["NOT_FOUND"])
    assert await a.query(APPLICATION_LABELS, {"id": application_id}) == {"application": {"labels": {}}}
