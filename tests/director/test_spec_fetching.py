"""Specs fetched from a URL: what a fetch records (SUCCEEDED with the data, or FAILED with a message a user can act
on), the guards (time, size, redirects, addresses that are not global), credentials, refetching, and that no
transaction is held while a fetch waits on the network. The specs come from the loopback stand-in; the session's
settings allow loopback, the ``operator_with`` apps change the settings."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from compass.app import create_app
from kernel.db import Database
from kernel.settings import Settings
from testing.statements import count_statements
from testing.upstream import Answer, UpstreamStandIn
from testing.waiting import wait_until
from tests.support import Operator, TenantFactory

SPEC = b'{"openapi":"3.0.0","info":{"title":"orders","version":"1"},"paths":{}}'
FETCH_REQUEST = "fetchRequest { url mode filter status { condition message timestamp } }"

OperatorWith = Callable[..., Awaitable[Operator]]


@pytest.fixture
async def operator_with(settings: Settings, database: Database) -> AsyncIterator[OperatorWith]:
    """An operator of a Director whose settings differ from the session's by ``overrides``."""
    async with AsyncExitStack() as stack:

        async def starting(**overrides: Any) -> Operator:
            changed = settings.model_copy(update=overrides)
            manager = await stack.enter_async_context(LifespanManager(create_app(changed, database)))
            transport = httpx.ASGITransport(app=manager.app)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            return await TenantFactory(changed, database, client).operator()

        yield starting


async def a_bundle(operator: Operator) -> str:
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(
        f'mutation {{ registerApplication(in: {{name: "{name}", bundles: [{{name: "orders"}}]}}) '
        "{ bundles { data { id } } } }"
    )
    bundle_id: str = data["registerApplication"]["bundles"]["data"][0]["id"]
    return bundle_id


async def add_api(operator: Operator, fetch_request: str, *, data: str = "") -> dict[str, Any]:
    """An API definition added with ``fetch_request`` (the input's fields); its spec as answered."""
    bundle_id = await a_bundle(operator)
    answer = await operator.query(
        f"""mutation {{ addAPIDefinitionToBundle(bundleID: "{bundle_id}", in: {{
              name: "orders", targetURL: "https://shop.example.com/orders",
              spec: {{type: OPEN_API, format: JSON, {data} fetchRequest: {{ {fetch_request} }}}}}}) {{
              id spec {{ data {FETCH_REQUEST} }} }} }}"""
    )
    api: dict[str, Any] = answer["addAPIDefinitionToBundle"]
    return api


def status(api: dict[str, Any]) -> tuple[str, str | None]:
    fetch_request = api["spec"]["fetchRequest"]
    return fetch_request["status"]["condition"], fetch_request["status"]["message"]


