"""Bundle instance auths the caller sets itself (createBundleInstanceAuth...), as Compass's flow has them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Literal

from kernel.principal import ALL_SCOPES, Scope
from tests.support import Operator, TenantFactory

SCHEMA = json.dumps({"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string"}}})
REGISTER = """
mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { bundles { data { id } } } }
"""
CREATE = """
mutation ($bundle: ID!, $in: BundleInstanceAuthCreateInput!) {
  result: createBundleInstanceAuth(bundleID: $bundle, in: $in) { id status { condition } runtimeID }
}
"""
UPDATE = """
mutation ($id: ID!, $bundle: ID!, $in: BundleInstanceAuthUpdateInput!) {
  result: updateBundleInstanceAuth(id: $id, bundleID: $bundle, in: $in) { id inputParams }
}
"""
DELETE = "mutation ($id: ID!) { result: deleteBundleInstanceAuth(authID: $id) { id } }"
BUNDLE = "query ($id: ID!) { result: bundleByInstanceAuth(authID: $id) { id } }"
AUTH = {"credential": {"basic": {"username": "admin", "password": "secret"}}}


async def bundle(operator: Operator, *, schema: str | None = None) -> str:
    given: dict[str, Any] = {"name": "orders"} | ({"instanceAuthRequestInputSchema": schema} if schema else {})
    data = await operator.query(REGISTER, {"in": {"name": f"shop-{uuid.uuid4().hex[:6]}", "bundles": [given]}})
    return str(data["result"]["bundles"]["data"][0]["id"])


async def runtime(operator: Operator) -> str:
    data = await operator.query(
        "mutation ($name: String!) { result: registerRuntime(in: { name: $name }) { id } }",
        {"name": f"kyma-{uuid.uuid4().hex[:6]}"},
    )
    return str(data["result"]["id"])


async def client_of(operator: Operator, kind: Literal["Application", "Runtime"], object_id: str) -> Operator:
    """The application's or runtime's own caller: a token from OAuth client credentials issued for it."""
    issued = await operator.query(
        f"mutation ($id: ID!) {{ result: requestClientCredentialsFor{kind}(id: $id) {{"
        " auth { credential { ... on OAuthCredentialData { clientId clientSecret } } } } }",
        {"id": object_id},
    )
    credential = issued["result"]["auth"]["credential"]
    pair = base64.b64encode(f"{credential['clientId']}:{credential['clientSecret']}".encode()).decode()
    response = await operator.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {pair}"}
    )
    return Operator(operator.client, operator.tenant_id, response.json()["access_token"])


async def created(operator: Operator, bundle_id: str, **given: Any) -> dict[str, Any]:
    data = await operator.query(CREATE, {"bundle": bundle_id, "in": {"auth": AUTH, **given}})
    return dict(data["result"])


async def test_created_credentials_succeed_at_once_even_without_a_default_auth(operator: Operator) -> None:
    auth = await created(operator, await bundle(operator), runtimeID=await runtime(operator))

    assert auth["status"]["condition"] == "SUCCEEDED"


async def test_create_needs_exactly_one_consumer(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle(operator), await runtime(operator)

    neither = await operator.error_codes(CREATE, {"bundle": bundle_id, "in": {"auth": AUTH}})
    both = {"auth": AUTH, "runtimeID": runtime_id, "runtimeContextID": str(uuid.uuid4())}

    assert neither == ["INVALID_INPUT"]
    assert await operator.error_codes(CREATE, {"bundle": bundle_id, "in": both}) == ["INVALID_INPUT"]


async def test_a_runtime_context_cannot_hold_an_instance_auth_here(operator: Operator) -> None:
    given = {"auth": AUTH, "runtimeContextID": str(uuid.uuid4())}

    assert await operator.error_codes(CREATE, {"bundle": await bundle(operator), "in": given}) == ["INVALID_INPUT"]


async def test_create_checks_input_params_against_the_bundles_schema(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle(operator, schema=SCHEMA), await runtime(operator)
    wrong = {"auth": AUTH, "runtimeID": runtime_id, "inputParams": json.dumps({"plan": 1})}

    assert await operator.error_codes(CREATE, {"bundle": bundle_id, "in": wrong}) == ["INVALID_INPUT"]
    assert (await created(operator, bundle_id, runtimeID=runtime_id, inputParams='{"plan": "big"}'))["id"]


async def test_create_for_another_tenants_runtime_is_not_found(operator: Operator, tenants: TenantFactory) -> None:
    foreign = await runtime(await tenants.operator())
    given = {"bundle": await bundle(operator), "in": {"auth": AUTH, "runtimeID": foreign}}

    assert await operator.error_codes(CREATE, given) == ["NOT_FOUND"]


async def test_update_checks_input_params_and_keeps_what_is_not_given(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle(operator, schema=SCHEMA), await runtime(operator)
    auth = await created(operator, bundle_id, runtimeID=runtime_id, inputParams='{"plan": "big"}')
    variables = {"id": auth["id"], "bundle": bundle_id}

    refused = await operator.error_codes(UPDATE, {**variables, "in": {"inputParams": "{}"}})
    kept = await operator.query(UPDATE, {**variables, "in": {"context": '{"ns": "prod"}'}})

    assert refused == ["INVALID_INPUT"]
    assert kept["result"]["inputParams"] == '{"plan": "big"}'


async def test_update_names_the_bundle_the_auth_belongs_to(operator: Operator) -> None:
    auth = await created(operator, await bundle(operator), runtimeID=await runtime(operator))

    codes = await operator.error_codes(UPDATE, {"id": auth["id"], "bundle": await bundle(operator), "in": {}})

    assert codes == ["NOT_FOUND"]


async def test_delete_removes_credentials_whatever_their_status(operator: Operator) -> None:
    bundle_id = await bundle(operator)
    pending = await operator.query(
        "mutation ($b: ID!) { result: requestBundleInstanceAuthCreation(bundleID: $b, in: {}) { id } }",
        {"b": bundle_id},
    )

    await operator.query(DELETE, {"id": pending["result"]["id"]})

    assert (await operator.query(BUNDLE, {"id": pending["result"]["id"]}))["result"] is None


async def test_another_tenants_instance_auth_answers_like_a_missing_one(
    operator: Operator, tenants: TenantFactory
) -> None:
    other = await tenants.operator()
    auth = await created(other, await bundle(other), runtimeID=await runtime(other))

    assert (await operator.query(BUNDLE, {"id": auth["id"]}))["result"] is None
    assert await operator.error_codes(DELETE, {"id": auth["id"]}) == ["NOT_FOUND"]
    assert await operator.error_codes(DELETE, {"id": str(uuid.uuid4())}) == ["NOT_FOUND"]


async def test_create_and_update_need_the_bundle_instance_auth_scope(tenants: TenantFactory) -> None:
    operator = await tenants.operator(scopes=sorted(ALL_SCOPES - {Scope.BUNDLE_INSTANCE_AUTH_WRITE}))
    bundle_id, runtime_id = await bundle(operator), await runtime(operator)
    given = {"bundle": bundle_id, "in": {"auth": AUTH, "runtimeID": runtime_id}}

    assert await operator.error_codes(CREATE, given) == ["FORBIDDEN"]
    assert await operator.error_codes(UPDATE, {"id": str(uuid.uuid4()), "bundle": bundle_id, "in": {}}) == ["FORBIDDEN"]


async def test_the_runtime_sees_credentials_created_for_it(operator: Operator) -> None:
    runtime_id = await runtime(operator)
    await operator.query(
        'mutation ($id: ID!) { result: setRuntimeLabel(runtimeID: $id, key: "scenarios", value: ["DEFAULT"]) { key } }',
        {"id": runtime_id},
    )
    data = await operator.query(REGISTER, {"in": {"name": "seen", "labels": {"scenarios": ["DEFAULT"]},
                                                  "bundles": [{"name": "orders"}]}})  # fmt: skip
    bundle_id = data["result"]["bundles"]["data"][0]["id"]

    auth = await created(operator, bundle_id, runtimeID=runtime_id)

    seen = await operator.query(
        "query ($id: ID!) { result: applicationsForRuntime(runtimeID: $id) { data { bundles { data { instanceAuths { id } } } } } }",
        {"id": runtime_id},
    )
    assert seen["result"]["data"][0]["bundles"]["data"][0]["instanceAuths"] == [{"id": auth["id"]}]


async def two_applications_auths(operator: Operator) -> tuple[str, list[dict[str, Any]], str]:
    """Two applications' bundles, one instance auth each for one runtime: (first application id, auths, runtime)."""
    runtime_id = await runtime(operator)
    registered = [
        await operator.query(
            'mutation ($n: String!) { result: registerApplication(in: { name: $n, bundles: [{ name: "b" }] }) '
            "{ id bundles { data { id } } } }",
            {"n": f"app-{uuid.uuid4().hex[:6]}"},
        )
        for _ in range(2)
    ]
    auths = [
        await created(operator, data["result"]["bundles"]["data"][0]["id"], runtimeID=runtime_id) for data in registered
    ]
    return registered[0]["result"]["id"], auths, runtime_id


async def test_an_application_deletes_the_instance_auths_of_its_own_bundles_only(operator: Operator) -> None:
    application_id, (own, foreign), _ = await two_applications_auths(operator)
    application = await client_of(operator, "Application", application_id)

    assert await application.error_codes(DELETE, {"id": foreign["id"]}) == ["FORBIDDEN"]
    assert (await application.query(DELETE, {"id": own["id"]}))["result"]["id"] == own["id"]


async def test_a_runtime_reads_the_bundle_of_its_own_instance_auths_only(operator: Operator) -> None:
    _, (own, _other), runtime_id = await two_applications_auths(operator)
    stranger_auth = await created(operator, await bundle(operator), runtimeID=await runtime(operator))
    caller = await client_of(operator, "Runtime", runtime_id)

    assert (await caller.query(BUNDLE, {"id": own["id"]}))["result"]["id"]
    assert await caller.error_codes(BUNDLE, {"id": stranger_auth["id"]}) == ["FORBIDDEN"]
    assert await caller.error_codes(DELETE, {"id": own["id"]}) == ["FORBIDDEN"]
