"""Webhooks of applications over HTTP: add, update, delete, and tenant isolation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.support import Operator, TenantFactory

REGISTER = """
mutation Register($in: ApplicationRegisterInput!) {
  result: registerApplication(in: $in) { id webhooks { id } }
}
"""

REGISTER_RUNTIME = "mutation Register($name: String!) { result: registerRuntime(in: {name: $name}) { id } }"

UNREGISTER = "mutation Unregister($id: ID!) { result: unregisterApplication(id: $id) { id } }"

WEBHOOK_FIELDS = """
  id
  applicationID
  runtimeID
  type
  mode
  url
  auth {
    credential {
      ... on BasicCredentialData { username password }
      ... on OAuthCredentialData { clientId clientSecret url }
    }
    additionalHeaders
  }
"""

ADD_WEBHOOK = f"""
mutation AddWebhook($applicationID: ID!, $in: WebhookInput!) {{
  result: addWebhook(applicationID: $applicationID, in: $in) {{ {WEBHOOK_FIELDS} }}
}}
"""

ADD_WEBHOOK_TO = """
mutation AddWebhook($applicationID: ID, $runtimeID: ID) {
  result: addWebhook(
    applicationID: $applicationID, runtimeID: $runtimeID,
    in: {type: CONFIGURATION_CHANGED, url: "https://shop.example.com/hooks/config"}
  ) { id }
}
"""

UPDATE_WEBHOOK = f"""
mutation UpdateWebhook($webhookID: ID!, $in: WebhookInput!) {{
  result: updateWebhook(webhookID: $webhookID, in: $in) {{ {WEBHOOK_FIELDS} }}
}}
"""

DELETE_WEBHOOK = """
mutation DeleteWebhook($webhookID: ID!) { result: deleteWebhook(webhookID: $webhookID) { id url } }
"""

WEBHOOKS = f"""
query Webhooks($id: ID!) {{ result: application(id: $id) {{ webhooks {{ {WEBHOOK_FIELDS} }} }} }}
"""

# Compass's response reading: the status code that means success, and where the error is.
OUTPUT_TEMPLATE = '{"location": "{{.Headers.Location}}", "success_status_code": 202, "error": "{{.Body.error}}"}'
STATUS_TEMPLATE = (
    '{"status": "{{.Body.status}}", "success_status_code": 200, "success_status_identifier": "SUCCEEDED", '
    '"in_progress_status_identifier": "IN_PROGRESS", "failed_status_identifier": "FAILED", "error": "{{.Body.error}}"}'
)

OAUTH = {"clientId": "hook-client", "clientSecret": "hook-secret", "url": "https://auth.example.com/token"}


async def register(operator: Operator, webhooks: list[dict[str, Any]] | None = None) -> tuple[str, list[str]]:
    """An application with the given webhooks: its id and the webhook ids."""
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(REGISTER, {"in": {"name": name, "webhooks": webhooks or []}})
    return data["result"]["id"], [row["id"] for row in data["result"]["webhooks"]]


async def webhooks_of(operator: Operator, application_id: str) -> list[dict[str, Any]]:
    data = await operator.query(WEBHOOKS, {"id": application_id})
    webhooks: list[dict[str, Any]] = data["result"]["webhooks"]
    return webhooks


def config_hook(url: str = "https://shop.example.com/hooks/config") -> dict[str, Any]:
    return {"type": "CONFIGURATION_CHANGED", "url": url}


class TestAddWebhook:
    async def test_answers_with_the_webhook_and_the_application_lists_it(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)
        webhook = {
            "type": "CONFIGURATION_CHANGED",
            "url": "https://shop.example.com/hooks/config",
            "mode": "ASYNC_CALLBACK",
            "auth": {"credential": {"oauth": OAUTH}, "additionalHeadersSerialized": '{"X-Hook": ["1"]}'},
        }

        # when
        data = await operator.query(ADD_WEBHOOK, {"applicationID": application_id, "in": webhook})

        # then
        added = data["result"]
        assert {key: value for key, value in added.items() if key != "id"} == {
            "applicationID": application_id,
            "runtimeID": None,
            "type": "CONFIGURATION_CHANGED",
            "mode": "ASYNC_CALLBACK",
            "url": "https://shop.example.com/hooks/config",
            "auth": {"credential": OAUTH, "additionalHeaders": {"X-Hook": ["1"]}},
        }
        assert await webhooks_of(operator, application_id) == [added]

    async def test_accepts_values_written_into_the_document(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)
        document = f"""
        mutation {{
          result: addWebhook(applicationID: "{application_id}", in: {{
            type: REGISTER_APPLICATION
            url: "https://shop.example.com/hooks/register"
            outputTemplate: "{{\\"success_status_code\\": 200, \\"error\\": \\"{{{{.Body.error}}}}\\"}}"
            auth: {{credential: {{basic: {{username: "hook", password: "pw"}}}}}}
          }}) {{ {WEBHOOK_FIELDS} }}
        }}
        """

        # when
        added = (await operator.query(document))["result"]

        # then
        assert (added["type"], added["url"], added["auth"]["credential"]) == (
            "REGISTER_APPLICATION",
            "https://shop.example.com/hooks/register",
            {"username": "hook", "password": "pw"},
        )

    async def test_adds_beside_the_webhooks_given_at_registration(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator, [config_hook("https://a.example.com")])

        # when
        await operator.query(
            ADD_WEBHOOK, {"applicationID": application_id, "in": config_hook("https://b.example.com")}
        )

        # then
        urls = [row["url"] for row in await webhooks_of(operator, application_id)]
        assert urls == ["https://a.example.com", "https://b.example.com"]

    @pytest.mark.parametrize("url", ["not a url", "ftp://files.example.com/hook", "https://"])
    async def test_a_url_that_is_not_absolute_http_is_invalid_input(
        self, operator: Operator, url: str
    ) -> None:
        # given
        application_id, _ = await register(operator)

        # when
        codes = await operator.error_codes(
            ADD_WEBHOOK, {"applicationID": application_id, "in": config_hook(url)}
        )

        # then
        assert codes == ["INVALID_INPUT"]
        assert await webhooks_of(operator, application_id) == []

    async def test_an_auth_with_both_basic_and_oauth_is_invalid_input(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)
        auth = {"credential": {"basic": {"username": "u", "password": "p"}, "oauth": OAUTH}}

        # when
        codes = await operator.error_codes(
            ADD_WEBHOOK, {"applicationID": application_id, "in": {**config_hook(), "auth": auth}}
        )

        # then
        assert codes == ["INVALID_INPUT"]
        assert await webhooks_of(operator, application_id) == []

    async def test_a_nonexistent_application_is_not_found(self, operator: Operator) -> None:
        variables = {"applicationID": str(uuid.uuid4()), "in": config_hook()}

        codes = await operator.error_codes(ADD_WEBHOOK, variables)

        assert codes == ["NOT_FOUND"]

    async def test_without_an_owner_is_invalid_input(self, operator: Operator) -> None:
        assert await operator.error_codes(ADD_WEBHOOK_TO, {}) == ["INVALID_INPUT"]

    async def test_with_both_an_application_and_a_runtime_is_invalid_input(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)
        runtime = await operator.query(REGISTER_RUNTIME, {"name": f"rt-{uuid.uuid4().hex[:8]}"})
        runtime_id = runtime["result"]["id"]

        # when
        codes = await operator.error_codes(
            ADD_WEBHOOK_TO, {"applicationID": application_id, "runtimeID": runtime_id}
        )

        # then
        assert codes == ["INVALID_INPUT"]
        assert await webhooks_of(operator, application_id) == []


TEMPLATE_FIELDS = """
  id
  applicationID
  applicationTemplateID
  runtimeID
  integrationSystemID
  formationTemplateID
  type
  mode
  correlationIdKey
  retryInterval
  timeout
  url
  urlTemplate
  inputTemplate
  headerTemplate
  outputTemplate
  statusTemplate
  createdAt
