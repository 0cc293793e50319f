"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for runtime contexts:
register, update, unregister, a runtime's contexts and one of them, assigning one to a formation and unassigning it;
and the automatic scenario assignment queries, which answer as for a tenant that has none."""

from __future__ import annotations

import uuid
from typing import Any

from tests.director.examples.test_shared_types import SYSTEM_AUTH, WEBHOOK
from tests.support import Operator

RUNTIME_CONTEXT = "id key value labels"

RUNTIME_CONTEXT_PAGE = f"""
    data {{ {RUNTIME_CONTEXT} }}
    pageInfo {{ startCursor endCursor hasNextPage }}
    totalCount
"""

RUNTIME = f"""
    id
    name
    description
    applicationNamespace
    labels
    status {{ condition timestamp }}
    metadata {{ creationTimestamp }}
    lastSeen
    agentStatus
    auths {{ {SYSTEM_AUTH} }}
    runtimeContexts {{ {RUNTIME_CONTEXT_PAGE} }}
    webhooks {{ {WEBHOOK} }}
    eventingConfiguration {{ defaultURL }}
"""

FORMATION = """
    id
    name
    formationTemplateId
    state
    error { message errorCode }
    lastStateChangeTimestamp
    lastNotificationSentTimestamp
    tenantID
    status { condition errors { assignmentID message errorCode } }
