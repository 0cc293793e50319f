"""Compass's ASYNC mode without an operations controller, and its scheduled operations (there are none here)."""

from __future__ import annotations

from kernel.principal import ALL_SCOPES, Scope
from tests.support import Operator, TenantFactory

REGISTER = """
mutation ($in: ApplicationRegisterInput!, $mode: OperationMode) {
  result: registerApplication(in: $in, mode: $mode) { id status { condition } }
}
"""
UNREGISTER = "mutation ($id: ID!, $mode: OperationMode) { result: unregisterApplication(id: $id, mode: $mode) { id } }"
OPERATION = 'query { result: operation(id: "6c1d3e0b-6b5a-4d4a-9cd3-2f8e5c1d9a11") { id } }'


async def test_sync_registration_keeps_the_status_given(operator: Operator) -> None:
    data = await operator.query(REGISTER, {"in": {"name": "sync", "statusCondition": "CONNECTED"}, "mode": "SYNC"})

    assert data["result"]["status"]["condition"] == "CONNECTED"


async def test_async_registration_without_a_register_webhook_finishes_as_create_succeeded(operator: Operator) -> None:
    data = await operator.query(REGISTER, {"in": {"name": "async", "statusCondition": "INITIAL"}, "mode": "ASYNC"})

    assert data["result"]["status"]["condition"] == "CREATE_SUCCEEDED"


async def test_async_registration_with_a_register_webhook_is_refused_and_registers_nothing(operator: Operator) -> None:
    hook = {"type": "REGISTER_APPLICATION", "url": "https://hook.example.com"}

    codes = await operator.error_codes(REGISTER, {"in": {"name": "hooked", "webhooks": [hook]}, "mode": "ASYNC"})

    assert codes == ["INVALID_INPUT"]
    assert (await operator.query("query { result: applications { totalCount } }"))["result"]["totalCount"] == 0


async def test_async_unregistration_with_an_unregister_webhook_is_refused(operator: Operator) -> None:
    output = '{"location": "{{.Headers.Location}}", "success_status_code": 202, "error": "{{.Body.error}}"}'
    hook = {"type": "UNREGISTER_APPLICATION", "url": "https://hook.example.com", "outputTemplate": output}
    registered = await operator.query(REGISTER, {"in": {"name": "hooked", "webhooks": [hook]}})
    application_id = registered["result"]["id"]

    codes = await operator.error_codes(UNREGISTER, {"id": application_id, "mode": "ASYNC"})

    assert codes == ["INVALID_INPUT"]
    assert (await operator.query(UNREGISTER, {"id": application_id, "mode": "SYNC"}))["result"]["id"] == application_id


async def test_async_unregistration_of_another_tenants_application_is_not_found(
    operator: Operator, tenants: TenantFactory
) -> None:
    other = await tenants.operator()
    registered = await other.query(REGISTER, {"in": {"name": "theirs"}})

    assert await operator.error_codes(UNREGISTER, {"id": registered["result"]["id"], "mode": "ASYNC"}) == ["NOT_FOUND"]


async def test_operations_need_their_scopes(tenants: TenantFactory) -> None:
    operator = await tenants.operator(scopes=sorted(ALL_SCOPES - {Scope.OPERATION_READ, Scope.OPERATION_SCHEDULE}))
    schedule = 'mutation { result: scheduleOperation(operationID: "6c1d3e0b-6b5a-4d4a-9cd3-2f8e5c1d9a11") { id } }'

    assert await operator.error_codes(OPERATION) == ["FORBIDDEN"]
    assert await operator.error_codes(schedule) == ["FORBIDDEN"]


async def test_an_application_has_no_scheduled_operations(operator: Operator) -> None:
    await operator.query(REGISTER, {"in": {"name": "plain"}})

    data = await operator.query("query { result: applications { data { operations { id } } } }")

    assert data["result"]["data"] == [{"operations": []}]
