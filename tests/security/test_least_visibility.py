"""More than needed is visible: credentials a caller may not read are null; one-time tokens answer to their owner's scope.

As Compass's `@sanitize`: a field whose scope the caller lacks answers null, without an error. Certificate clients
hold Compass's scopes of their consumer type: a runtime reads its own webhooks and bundles' instance auths, not an
application's webhooks; nobody but an operator with `webhooks.auth:read` reads a webhook's credentials.
"""

from __future__ import annotations

import uuid
from typing import Any

from director.models import BundleInstanceAuth
from tests.connector.support import CONFIGURATION, Harness
from tests.support import Operator, TenantFactory

WEBHOOK_PASSWORD = "hook-password"
BUNDLE_PASSWORD = "bundle-password"
BASIC = "credential { ... on BasicCredentialData { username password } }"
WEBHOOKS = f"webhooks {{ url auth {{ {BASIC} }} }}"
APPLICATIONS_FOR_RUNTIME = f"""
    query ($runtime: ID!) {{
      result: applicationsForRuntime(runtimeID: $runtime) {{
        data {{ id {WEBHOOKS} bundles {{ data {{ defaultInstanceAuth {{ {BASIC} }} }} }} }}
      }}
    }}"""
APPLICATION_WEBHOOKS = f"query ($id: ID!) {{ result: application(id: $id) {{ {WEBHOOKS} }} }}"
RUNTIME_WEBHOOKS = f"query ($id: ID!) {{ result: runtime(id: $id) {{ {WEBHOOKS} }} }}"
CREATE_FORMATION = "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { name } }"
REGISTER_APPLICATION = "mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }"
REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
APPLICATION_AUTHS = "query ($id: ID!) { result: application(id: $id) { auths { id } } }"
RUNTIME_AUTHS = "query ($id: ID!) { result: runtime(id: $id) { auths { id } } }"
INVALIDATE = "mutation ($id: ID!) { result: invalidateSystemAuthOneTimeToken(authID: $id) { id } }"


def hook(url: str) -> dict[str, Any]:
    basic = {"username": "hook", "password": WEBHOOK_PASSWORD}
    return {"type": "CONFIGURATION_CHANGED", "url": url, "auth": {"credential": {"basic": basic}}}


async def application_in_formation(operator: Operator) -> tuple[str, str]:
    """An application with a credentialed webhook and a bundle's default credentials, in a new formation."""
    formation = f"f{uuid.uuid4().hex[:10]}"
    await operator.query(CREATE_FORMATION, {"name": formation})
    bundle_auth = {"credential": {"basic": {"username": "bundle", "password": BUNDLE_PASSWORD}}}
    application = {
        "name": f"app{uuid.uuid4().hex[:10]}",
        "labels": {"scenarios": [formation]},
        "webhooks": [hook("https://app.example.com/hook")],
        "bundles": [{"name": "orders", "defaultInstanceAuth": bundle_auth}],
    }
    return (await operator.query(REGISTER_APPLICATION, {"in": application}))["result"]["id"], formation


async def scoped_operator(server: Harness, tenant_id: str, *scopes: str) -> Operator:
    return await TenantFactory(server.settings, server.database, server.http).operator(
        scopes=list(scopes), tenant_id=tenant_id
    )


# --- sanitized fields -------------------------------------------------------------------------------------


async def test_a_runtime_polling_applications_for_runtime_sees_no_application_webhooks(server: Harness) -> None:
    # given: an application with a credentialed webhook, and a runtime in its formation
    operator = await server.operator()
    application_id, formation = await application_in_formation(operator)
    runtime = await server.connect_runtime(operator, scenarios=[formation])

    # when
    answer = await server.director(
        server.mtls(runtime.credentials), APPLICATIONS_FOR_RUNTIME, {"runtime": runtime.object_id}
    )

    # then: no webhooks (Compass: application.webhooks:read), yet the bundle credentials the runtime needs
    [application] = answer.result["data"]
    assert application["id"] == application_id
    assert application["webhooks"] is None
    assert application["bundles"]["data"][0]["defaultInstanceAuth"]["credential"]["password"] == BUNDLE_PASSWORD
    assert WEBHOOK_PASSWORD not in str(answer.body)