"""

ASSIGNMENT = "scenarioName selector { key value }"


async def a_runtime(operator: Operator) -> str:
    name = f"runtime-{uuid.uuid4().hex[:8]}"
    data = await operator.query(f'mutation {{ result: registerRuntime(in: {{name: "{name}"}}) {{ id }} }}')
    runtime_id: str = data["result"]["id"]
    return runtime_id


async def a_context(operator: Operator, runtime_id: str, key: str, value: str) -> dict[str, Any]:
    data = await operator.query(
        f'mutation {{ result: registerRuntimeContext(runtimeID: "{runtime_id}", '
        f'in: {{key: "{key}", value: "{value}"}}) {{ {RUNTIME_CONTEXT} }} }}'
    )
    context: dict[str, Any] = data["result"]
    return context


async def a_formation(operator: Operator) -> str:
    name = f"formation-{uuid.uuid4().hex[:8]}"
    await operator.query(f'mutation {{ result: createFormation(formation: {{name: "{name}"}}) {{ name }} }}')
    return name


async def test_register_runtime_context(operator: Operator) -> None:
    # given
    runtime_id = await a_runtime(operator)

    # when
    data = await operator.query(f"""
    mutation {{
      result: registerRuntimeContext(
        runtimeID: "{runtime_id}"
        in: {{ key: "create", value: "create" }}
      ) {{ {RUNTIME_CONTEXT} }}
    }}
    """)

    # then
    registered = data["result"]
    assert registered == {"id": registered["id"], "key": "create", "value": "create", "labels": {}}


async def test_update_runtime_context(operator: Operator) -> None:
    # given
    context = await a_context(operator, await a_runtime(operator), "runtimeContext", "runtimeContext")

    # when
    data = await operator.query(f"""
    mutation {{
      result: updateRuntimeContext(
        id: "{context["id"]}"
        in: {{ key: "updateRuntimeContext", value: "updateRuntimeContext" }}
      ) {{ {RUNTIME_CONTEXT} }}
    }}
    """)

    # then
    assert data["result"] == {
        "id": context["id"],
        "key": "updateRuntimeContext",
        "value": "updateRuntimeContext",
        "labels": {},
    }


async def test_unregister_runtime_context(operator: Operator) -> None:
    # given
    context = await a_context(operator, await a_runtime(operator), "deleteRuntimeContext", "deleteRuntimeContext")

    # when
    data = await operator.query(f"""
    mutation {{
      result: unregisterRuntimeContext(id: "{context["id"]}") {{ {RUNTIME_CONTEXT} }}
    }}
    """)

    # then: the labels of a context that no longer exists are null, as in Compass
    assert data["result"] == {
        "id": context["id"],
        "key": "deleteRuntimeContext",
        "value": "deleteRuntimeContext",
        "labels": None,
    }


async def test_query_runtime_contexts(operator: Operator) -> None:
    # given
    runtime_id = await a_runtime(operator)
    contexts = [
        await a_context(operator, runtime_id, "queryRuntimeContexts1", "queryRuntimeContexts1"),
        await a_context(operator, runtime_id, "queryRuntimeContexts2", "queryRuntimeContexts2"),
    ]

    # when
    data = await operator.query(f'query {{ result: runtime(id: "{runtime_id}") {{ {RUNTIME} }} }}')

    # then
    assert data["result"]["id"] == runtime_id
    assert data["result"]["runtimeContexts"] == {
        "data": sorted(contexts, key=lambda context: context["id"]),
        "pageInfo": {"startCursor": data["result"]["runtimeContexts"]["pageInfo"]["startCursor"], "endCursor": "",
                     "hasNextPage": False},
        "totalCount": 2,
    }  # fmt: skip


async def test_query_runtime_context(operator: Operator) -> None:
    # given
    runtime_id = await a_runtime(operator)
    context = await a_context(operator, runtime_id, "create", "create")

    # when
    data = await operator.query(f"""
    query {{
      result: runtime(id: "{runtime_id}") {{
        {RUNTIME}
        runtimeContext(id: "{context["id"]}") {{ {RUNTIME_CONTEXT} }}
      }}
    }}
    """)

    # then
    assert data["result"]["runtimeContext"] == context
    assert data["result"]["runtimeContexts"]["data"] == [context]


async def test_assign_runtime_context_to_formation(operator: Operator) -> None:
    # given
    runtime_id = await a_runtime(operator)
    context = await a_context(operator, runtime_id, "subscription", "consumer")
    formation = await a_formation(operator)

    # when
    data = await operator.query(f"""
    mutation {{
      result: assignFormation(
        objectID: "{context["id"]}"
        objectType: RUNTIME_CONTEXT
        formation: {{ name: "{formation}" }}
      ) {{ {FORMATION} }}
    }}
    """)

    # then
    result = data["result"]
    assert (result["name"], result["state"], result["status"]["condition"]) == (formation, "READY", "READY")
    assert result["tenantID"] == operator.tenant_id
    labels = await operator.query(
        f'query {{ result: runtime(id: "{runtime_id}") {{ runtimeContext(id: "{context["id"]}") {{ labels }} }} }}'
    )
    assert labels["result"]["runtimeContext"]["labels"] == {"scenarios": [formation]}


async def test_unassign_runtime_context_from_formation(operator: Operator) -> None:
    # given
    runtime_id = await a_runtime(operator)
    context = await a_context(operator, runtime_id, "subscription", "consumer")
    formation = await a_formation(operator)
    await operator.query(
        f'mutation {{ result: assignFormation(objectID: "{context["id"]}", objectType: RUNTIME_CONTEXT, '
        f'formation: {{name: "{formation}"}}) {{ name }} }}'
    )

    # when
    data = await operator.query(f"""
    mutation {{
      result: unassignFormation(
        objectID: "{context["id"]}"
        objectType: RUNTIME_CONTEXT
        formation: {{ name: "{formation}" }}
      ) {{ {FORMATION} }}
    }}
    """)

    # then
    result = data["result"]
    assert (result["name"], result["state"], result["status"]["condition"]) == (formation, "READY", "READY")
    labels = await operator.query(
        f'query {{ result: runtime(id: "{runtime_id}") {{ runtimeContext(id: "{context["id"]}") {{ labels }} }} }}'
    )
    assert labels["result"]["runtimeContext"]["labels"] == {}


async def test_query_automatic_scenario_assignments(operator: Operator) -> None:
    data = await operator.query(f"""
    query {{
      result: automaticScenarioAssignments {{
        data {{ {ASSIGNMENT} }}
        pageInfo {{ startCursor endCursor hasNextPage }}
        totalCount
      }}
    }}
    """)

    assert data["result"] == {
        "data": [],
        "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": False},
        "totalCount": 0,
    }


async def test_query_automatic_scenario_assignments_for_selector(operator: Operator) -> None:
    data = await operator.query(f"""
    query {{
      result: automaticScenarioAssignmentsForSelector(
        selector: {{ key: "global_subaccount_id", value: "{operator.tenant_id}" }}
      ) {{ {ASSIGNMENT} }}
    }}
    """)

    assert data["result"] == []


async def test_query_automatic_scenario_assignment_for_scenario(operator: Operator) -> None:
    body = await operator.execute(f"""
    query {{
      result: automaticScenarioAssignmentForScenario(scenarioName: "ASA1") {{ {ASSIGNMENT} }}
    }}
    """)

    assert body["data"] == {"result": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]
