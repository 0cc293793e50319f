"""Bundle instance auths: credentials a consumer requests for a bundle, as Compass's flow has them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import Operator

REGISTER = """
mutation ($in: ApplicationRegisterInput!) {
  result: registerApplication(in: $in) { id bundles { data { id name } } }
}
"""
REQUEST = """
mutation ($bundle: ID!, $in: BundleInstanceAuthRequestInput!) {
  result: requestBundleInstanceAuthCreation(bundleID: $bundle, in: $in) {
    id context inputParams status { condition reason message timestamp }
    auth { credential { ... on BasicCredentialData { username password } } }
  }
}
"""
SET = """
mutation ($id: ID!, $in: BundleInstanceAuthSetInput!) {
  result: setBundleInstanceAuth(authID: $id, in: $in) {
    id status { condition reason message } auth { credential { ... on BasicCredentialData { username } } }
  }
}
"""
DELETE = "mutation ($id: ID!) { result: requestBundleInstanceAuthDeletion(authID: $id) { id status { condition } } }"
READ = "query ($id: ID!) { result: bundleInstanceAuth(id: $id) { id status { condition reason } } }"
NESTED = """
query ($app: ID!) {
  result: application(id: $app) { bundles { data { instanceAuths { id } } } }
}
"""
DEFAULT_AUTH = {"credential": {"basic": {"username": "svc", "password": "secret"}}}
SCHEMA = json.dumps({"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string"}}})


async def _bundle(operator: Operator, *, default_auth: bool = False, schema: str | None = None) -> str:
    bundle: dict[str, Any] = {"name": "orders"}
    if default_auth:
        bundle["defaultInstanceAuth"] = DEFAULT_AUTH
    if schema is not None:
        bundle["instanceAuthRequestInputSchema"] = schema
    data = await operator.query(REGISTER, {"in": {"name": "shop", "bundles": [bundle]}})
    return str(data["result"]["bundles"]["data"][0]["id"])


async def _request(operator: Operator, bundle_id: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await operator.query(REQUEST, {"bundle": bundle_id, "in": given or {}})
    return dict(data["result"])


async def test_a_bundle_with_default_auth_answers_at_once_with_it(operator: Operator) -> None:
    bundle_id = await _bundle(operator, default_auth=True)

    created = await _request(operator, bundle_id, {"context": json.dumps({"runtime": "r1"})})

    assert created["status"]["condition"] == "SUCCEEDED"
    assert created["auth"]["credential"] == {"username": "svc", "password": "secret"}
    assert json.loads(created["context"]) == {"runtime": "r1"}


async def test_a_bundle_without_default_auth_leaves_the_request_pending(operator: Operator) -> None:
    bundle_id = await _bundle(operator)

    created = await _request(operator, bundle_id)

    assert created["status"]["condition"] == "PENDING"
    assert created["auth"] is None


async def test_the_application_sets_the_credentials_of_a_pending_request(operator: Operator) -> None:
    created = await _request(operator, await _bundle(operator))

    data = await operator.query(SET, {"id": created["id"], "in": {"auth": DEFAULT_AUTH}})

    assert data["result"]["status"]["condition"] == "SUCCEEDED"
    assert data["result"]["auth"]["credential"] == {"username": "svc"}


async def test_the_application_reports_a_failure_without_credentials(operator: Operator) -> None:
    created = await _request(operator, await _bundle(operator))
    failed = {"status": {"condition": "FAILED", "message": "no quota", "reason": "CredentialsNotProvided"}}

    data = await operator.query(SET, {"id": created["id"], "in": failed})

    assert data["result"]["status"] == {"condition": "FAILED", "reason": "CredentialsNotProvided", "message": "no quota"}
    assert data["result"]["auth"] is None


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"auth": DEFAULT_AUTH, "status": {"condition": "FAILED", "message": "m", "reason": "r"}},
        {"status": {"condition": "FAILED", "message": " ", "reason": " "}},
    ],
    ids=["nothing", "auth-with-failed", "failed-without-reason"],
)
async def test_an_inconsistent_set_is_invalid_input(operator: Operator, given: dict[str, Any]) -> None:
    created = await _request(operator, await _bundle(operator))

    assert await operator.error_codes(SET, {"id": created["id"], "in": given}) == ["INVALID_INPUT"]


async def test_input_params_must_match_the_bundle_schema(operator: Operator) -> None:
    bundle_id = await _bundle(operator, schema=SCHEMA)

    wrong = await operator.error_codes(REQUEST, {"bundle": bundle_id, "in": {"inputParams": json.dumps({"x": 1})}})
    right = await _request(operator, bundle_id, {"inputParams": json.dumps({"plan": "gold"})})

    assert wrong == ["INVALID_INPUT"]
    assert right["status"]["condition"] == "PENDING"


async def test_deleting_default_credentials_forgets_them(operator: Operator) -> None:
    created = await _request(operator, await _bundle(operator, default_auth=True))

    await operator.query(DELETE, {"id": created["id"]})

    assert (await operator.query(READ, {"id": created["id"]}))["result"] is None


async def test_deleting_credentials_the_application_issued_marks_them_unused(operator: Operator) -> None:
    created = await _request(operator, await _bundle(operator))
    await operator.query(SET, {"id": created["id"], "in": {"auth": DEFAULT_AUTH}})

    data = await operator.query(DELETE, {"id": created["id"]})

    assert data["result"]["status"]["condition"] == "UNUSED"
    assert (await operator.query(READ, {"id": created["id"]}))["result"]["status"]["reason"] == "PendingDeletion"


async def test_a_bundle_lists_its_instance_auths(operator: Operator) -> None:
    data = await operator.query(REGISTER, {"in": {"name": "shop", "bundles": [{"name": "orders"}]}})
    application_id = data["result"]["id"]
    created = await _request(operator, data["result"]["bundles"]["data"][0]["id"])

    nested = await operator.query(NESTED, {"app": application_id})

    assert nested["result"]["bundles"]["data"][0]["instanceAuths"] == [{"id": created["id"]}]


async def test_another_tenants_instance_auth_answers_like_a_missing_one(operator: Operator, tenants: Any) -> None:
    created = await _request(operator, await _bundle(operator, default_auth=True))
    other = await tenants.operator()

    assert (await other.query(READ, {"id": created["id"]}))["result"] is None
    assert await other.error_codes(DELETE, {"id": created["id"]}) == ["NOT_FOUND"]
    assert await other.error_codes(SET, {"id": created["id"], "in": {"auth": DEFAULT_AUTH}}) == ["NOT_FOUND"]