async def test_a_fetched_spec_is_stored_and_succeeded(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    upstream_stand_in.respond(Answer(body=SPEC))

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')

    assert status(api) == ("SUCCEEDED", None)
    assert api["spec"]["data"] == SPEC.decode()


async def test_a_spec_with_data_is_not_fetched_and_keeps_no_fetch_request(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"', data='data: "{}",')

    assert api["spec"] == {"data": "{}", "fetchRequest": None}
    assert upstream_stand_in.requests_to("/echo/spec") == []


async def test_an_answer_other_than_200_fails_with_its_status_code(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/code/404"')

    assert status(api) == ("FAILED", "While fetching Spec status code: 404")
    assert api["spec"]["data"] is None


async def test_a_fetch_that_takes_too_long_fails(
    operator_with: OperatorWith, upstream_stand_in: UpstreamStandIn
) -> None:
    operator = await operator_with(spec_fetch_timeout_seconds=0.5)
    url = f"{upstream_stand_in.http_url}/slow"

    try:
        api = await add_api(operator, f'url: "{url}"')
    finally:
        upstream_stand_in.release()

    assert status(api) == ("FAILED", f"While fetching Spec: {url} did not answer within 0.5 seconds")


async def test_a_spec_larger_than_the_limit_fails(
    operator_with: OperatorWith, upstream_stand_in: UpstreamStandIn
) -> None:
    operator = await operator_with(spec_fetch_max_bytes=1000)

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/source/1001"')

    assert status(api) == (
        "FAILED",
        "While fetching Spec: the spec is 1001 bytes, more than the 1000 allowed",
    )


async def test_redirects_are_followed(operator: Operator, upstream_stand_in: UpstreamStandIn) -> None:
    upstream_stand_in.respond(Answer(302, headers=(("Location", "/echo/moved"),)), Answer(body=SPEC))

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')

    assert status(api) == ("SUCCEEDED", None)
    assert [request.path for request in upstream_stand_in.requests] == ["/echo/spec", "/echo/moved"]


async def test_too_many_redirects_fail(
    operator_with: OperatorWith, upstream_stand_in: UpstreamStandIn
) -> None:
    operator = await operator_with(spec_fetch_max_redirects=2)
    upstream_stand_in.respond(*[Answer(302, headers=(("Location", "/echo/again"),))] * 3)
    url = f"{upstream_stand_in.http_url}/echo/spec"

    api = await add_api(operator, f'url: "{url}"')

    assert status(api) == ("FAILED", f"While fetching Spec: {url} redirected more than 2 times")
    assert len(upstream_stand_in.requests) == 3


async def test_a_redirect_to_a_refused_address_fails_without_calling_it(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    upstream_stand_in.respond(Answer(302, headers=(("Location", "http://169.254.169.254/latest/meta-data"),)))

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')

    assert status(api) == (
        "FAILED",
        (
            "While fetching Spec: 169.254.169.254 is 169.254.169.254, a link-local address, which specs are not "
            "fetched from (an operator may allow its network with COMPASS_SPEC_FETCH_ALLOWED_NETWORKS)"
        ),
    )


async def test_a_loopback_address_is_refused_without_the_setting(
    operator_with: OperatorWith, upstream_stand_in: UpstreamStandIn
) -> None:
    operator = await operator_with(spec_fetch_allowed_networks=[])

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')

    assert status(api)[0] == "FAILED"
    assert "127.0.0.1, a loopback address" in str(status(api)[1])
    assert upstream_stand_in.requests == []


async def test_a_host_name_is_refused_when_it_resolves_to_a_refused_address(
    operator_with: OperatorWith, upstream_stand_in: UpstreamStandIn
) -> None:
    operator = await operator_with(spec_fetch_allowed_networks=[])
    port = httpx.URL(upstream_stand_in.http_url).port

    api = await add_api(operator, f'url: "http://localhost:{port}/echo/spec"')

    assert "While fetching Spec: localhost is" in str(status(api)[1])
    assert "a loopback address" in str(status(api)[1])
    assert upstream_stand_in.requests == []


async def test_an_https_spec_is_fetched_only_from_a_server_the_trust_store_vouches_for(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.https_url}/echo/spec"')

    assert status(api)[0] == "FAILED"
    assert "CERTIFICATE_VERIFY_FAILED" in str(status(api)[1])
    assert upstream_stand_in.requests == []


async def test_basic_credentials_are_sent(operator: Operator, upstream_stand_in: UpstreamStandIn) -> None:
    upstream_stand_in.respond(Answer(body=SPEC))
    auth = 'auth: {credential: {basic: {username: "user", password: "passwd"}}}'

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/basic/spec", {auth}')

    assert status(api) == ("SUCCEEDED", None)
    sent = upstream_stand_in.requests_to("/basic/spec")[0].header("authorization")
    assert sent == "Basic " + base64.b64encode(b"user:passwd").decode()


async def test_oauth_credentials_fetch_a_token_first(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    upstream_stand_in.respond(Answer(body=SPEC))
    token_url = f"{upstream_stand_in.http_url}/oauth/token"
    auth = f'auth: {{credential: {{oauth: {{clientId: "client-id", clientSecret: "client-secret", url: "{token_url}"}}}}}}'

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/bearer/spec", {auth}')

    assert status(api) == ("SUCCEEDED", None)
    assert api["spec"]["data"] == SPEC.decode()
    assert [token.client_id for token in upstream_stand_in.tokens] == ["client-id"]


async def test_additional_headers_and_query_parameters_are_sent(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    auth = (
        'auth: {additionalHeadersSerialized: "{\\"X-Api-Key\\":[\\"k1\\"]}", '
        'additionalQueryParamsSerialized: "{\\"sap-client\\":[\\"100\\"]}"}'
    )

    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec", {auth}')

    assert status(api) == ("SUCCEEDED", None)
    sent = upstream_stand_in.requests_to("/echo/spec")[0]
    assert (sent.header("x-api-key"), sent.query) == ("k1", "sap-client=100")


async def test_an_unsupported_mode_is_not_fetched_and_stays_initial(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec", mode: BUNDLE')

    assert status(api) == ("INITIAL", "Unsupported fetch mode: BUNDLE")
    assert upstream_stand_in.requests == []


async def test_a_fetch_request_url_that_is_not_http_is_refused(operator: Operator) -> None:
    bundle_id = await a_bundle(operator)

    codes = await operator.error_codes(
        f"""mutation {{ addAPIDefinitionToBundle(bundleID: "{bundle_id}", in: {{
              name: "orders", targetURL: "https://shop.example.com/orders",
              spec: {{type: OPEN_API, format: JSON, fetchRequest: {{url: "file:///etc/passwd"}}}}}}) {{ id }} }}"""
    )

    assert codes == ["INVALID_INPUT"]


async def test_specs_of_a_registered_application_are_fetched(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    upstream_stand_in.respond(Answer(body=SPEC))
    url = f"{upstream_stand_in.http_url}/echo/spec"

    data = await operator.query(
        f"""mutation {{ registerApplication(in: {{name: "app-{uuid.uuid4().hex[:8]}", bundles: [{{name: "orders",
              apiDefinitions: [{{name: "orders", targetURL: "https://shop.example.com/orders",
                spec: {{type: OPEN_API, format: JSON, fetchRequest: {{url: "{url}"}}}}}}]}}]}}) {{
              bundles {{ data {{ apiDefinitions {{ data {{ spec {{ data {FETCH_REQUEST} }} }} }} }} }} }} }}"""
    )

    api = data["registerApplication"]["bundles"]["data"][0]["apiDefinitions"]["data"][0]
    assert status(api) == ("SUCCEEDED", None)
    assert api["spec"]["data"] == SPEC.decode()


async def test_an_update_replaces_the_fetch_request(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/code/404"')
    upstream_stand_in.respond(Answer(body=SPEC))
    url = f"{upstream_stand_in.http_url}/echo/spec"

    updated = await operator.query(
        f"""mutation {{ updateAPIDefinition(id: "{api["id"]}", in: {{
              name: "orders", targetURL: "https://shop.example.com/orders",
              spec: {{type: OPEN_API, format: JSON, fetchRequest: {{url: "{url}"}}}}}}) {{ spec {{ data {FETCH_REQUEST} }} }} }}"""
    )

    spec = updated["updateAPIDefinition"]["spec"]
    assert (spec["data"], spec["fetchRequest"]["url"], spec["fetchRequest"]["status"]["condition"]) == (
        SPEC.decode(),
        url,
        "SUCCEEDED",
    )


async def test_refetch_updates_the_data_and_the_status(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')
    first = api["spec"]["fetchRequest"]["status"]["timestamp"]
    upstream_stand_in.respond(Answer(body=SPEC))

    refetched = await operator.query(
        f'mutation {{ refetchAPISpec(apiID: "{api["id"]}") {{ data {FETCH_REQUEST} }} }}'
    )

    spec = refetched["refetchAPISpec"]
    assert spec["data"] == SPEC.decode()
    assert spec["fetchRequest"]["status"]["condition"] == "SUCCEEDED"
    assert spec["fetchRequest"]["status"]["timestamp"] > first


async def test_refetch_of_another_tenants_api_is_not_found(
    operator: Operator, tenants: TenantFactory, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')
    stranger = await tenants.operator()

    codes = await stranger.error_codes(f'mutation {{ refetchAPISpec(apiID: "{api["id"]}") {{ id }} }}')

    assert codes == ["NOT_FOUND"]


async def test_the_fetch_request_needs_its_field_scope(
    operator: Operator, tenants: TenantFactory, upstream_stand_in: UpstreamStandIn
) -> None:
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/echo/spec"')
    reader = await tenants.operator(scopes=["application:read"], tenant_id=operator.tenant_id)
    bundle_query = f"""query {{ applications {{ data {{ bundles {{ data {{ apiDefinition(id: "{api["id"]}") {{
        spec {{ id fetchRequest {{ url }} }} }} }} }} }} }} }}"""

    data = await reader.query(bundle_query)

    specs = [
        bundle["apiDefinition"]["spec"]
        for application in data["applications"]["data"]
        for bundle in application["bundles"]["data"]
        if bundle["apiDefinition"]
    ]
    assert specs == [{"id": api["id"], "fetchRequest": None}]


async def test_the_fetch_requests_credentials_need_their_field_scope(
    operator: Operator, tenants: TenantFactory, upstream_stand_in: UpstreamStandIn
) -> None:
    auth = 'auth: {credential: {basic: {username: "user", password: "passwd"}}}'
    api = await add_api(operator, f'url: "{upstream_stand_in.http_url}/basic/spec", {auth}')
    reader = await tenants.operator(
        scopes=["application:read", "api_spec.fetch_request:read"], tenant_id=operator.tenant_id
    )
    bundle_query = f"""query {{ applications {{ data {{ bundles {{ data {{ apiDefinition(id: "{api["id"]}") {{
        spec {{ fetchRequest {{ url auth {{ credential {{ ... on BasicCredentialData {{ password }} }} }} }} }} }} }} }} }} }} }}"""

    data = await reader.query(bundle_query)

    fetch_requests = [
        bundle["apiDefinition"]["spec"]["fetchRequest"]
        for application in data["applications"]["data"]
        for bundle in application["bundles"]["data"]
        if bundle["apiDefinition"]
    ]
    assert fetch_requests == [{"url": f"{upstream_stand_in.http_url}/basic/spec", "auth": None}]


async def test_fetch_requests_of_many_apis_cost_one_statement(
    operator: Operator, database: Database, upstream_stand_in: UpstreamStandIn
) -> None:
    bundle_id = await a_bundle(operator)
    url = f"{upstream_stand_in.http_url}/echo/spec"
    document = f"""query {{ bundle: applications {{ data {{ bundle(id: "{bundle_id}") {{
        apiDefinitions {{ data {{ spec {{ {FETCH_REQUEST} }} }} }} }} }} }} }}"""
    counts = []
    for _ in range(3):
        await operator.query(
            f"""mutation {{ addAPIDefinitionToBundle(bundleID: "{bundle_id}", in: {{ name: "orders",
                  targetURL: "https://shop.example.com/orders",
                  spec: {{type: OPEN_API, format: JSON, fetchRequest: {{url: "{url}"}}}}}}) {{ id }} }}"""
        )
        with count_statements(database) as statements:
            await operator.query(document)
        counts.append(len(statements))

    assert counts[0] == counts[1] == counts[2]


async def test_no_transaction_is_held_while_a_fetch_waits(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    # given a fetch blocked on a slow server
    registered = await operator.query(
        f'mutation {{ registerApplication(in: {{name: "app-{uuid.uuid4().hex[:8]}"}}) {{ id }} }}'
    )
    application_id = registered["registerApplication"]["id"]
    fetching = asyncio.create_task(add_api(operator, f'url: "{upstream_stand_in.http_url}/slow"'))
    try:
        await wait_until(lambda: upstream_stand_in.requests_to("/slow"))

        # when another request writes meanwhile (on SQLite it would wait for a held write lock)
        added = await operator.query(
            f'mutation {{ addBundle(applicationID: "{application_id}", in: {{name: "meanwhile"}}) {{ name }} }}'
        )
        assert not fetching.done()
    finally:
        upstream_stand_in.release()

    # then the write completed while the fetch waited, and the fetch completes after
    assert added == {"addBundle": {"name": "meanwhile"}}
    api = await fetching
    assert status(api) == ("SUCCEEDED", None)
    assert api["spec"]["data"] == "released"