async def test_a_runtime_sees_its_own_webhooks_without_their_credentials(server: Harness) -> None:
    # given
    operator = await server.operator()
    runtime_in = {"name": f"rt{uuid.uuid4().hex[:10]}", "webhooks": [hook("https://runtime.example.com/hook")]}
    runtime_id = (await operator.query(REGISTER_RUNTIME, {"in": runtime_in}))["result"]["id"]
    runtime = await server.connect(runtime_id, await server.runtime_token(operator, runtime_id))

    # when
    answer = await server.director(server.mtls(runtime.credentials), RUNTIME_WEBHOOKS, {"id": runtime_id})

    # then
    assert answer.result["webhooks"] == [{"url": "https://runtime.example.com/hook", "auth": None}]


async def test_an_application_sees_its_own_webhooks_without_their_credentials(server: Harness) -> None:
    # given
    operator = await server.operator()
    application_id, _ = await application_in_formation(operator)
    application = await server.connect(application_id, await server.application_token(operator, application_id))

    # when
    client = server.mtls(application.credentials)
    answer = await server.director(client, APPLICATION_WEBHOOKS, {"id": application_id})

    # then
    assert answer.result["webhooks"] == [{"url": "https://app.example.com/hook", "auth": None}]


async def test_an_operator_sees_webhook_credentials_only_with_the_webhooks_auth_scope(server: Harness) -> None:
    # given: two operators of the tenant that may read the webhooks, one of them their credentials too
    operator = await server.operator()
    application_id, _ = await application_in_formation(operator)
    reader = await scoped_operator(server, operator.tenant_id, "application:read", "application.webhooks:read")
    trusted = await scoped_operator(
        server, operator.tenant_id, "application:read", "application.webhooks:read", "webhooks.auth:read"
    )

    # when
    seen_by_reader = await reader.query(APPLICATION_WEBHOOKS, {"id": application_id})
    seen_by_trusted = await trusted.query(APPLICATION_WEBHOOKS, {"id": application_id})

    # then
    assert seen_by_reader["result"]["webhooks"] == [{"url": "https://app.example.com/hook", "auth": None}]
    [webhook] = seen_by_trusted["result"]["webhooks"]
    assert webhook["auth"]["credential"] == {"username": "hook", "password": WEBHOOK_PASSWORD}


async def test_an_operator_without_the_webhooks_scope_sees_no_webhooks(server: Harness) -> None:
    # given
    operator = await server.operator()
    application_id, _ = await application_in_formation(operator)
    reader = await scoped_operator(server, operator.tenant_id, "application:read")

    # when
    answer = await reader.execute(APPLICATION_WEBHOOKS, {"id": application_id})

    # then: null, not an error
    assert answer == {"data": {"result": {"webhooks": None}}}


# --- invalidateSystemAuthOneTimeToken ---------------------------------------------------------------------


async def test_a_runtime_write_operator_cannot_invalidate_an_applications_one_time_token(server: Harness) -> None:
    # given: an application's pending one-time token
    operator = await server.operator()
    application_id = (await operator.query(REGISTER_APPLICATION, {"in": {"name": f"a{uuid.uuid4().hex[:10]}"}}))[
        "result"
    ]["id"]
    token = await server.application_token(operator, application_id)
    [auth] = (await operator.query(APPLICATION_AUTHS, {"id": application_id}))["result"]["auths"]
    runtime_writer = await scoped_operator(server, operator.tenant_id, "runtime:write")

    # when
    codes = await runtime_writer.error_codes(INVALIDATE, {"id": auth["id"]})

    # then: refused, and the token still redeems
    assert codes == ["FORBIDDEN"]
    assert (await server.connector(CONFIGURATION, token=token)).result["token"]["token"]


async def test_a_runtime_write_operator_invalidates_a_runtimes_one_time_token(server: Harness) -> None:
    # given: a runtime's pending one-time token
    operator = await server.operator()
    runtime_id = await server.register_runtime(operator)
    token = await server.runtime_token(operator, runtime_id)
    [auth] = (await operator.query(RUNTIME_AUTHS, {"id": runtime_id}))["result"]["auths"]
    runtime_writer = await scoped_operator(server, operator.tenant_id, "runtime:write")

    # when
    answer = await runtime_writer.query(INVALIDATE, {"id": auth["id"]})

    # then
    assert answer["result"]["id"] == auth["id"]
    assert (await server.connector(CONFIGURATION, token=token)).codes == ["TOKEN_ALREADY_USED"]


