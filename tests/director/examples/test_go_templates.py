"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for webhooks whose templates
call Go's builtins, sprig's and Compass's functions: accepted as Compass accepts them, refused as Go's parser does."""

from __future__ import annotations

import json
import uuid

from tests.director.examples.test_shared_types import WEBHOOK, without_generated
from tests.director.test_go_templates import KYMA_INPUT, KYMA_OUTPUT, KYMA_URL
from tests.support import Operator

UNDEFINED_FUNCTION = '{"id": {{ uuid .FormationID | quote }}}'
HEADERS = '{"Content-Type": ["application/json"], "X-Formation": [{{ .FormationID | quote }}]}'


async def register_runtime(operator: Operator) -> str:
    data = await operator.query(
        f'mutation {{ result: registerRuntime(in: {{name: "rt-{uuid.uuid4().hex[:8]}"}}) {{ id }} }}'
    )
    runtime_id: str = data["result"]["id"]
    return runtime_id


async def test_add_webhook_with_the_kyma_adapters_templates(operator: Operator) -> None:
    # given
    runtime_id = await register_runtime(operator)
    document = (
        "mutation {\n"
        f'  result: addWebhook(runtimeID: "{runtime_id}", in: {{\n'
        "    type: CONFIGURATION_CHANGED\n"
        "    mode: SYNC\n"
        f"    urlTemplate: {json.dumps(KYMA_URL)}\n"
        f"    inputTemplate: {json.dumps(KYMA_INPUT)}\n"
        f"    headerTemplate: {json.dumps(HEADERS)}\n"
        f"    outputTemplate: {json.dumps(KYMA_OUTPUT)}\n"
        f"  }}) {{ {WEBHOOK} }}\n"
        "}"
    )

    # when
    added = (await operator.query(document))["result"]

    # then
    assert without_generated(added, "id", "createdAt") == {
        "applicationID": None,
        "applicationTemplateID": None,
        "runtimeID": runtime_id,
        "integrationSystemID": None,
        "formationTemplateID": None,
        "type": "CONFIGURATION_CHANGED",
        "mode": "SYNC",
        "correlationIdKey": None,
        "retryInterval": None,
        "timeout": None,
        "url": None,
        "auth": None,
        "urlTemplate": KYMA_URL,
        "inputTemplate": KYMA_INPUT,
        "headerTemplate": HEADERS,
        "outputTemplate": KYMA_OUTPUT,
        "statusTemplate": None,
    }


async def test_add_webhook_refuses_a_template_calling_an_undefined_function(operator: Operator) -> None:
    # given
    runtime_id = await register_runtime(operator)
    document = (
        "mutation {\n"
        f'  result: addWebhook(runtimeID: "{runtime_id}", in: {{\n'
        "    type: CONFIGURATION_CHANGED\n"
        f"    urlTemplate: {json.dumps(KYMA_URL)}\n"
        f"    inputTemplate: {json.dumps(UNDEFINED_FUNCTION)}\n"
        f"  }}) {{ {WEBHOOK} }}\n"
        "}"
    )

    # when
    body = await operator.execute(document)

    # then
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["message"] == (
        'webhook.inputTemplate does not parse as a Go template: line 1: function "uuid" not defined'
    )
