"""Eventing configuration, as Compass has it: an application's events go to its default runtime's event ingress."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from kernel.db import Database
from testing.statements import count_statements
from tests.connector.support import REQUEST_RUNTIME_TOKEN, forwarded_certificate_headers
from tests.support import (
    ASSIGN_FORMATION,
    CREATE_FORMATION,
    DIRECTOR,
    UNASSIGN_FORMATION,
    Operator,
    TenantFactory,
)

REGISTER_APPLICATION = "mutation ($name: String!) { result: registerApplication(in: {name: $name}) { id } }"
REGISTER_RUNTIME = "mutation ($name: String!, $labels: Labels) { result: registerRuntime(in: {name: $name, labels: $labels}) { id } }"
APPLICATION_EVENTING = "query ($id: ID!) { result: application(id: $id) { eventingConfiguration { defaultURL } } }"
APPLICATIONS_EVENTING = "{ result: applications { data { id eventingConfiguration { defaultURL } } } }"
RUNTIME_EVENTING = "query ($id: ID!) { result: runtime(id: $id) { eventingConfiguration { defaultURL } } }"
RUNTIME_LABELS = "query ($id: ID!) { result: runtime(id: $id) { labels } }"
SET_DEFAULT = """
mutation ($app: String!, $runtime: String!) {
  result: setDefaultEventingForApplication(appID: $app, runtimeID: $runtime) { defaultURL }
}
"""
DELETE_DEFAULT = "mutation ($app: String!) { result: deleteDefaultEventingForApplication(appID: $app) { defaultURL } }"
TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { token } }"
UNREGISTER_RUNTIME = "mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id } }"
RUNTIME_POLL = """
query ($id: ID!) { result: applicationsForRuntime(runtimeID: $id) { data { id eventingConfiguration { defaultURL } } } }
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def formation(operator: Operator) -> str:
    name = unique("f")
    await operator.query(CREATE_FORMATION, {"name": name})
    return name