async def test_an_application_write_operator_cannot_invalidate_a_runtimes_one_time_token(server: Harness) -> None:
    # given
    operator = await server.operator()
    runtime_id = await server.register_runtime(operator)
    token = await server.runtime_token(operator, runtime_id)
    [auth] = (await operator.query(RUNTIME_AUTHS, {"id": runtime_id}))["result"]["auths"]
    application_writer = await scoped_operator(server, operator.tenant_id, "application:write")

    # when
    codes = await application_writer.error_codes(INVALIDATE, {"id": auth["id"]})

    # then
    assert codes == ["FORBIDDEN"]
    assert (await server.connector(CONFIGURATION, token=token)).result["token"]["token"]


# --- instance auths: each runtime its own -------------------------------------------------------------------

INSTANCE_AUTHS_FOR_RUNTIME = f"""
    query ($runtime: ID!) {{
      result: applicationsForRuntime(runtimeID: $runtime) {{
        data {{ bundles {{ data {{ instanceAuths {{ id auth {{ {BASIC} }} }} }} }} }}
      }}
    }}"""
BUNDLE_IDS = "query ($id: ID!) { result: application(id: $id) { bundles { data { id instanceAuths { id } } } } }"
REQUEST_INSTANCE_AUTH = "mutation ($bundle: ID!) { result: requestBundleInstanceAuthCreation(bundleID: $bundle, in: {}) { id } }"


async def _instance_auth_for(server: Harness, tenant_id: str, bundle_id: str, runtime_id: str) -> str:
    """Credentials requested by (and for) one runtime, as Compass records a runtime consumer's request."""
    auth = BundleInstanceAuth(
        tenant_id=tenant_id,
        bundle_id=bundle_id,
        runtime_id=runtime_id,
        auth={"credential": {"basic": {"username": runtime_id, "password": f"for-{runtime_id}"}}},
        status_condition="SUCCEEDED",
        status_reason="CredentialsProvided",
        status_message="Credentials were provided.",
    )
    async with server.database.transaction() as session:
        session.add(auth)
    return auth.id


async def _instance_auths_seen(server: Harness, runtime: Any) -> list[dict[str, Any]]:
    answer = await server.director(
        server.mtls(runtime.credentials), INSTANCE_AUTHS_FOR_RUNTIME, {"runtime": runtime.object_id}
    )
    [application] = answer.result["data"]
    return application["bundles"]["data"][0]["instanceAuths"]


async def test_a_runtime_sees_only_the_instance_auths_requested_for_it(server: Harness) -> None:
    # given: two runtimes in one formation, an instance auth for the first, and one the operator requested
    operator = await server.operator()
    application_id, formation = await application_in_formation(operator)
    first = await server.connect_runtime(operator, scenarios=[formation])
    second = await server.connect_runtime(operator, scenarios=[formation])
    [bundle] = (await operator.query(BUNDLE_IDS, {"id": application_id}))["result"]["bundles"]["data"]
    operators = (await operator.query(REQUEST_INSTANCE_AUTH, {"bundle": bundle["id"]}))["result"]["id"]
    firsts = await _instance_auth_for(server, operator.tenant_id, bundle["id"], first.object_id)

    # when: both ask the same selection, the second after the first (views are shared between runtimes)
    seen_by_first = await _instance_auths_seen(server, first)
    seen_by_second = await _instance_auths_seen(server, second)
    seen_by_operator = (await operator.query(BUNDLE_IDS, {"id": application_id}))["result"]["bundles"]["data"][0]

    # then
    assert [auth["id"] for auth in seen_by_first] == [firsts]
    assert seen_by_first[0]["auth"]["credential"]["password"] == f"for-{first.object_id}"
    assert seen_by_second == []
    assert {auth["id"] for auth in seen_by_operator["instanceAuths"]} == {operators, firsts}