"""

ADD_TEMPLATED = f"""
mutation AddWebhook($applicationID: ID, $runtimeID: ID, $in: WebhookInput!) {{
  result: addWebhook(applicationID: $applicationID, runtimeID: $runtimeID, in: $in) {{ {TEMPLATE_FIELDS} }}
}}
"""

TEMPLATED_WEBHOOKS = f"""
query Webhooks($id: ID!) {{ result: application(id: $id) {{ webhooks {{ {TEMPLATE_FIELDS} }} }} }}
"""

# A formation notification as Compass's tenant-mapping configuration writes one.
URL_TEMPLATE = '{"path": "https://shop.example.com/formations/{{.Formation.ID}}", "method": "PATCH"}'
INPUT_TEMPLATE = (
    '{"context": {"operation": "{{.Operation}}"}, '
    '"items": [{{range $i, $label := .Application.Labels}}{{if $i}},{{end}}"{{$label}}"{{end}}]}'
)
HEADER_TEMPLATE = '{"Content-Type": ["application/json"]}'


def formation_hook(**changes: Any) -> dict[str, Any]:
    """A CONFIGURATION_CHANGED webhook with every template Compass allows for it."""
    return {
        "type": "CONFIGURATION_CHANGED",
        "mode": "ASYNC_CALLBACK",
        "urlTemplate": URL_TEMPLATE,
        "inputTemplate": INPUT_TEMPLATE,
        "headerTemplate": HEADER_TEMPLATE,
        "outputTemplate": OUTPUT_TEMPLATE,
        "correlationIdKey": "X-Correlation-ID",
        "retryInterval": 60,
        "timeout": 300,
        **changes,
    }


class TestWebhookTemplates:
    async def test_templates_and_call_settings_are_stored_and_returned(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)

        # when
        added = (await operator.query(ADD_TEMPLATED, {"applicationID": application_id, "in": formation_hook()}))

        # then
        webhook = added["result"]
        assert datetime.fromisoformat(webhook.pop("createdAt")).tzinfo is not None
        assert {key: value for key, value in webhook.items() if key != "id"} == {
            "applicationID": application_id,
            "applicationTemplateID": None,
            "runtimeID": None,
            "integrationSystemID": None,
            "formationTemplateID": None,
            "type": "CONFIGURATION_CHANGED",
            "mode": "ASYNC_CALLBACK",
            "correlationIdKey": "X-Correlation-ID",
            "retryInterval": 60,
            "timeout": 300,
            "url": None,
            "urlTemplate": URL_TEMPLATE,
            "inputTemplate": INPUT_TEMPLATE,
            "headerTemplate": HEADER_TEMPLATE,
            "outputTemplate": OUTPUT_TEMPLATE,
            "statusTemplate": None,
        }
        [listed] = (await operator.query(TEMPLATED_WEBHOOKS, {"id": application_id}))["result"]["webhooks"]
        assert {key: value for key, value in listed.items() if key != "createdAt"} == webhook

    async def test_an_async_webhook_keeps_its_status_template(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)
        hook = {
            "type": "UNREGISTER_APPLICATION",
            "mode": "ASYNC",
            "url": "https://shop.example.com/hooks/unregister",
            "outputTemplate": OUTPUT_TEMPLATE,
            "statusTemplate": STATUS_TEMPLATE,
        }

        # when
        data = await operator.query(ADD_TEMPLATED, {"applicationID": application_id, "in": hook})

        # then
        assert (data["result"]["mode"], data["result"]["statusTemplate"]) == ("ASYNC", STATUS_TEMPLATE)

    async def test_an_update_replaces_the_templates_and_clears_those_left_out(self, operator: Operator) -> None:
        # given
        application_id, _ = await register(operator)
        added = await operator.query(ADD_TEMPLATED, {"applicationID": application_id, "in": formation_hook()})
        replacement = {"type": "CONFIGURATION_CHANGED", "url": "https://shop.example.com/hooks/config"}
        update = UPDATE_WEBHOOK.replace(WEBHOOK_FIELDS, TEMPLATE_FIELDS)

        # when
        data = await operator.query(update, {"webhookID": added["result"]["id"], "in": replacement})

        # then
        updated = data["result"]
        assert [updated[key] for key in ("url", "urlTemplate", "inputTemplate", "outputTemplate", "timeout")] == [
            "https://shop.example.com/hooks/config",
            None,
            None,
            None,
            None,
        ]

    async def test_a_runtime_webhook_takes_templates_too(self, operator: Operator) -> None:
        # given
        runtime = await operator.query(REGISTER_RUNTIME, {"name": f"rt-{uuid.uuid4().hex[:8]}"})
        runtime_id = runtime["result"]["id"]

        # when
        data = await operator.query(ADD_TEMPLATED, {"runtimeID": runtime_id, "in": formation_hook()})

        # then
        assert (data["result"]["runtimeID"], data["result"]["urlTemplate"]) == (runtime_id, URL_TEMPLATE)

    @pytest.mark.parametrize(
        ("hook", "message"),
        [
            pytest.param(
                formation_hook(urlTemplate=None), "webhook needs a url or a urlTemplate", id="neither-url-nor-template"
            ),
            pytest.param(
                formation_hook(url="https://shop.example.com/hooks"),
                "give either webhook.url or webhook.urlTemplate, not both",
                id="url-and-template",
            ),
            pytest.param(
                formation_hook(inputTemplate='{"id": {{.Application.ID'),
                "webhook.inputTemplate does not parse as a Go template: line 1: unclosed action",
                id="unclosed-action",
            ),
            pytest.param(
                formation_hook(headerTemplate='{{if .Application}}{"a": ["b"]}'),
                "webhook.headerTemplate does not parse as a Go template: line 1: unexpected EOF: {{if}} has no {{end}}",
                id="if-without-end",
            ),
            pytest.param(
                formation_hook(outputTemplate='{"error": "{{.Body.error}}"}{{end}}'),
                "webhook.outputTemplate does not parse as a Go template: line 1: unexpected {{end}}",
                id="end-without-block",
            ),
            pytest.param(
                formation_hook(mode="ASYNC"),
                "webhook.mode must be SYNC or ASYNC_CALLBACK for type CONFIGURATION_CHANGED",
                id="async-formation-notification",
            ),
            pytest.param(
                {**config_hook(), "type": "REGISTER_APPLICATION", "outputTemplate": OUTPUT_TEMPLATE,
                 "mode": "ASYNC_CALLBACK"},
                "webhook.mode ASYNC_CALLBACK is only for formation webhooks, not REGISTER_APPLICATION",
                id="callback-for-an-application-webhook",
            ),
            pytest.param(
                {**config_hook(), "type": "REGISTER_APPLICATION"},
                "webhook.outputTemplate is required for type REGISTER_APPLICATION",
                id="register-without-output-template",
            ),
            pytest.param(
                {**config_hook(), "type": "UNREGISTER_APPLICATION", "mode": "ASYNC",
                 "outputTemplate": OUTPUT_TEMPLATE},
                "webhook.statusTemplate is required for mode ASYNC",
                id="async-without-status-template",
            ),
            pytest.param(
                {"type": "OPEN_RESOURCE_DISCOVERY", "urlTemplate": URL_TEMPLATE},
                "webhook.urlTemplate: missing template input for type OPEN_RESOURCE_DISCOVERY",
                id="template-for-a-type-without-request-object",
            ),
            pytest.param(formation_hook(retryInterval=-1), "webhook.retryInterval must be 0 or more", id="retry"),
            pytest.param(formation_hook(timeout=-1), "webhook.timeout must be 0 or more", id="timeout"),
            pytest.param(
                config_hook("https://shop.example.com/" + "a" * 240),
                "webhook.url must be at most 256 characters",
                id="url-longer-than-256",
            ),
        ],
    )
    async def test_what_compass_refuses_is_invalid_input_and_adds_nothing(
        self, operator: Operator, hook: dict[str, Any], message: str
    ) -> None:
        # given
        application_id, _ = await register(operator)

        # when
        body = await operator.execute(ADD_TEMPLATED, {"applicationID": application_id, "in": hook})

        # then
        assert [(error["extensions"]["code"], error["message"]) for error in body["errors"]] == [
            ("INVALID_INPUT", message)
        ]
        assert await webhooks_of(operator, application_id) == []

    async def test_registration_refuses_a_webhook_compass_refuses(self, operator: Operator) -> None:
        name = f"app-{uuid.uuid4().hex[:8]}"

        codes = await operator.error_codes(REGISTER, {"in": {"name": name, "webhooks": [formation_hook(url="x")]}})

        assert codes == ["INVALID_INPUT"]


class TestUpdateWebhook:
    async def test_replaces_the_webhook_and_keeps_it_on_its_application(self, operator: Operator) -> None:
        # given
        application_id, [webhook_id] = await register(
            operator, [{**config_hook(), "mode": "SYNC", "auth": {"credential": {"oauth": OAUTH}}}]
        )
        replacement = {
            "type": "UNREGISTER_APPLICATION",
            "url": "https://shop.example.com/hooks/unregister",
            "outputTemplate": OUTPUT_TEMPLATE,
            "auth": {"credential": {"basic": {"username": "new", "password": "pw"}}},
        }

        # when
        data = await operator.query(UPDATE_WEBHOOK, {"webhookID": webhook_id, "in": replacement})

        # then
        updated = data["result"]
        assert updated == {
            "id": webhook_id,
            "applicationID": application_id,
            "runtimeID": None,
            "type": "UNREGISTER_APPLICATION",
            "mode": None,
            "url": "https://shop.example.com/hooks/unregister",
            "auth": {"credential": {"username": "new", "password": "pw"}, "additionalHeaders": None},
        }
        assert await webhooks_of(operator, application_id) == [updated]

    async def test_an_invalid_update_changes_nothing(self, operator: Operator) -> None:
        # given
        application_id, [webhook_id] = await register(operator, [config_hook()])
        before = await webhooks_of(operator, application_id)

        # when
        codes = await operator.error_codes(
            UPDATE_WEBHOOK, {"webhookID": webhook_id, "in": config_hook("mailto:x@y")}
        )

        # then
        assert codes == ["INVALID_INPUT"]
        assert await webhooks_of(operator, application_id) == before

    async def test_a_nonexistent_webhook_is_not_found(self, operator: Operator) -> None:
        variables = {"webhookID": str(uuid.uuid4()), "in": config_hook()}

        codes = await operator.error_codes(UPDATE_WEBHOOK, variables)

        assert codes == ["NOT_FOUND"]


class TestDeleteWebhook:
    async def test_removes_the_webhook(self, operator: Operator) -> None:
        # given
        application_id, [kept, deleted] = await register(
            operator, [config_hook("https://a.example.com"), config_hook("https://b.example.com")]
        )

        # when
        data = await operator.query(DELETE_WEBHOOK, {"webhookID": deleted})

        # then
        assert data == {"result": {"id": deleted, "url": "https://b.example.com"}}
        assert [row["id"] for row in await webhooks_of(operator, application_id)] == [kept]

    async def test_a_nonexistent_webhook_is_not_found(self, operator: Operator) -> None:
        assert await operator.error_codes(DELETE_WEBHOOK, {"webhookID": str(uuid.uuid4())}) == ["NOT_FOUND"]

    async def test_webhooks_go_with_their_application(self, operator: Operator) -> None:
        # given
        application_id, [webhook_id] = await register(operator, [config_hook()])

        # when
        await operator.query(UNREGISTER, {"id": application_id})

        # then
        assert await operator.error_codes(DELETE_WEBHOOK, {"webhookID": webhook_id}) == ["NOT_FOUND"]


MUTATIONS_ON_A_WEBHOOK: dict[str, tuple[str, str, dict[str, Any]]] = {
    "addWebhook": (ADD_WEBHOOK, "applicationID", {"in": config_hook("https://intruder.example.com")}),
    "updateWebhook": (UPDATE_WEBHOOK, "webhookID", {"in": config_hook("https://intruder.example.com")}),
    "deleteWebhook": (DELETE_WEBHOOK, "webhookID", {}),
}


class TestAnotherTenantsWebhook:
    @pytest.mark.parametrize("mutation", MUTATIONS_ON_A_WEBHOOK)
    async def test_mutations_answer_not_found_as_for_a_nonexistent_id(
        self, tenants: TenantFactory, mutation: str
    ) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        application_id, [webhook_id] = await register(owner, [config_hook()])
        document, argument, variables = MUTATIONS_ON_A_WEBHOOK[mutation]
        target_id = application_id if argument == "applicationID" else webhook_id
        missing_id = str(uuid.uuid4())

        # when
        foreign = await stranger.execute(document, {argument: target_id, **variables})
        missing = await stranger.execute(document, {argument: missing_id, **variables})

        # then
        assert [error["extensions"]["code"] for error in foreign["errors"]] == ["NOT_FOUND"]
        assert foreign["data"] is None
        foreign_message = foreign["errors"][0]["message"].replace(target_id, "<id>")
        assert foreign_message == missing["errors"][0]["message"].replace(missing_id, "<id>")

    @pytest.mark.parametrize("mutation", MUTATIONS_ON_A_WEBHOOK)
    async def test_mutations_change_nothing_in_the_owning_tenant(
        self, tenants: TenantFactory, mutation: str
    ) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        application_id, [webhook_id] = await register(owner, [config_hook()])
        document, argument, variables = MUTATIONS_ON_A_WEBHOOK[mutation]
        target_id = application_id if argument == "applicationID" else webhook_id
        before = await webhooks_of(owner, application_id)

        # when
        await stranger.execute(document, {argument: target_id, **variables})

        # then
        assert await webhooks_of(owner, application_id) == before