async def application(operator: Operator, name: str, *formations: str) -> str:
    application_id: str = (await operator.query(REGISTER_APPLICATION, {"name": name}))["result"]["id"]
    for item in formations:
        await operator.query(ASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": item})
    return application_id


async def runtime(operator: Operator, *formations: str, url: str | None = None, normalized: str = "true") -> str:
    labels: dict[str, Any] = {"isNormalized": normalized}
    if url is not None:
        labels["runtime_eventServiceUrl"] = url
    runtime_id: str = (
        await operator.query(REGISTER_RUNTIME, {"name": unique("rt"), "labels": labels})
    )["result"]["id"]
    for item in formations:
        await operator.query(ASSIGN_FORMATION, {"id": runtime_id, "type": "RUNTIME", "name": item})
    return runtime_id


async def default_url(operator: Operator, application_id: str) -> str:
    answer = await operator.query(APPLICATION_EVENTING, {"id": application_id})
    url: str = answer["result"]["eventingConfiguration"]["defaultURL"]
    return url


async def runtime_labels(operator: Operator, runtime_id: str) -> dict[str, Any]:
    labels: dict[str, Any] = (await operator.query(RUNTIME_LABELS, {"id": runtime_id}))["result"]["labels"]
    return labels


class TestApplicationDefaultURL:
    async def test_comes_from_the_oldest_runtime_sharing_a_formation(self, operator: Operator) -> None:
        shared = await formation(operator)
        oldest = await runtime(operator, shared, url="https://gateway.oldest.example:8443/ignored?x=1")
        await runtime(operator, shared, url="https://gateway.newer.example")
        await runtime(operator, url="https://gateway.elsewhere.example")  # in no formation with the application
        application_id = await application(operator, "shop", shared)

        assert await default_url(operator, application_id) == "https://gateway.oldest.example:8443/mp-shop/v1/events"
        assert (await runtime_labels(operator, oldest))[f"{application_id}_defaultEventing"] == "true"

    async def test_stays_with_the_labelled_runtime_when_an_older_one_joins(self, operator: Operator) -> None:
        shared, other = await formation(operator), await formation(operator)
        older = await runtime(operator, other, url="https://older.example")
        first = await runtime(operator, shared, url="https://first.example")
        application_id = await application(operator, "shop", shared)
        assert await default_url(operator, application_id) == "https://first.example/mp-shop/v1/events"

        await operator.query(ASSIGN_FORMATION, {"id": older, "type": "RUNTIME", "name": shared})

        assert await default_url(operator, application_id) == "https://first.example/mp-shop/v1/events"
        assert f"{application_id}_defaultEventing" in await runtime_labels(operator, first)

    async def test_falls_back_when_the_default_runtime_left_the_formation(self, operator: Operator) -> None:
        shared = await formation(operator)
        first = await runtime(operator, shared, url="https://first.example")
        second = await runtime(operator, shared, url="https://second.example")
        application_id = await application(operator, "shop", shared)
        assert await default_url(operator, application_id) == "https://first.example/mp-shop/v1/events"

        await operator.query(UNASSIGN_FORMATION, {"id": first, "type": "RUNTIME", "name": shared})

        assert await default_url(operator, application_id) == "https://second.example/mp-shop/v1/events"
        assert f"{application_id}_defaultEventing" not in await runtime_labels(operator, first)
        assert (await runtime_labels(operator, second))[f"{application_id}_defaultEventing"] == "true"

    async def test_is_empty_without_a_runtime_sharing_a_formation(self, operator: Operator) -> None:
        await runtime(operator, url="https://lonely.example")
        application_id = await application(operator, "shop", await formation(operator))

        assert await default_url(operator, application_id) == ""

    async def test_is_empty_when_the_default_runtime_has_no_url_label(self, operator: Operator) -> None:
        shared = await formation(operator)
        await runtime(operator, shared)
        application_id = await application(operator, "shop", shared)

        assert await default_url(operator, application_id) == ""

    async def test_keeps_the_name_when_the_runtime_is_not_normalized(self, operator: Operator) -> None:
        shared = await formation(operator)
        await runtime(operator, shared, url="https://plain.example", normalized="false")
        application_id = await application(operator, "My-Shop", shared)

        assert await default_url(operator, application_id) == "https://plain.example/My-Shop/v1/events"

    async def test_a_page_of_applications_costs_a_fixed_number_of_statements(
        self, tenants: TenantFactory, database: Database
    ) -> None:
        operator = await tenants.operator()
        shared = await formation(operator)
        await runtime(operator, shared, url="https://gateway.example")
        for index in range(3):
            await application(operator, f"shop{index}", shared)
        await operator.query(APPLICATIONS_EVENTING)  # labels the default runtime once

        counts = []
        for _ in range(2):
            await application(operator, unique("more"), shared)
            with count_statements(database) as statements:
                answer = await operator.query(APPLICATIONS_EVENTING)
            counts.append(len(statements))
            urls = {item["eventingConfiguration"]["defaultURL"] for item in answer["result"]["data"]}
            assert all(url.startswith("https://gateway.example/") for url in urls)
        assert counts[0] == counts[1]


class TestRuntimeDefaultURL:
    async def test_is_the_runtimes_event_service_url_label(self, operator: Operator) -> None:
        runtime_id = await runtime(operator, url="https://gateway.example/any/path")

        answer = await operator.query(RUNTIME_EVENTING, {"id": runtime_id})

        assert answer["result"]["eventingConfiguration"] == {"defaultURL": "https://gateway.example/any/path"}

    async def test_is_empty_without_the_label(self, operator: Operator) -> None:
        runtime_id = await runtime(operator)

        answer = await operator.query(RUNTIME_EVENTING, {"id": runtime_id})

        assert answer["result"]["eventingConfiguration"] == {"defaultURL": ""}


class TestSetDefault:
    async def test_makes_the_runtime_the_default_and_unlabels_the_previous_one(self, operator: Operator) -> None:
        shared = await formation(operator)
        first = await runtime(operator, shared, url="https://first.example")
        second = await runtime(operator, shared, url="https://second.example")
        application_id = await application(operator, "shop", shared)
        assert await default_url(operator, application_id) == "https://first.example/mp-shop/v1/events"

        answer = await operator.query(SET_DEFAULT, {"app": application_id, "runtime": second})

        assert answer["result"] == {"defaultURL": "https://second.example/mp-shop/v1/events"}
        assert await default_url(operator, application_id) == "https://second.example/mp-shop/v1/events"
        assert f"{application_id}_defaultEventing" not in await runtime_labels(operator, first)

    async def test_refuses_a_runtime_sharing_no_formation(self, operator: Operator) -> None:
        application_id = await application(operator, "shop", await formation(operator))
        outsider = await runtime(operator, await formation(operator), url="https://outsider.example")

        codes = await operator.error_codes(SET_DEFAULT, {"app": application_id, "runtime": outsider})

        assert codes == ["INVALID_INPUT"]
        assert f"{application_id}_defaultEventing" not in await runtime_labels(operator, outsider)

    async def test_needs_the_eventing_manage_scope(self, tenants: TenantFactory) -> None:
        operator = await tenants.operator()
        shared = await formation(operator)
        runtime_id = await runtime(operator, shared)
        application_id = await application(operator, "shop", shared)
        reader = await tenants.operator(scopes=["application:read", "runtime:read"], tenant_id=operator.tenant_id)

        assert await reader.error_codes(SET_DEFAULT, {"app": application_id, "runtime": runtime_id}) == ["FORBIDDEN"]
        assert await reader.error_codes(DELETE_DEFAULT, {"app": application_id}) == ["FORBIDDEN"]


class TestDeleteDefault:
    async def test_removes_the_label_and_answers_what_it_was(self, operator: Operator) -> None:
        shared = await formation(operator)
        first = await runtime(operator, shared, url="https://first.example")
        application_id = await application(operator, "shop", shared)
        await operator.query(SET_DEFAULT, {"app": application_id, "runtime": first})

        answer = await operator.query(DELETE_DEFAULT, {"app": application_id})

        assert answer["result"] == {"defaultURL": "https://first.example/mp-shop/v1/events"}
        assert f"{application_id}_defaultEventing" not in await runtime_labels(operator, first)

    async def test_answers_empty_without_a_default(self, operator: Operator) -> None:
        application_id = await application(operator, "shop")

        assert (await operator.query(DELETE_DEFAULT, {"app": application_id}))["result"] == {"defaultURL": ""}


class TestTenantIsolation:
    async def test_an_application_of_another_tenant_is_not_found(self, tenants: TenantFactory) -> None:
        owner, stranger = await tenants.operator(), await tenants.operator()
        shared = await formation(owner)
        runtime_id = await runtime(owner, shared)
        application_id = await application(owner, "shop", shared)

        assert await stranger.error_codes(DELETE_DEFAULT, {"app": application_id}) == ["NOT_FOUND"]
        codes = await stranger.error_codes(SET_DEFAULT, {"app": application_id, "runtime": runtime_id})
        assert codes == ["NOT_FOUND"]

    async def test_a_runtime_of_another_tenant_is_not_found(self, tenants: TenantFactory) -> None:
        owner, stranger = await tenants.operator(), await tenants.operator()
        application_id = await application(owner, "shop", await formation(owner))
        foreign = await runtime(stranger, await formation(stranger), url="https://foreign.example")

        assert await owner.error_codes(SET_DEFAULT, {"app": application_id, "runtime": foreign}) == ["NOT_FOUND"]

    async def test_runtimes_of_another_tenant_are_never_the_default(self, tenants: TenantFactory) -> None:
        owner, stranger = await tenants.operator(), await tenants.operator()
        await runtime(stranger, "DEFAULT", url="https://foreign.example")
        application_id = await application(owner, "shop", "DEFAULT")

        assert await default_url(owner, application_id) == ""


# --- the application's own certificate ---------------------------------------------------------------------


async def certificate_headers(client: httpx.AsyncClient, operator: Operator, application_id: str) -> dict[str, str]:
    """The application's client certificate from the Connector, as a trusted proxy forwards it."""
    token = (await operator.query(TOKEN, {"id": application_id}))["result"]["token"]
    return await forwarded_certificate_headers(client, token)


class TestApplicationCertificate:
    async def test_reads_its_own_eventing_configuration(self, tenants: TenantFactory, proxied: httpx.AsyncClient) -> None:
        operator = await tenants.operator()
        operator.client = proxied
        shared = await formation(operator)
        await runtime(operator, shared, url="https://gateway.example")
        application_id = await application(operator, "shop", shared)
        headers = await certificate_headers(proxied, operator, application_id)

        response = await proxied.post(
            DIRECTOR, json={"query": APPLICATION_EVENTING, "variables": {"id": application_id}}, headers=headers
        )

        assert response.json()["data"]["result"] == {
            "eventingConfiguration": {"defaultURL": "https://gateway.example/mp-shop/v1/events"}
        }

    async def test_cannot_read_another_applications(self, tenants: TenantFactory, proxied: httpx.AsyncClient) -> None:
        operator = await tenants.operator()
        operator.client = proxied
        shared = await formation(operator)
        await runtime(operator, shared, url="https://gateway.example")
        own = await application(operator, "shop", shared)
        other = await application(operator, "other", shared)
        headers = await certificate_headers(proxied, operator, own)

        response = await proxied.post(
            DIRECTOR, json={"query": APPLICATION_EVENTING, "variables": {"id": other}}, headers=headers
        )

        body = response.json()
        assert body["data"] is None or body["data"]["result"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


# --- a runtime's cached poll ---------------------------------------------------------------------------------


class TestRuntimePoll:
    """Another runtime's view shows the application's defaultURL: it must change when the default runtime goes."""

    async def poll(self, client: httpx.AsyncClient, headers: dict[str, str], runtime_id: str) -> list[str]:
        response = await client.post(DIRECTOR, json={"query": RUNTIME_POLL, "variables": {"id": runtime_id}}, headers=headers)
        return [item["eventingConfiguration"]["defaultURL"] for item in response.json()["data"]["result"]["data"]]

    async def two_runtimes(self, operator: Operator, client: httpx.AsyncClient) -> tuple[str, str, dict[str, str]]:
        """The default runtime, and the other's certificate headers after a poll that cached its view."""
        shared = await formation(operator)
        first = await runtime(operator, shared, url="https://first.example")
        second = await runtime(operator, shared, url="https://second.example")
        await application(operator, "shop", shared)
        token = (await operator.query(REQUEST_RUNTIME_TOKEN, {"id": second}))["result"]["token"]
        headers = await forwarded_certificate_headers(client, token)
        assert await self.poll(client, headers, second) == ["https://first.example/mp-shop/v1/events"]
        return first, second, headers

    async def test_shows_the_new_default_when_the_default_runtime_left_the_formation(
        self, tenants: TenantFactory, proxied: httpx.AsyncClient
    ) -> None:
        operator = await tenants.operator()
        operator.client = proxied
        first, second, headers = await self.two_runtimes(operator, proxied)
        shared = (await runtime_labels(operator, first))["scenarios"][0]

        await operator.query(UNASSIGN_FORMATION, {"id": first, "type": "RUNTIME", "name": shared})

        assert await self.poll(proxied, headers, second) == ["https://second.example/mp-shop/v1/events"]

    async def test_shows_the_new_default_when_the_default_runtime_was_unregistered(
        self, tenants: TenantFactory, proxied: httpx.AsyncClient
    ) -> None:
        operator = await tenants.operator()
        operator.client = proxied
        first, second, headers = await self.two_runtimes(operator, proxied)

        await operator.query(UNREGISTER_RUNTIME, {"id": first})

        assert await self.poll(proxied, headers, second) == ["https://second.example/mp-shop/v1/events"]
