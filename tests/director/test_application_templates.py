"""Application templates: validation refusals, placeholder substitution, the application a template registers
(in the caller's tenant, seen by the runtimes of its formations), and what a page of templates costs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from kernel.db import Database
from kernel.principal import ALL_SCOPES, Scope
from testing.statements import count_statements
from tests.director.test_applications_for_runtime import create_formations, register_runtime, visible_names
from tests.support import Operator, TenantFactory

CREATE = """
mutation ($in: ApplicationTemplateInput!) {
  result: createApplicationTemplate(in: $in) { id name applicationInput placeholders { name optional } }
}
"""
UPDATE = """
mutation ($id: ID!, $in: ApplicationTemplateUpdateInput!, $override: Boolean) {
  result: updateApplicationTemplate(id: $id, in: $in, override: $override) { id name labels webhooks { url } }
}
"""
REGISTER = """
mutation ($in: ApplicationFromTemplateInput!) {
  result: registerApplicationFromTemplate(in: $in) { id name description labels applicationTemplateID }
}
"""
APPLICATION = "query ($id: ID!) { result: application(id: $id) { id name applicationTemplate { id } } }"
TEMPLATES_WITH_WEBHOOKS = """
query ($filter: [LabelFilter!]) {
  result: applicationTemplates(filter: $filter) { data { id name labels webhooks { id url } } totalCount }
}
"""


def unique(prefix: str = "template") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def template_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": unique(),
        "applicationInput": {
            "name": "{{name}}",
            "description": "{{description}}",
            "labels": {"env": "{{env}}"},
        },
        "placeholders": [{"name": "name"}, {"name": "description"}, {"name": "env", "optional": True}],
        "accessLevel": "GLOBAL",
    }
    return {**data, **overrides}


async def create(operator: Operator, **overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await operator.query(CREATE, {"in": template_input(**overrides)}))["result"]
    return result


def values(**given: str) -> list[dict[str, str]]:
    return [{"placeholder": name, "value": value} for name, value in given.items()]


async def register(operator: Operator, template: str, **given: str) -> dict[str, Any]:
    data = await operator.query(REGISTER, {"in": {"templateName": template, "values": values(**given)}})
    result: dict[str, Any] = data["result"]
    return result


class TestTemplateValidation:
    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"placeholders": [{"name": "name"}, {"name": "name"}]}, "not unique"),
            (
                {
                    "placeholders": [
                        {"name": "name"},
                        {"name": "description"},
                        {"name": "env"},
                        {"name": "unused"},
                    ]
                },
                "does not use provided placeholder [name=unused]",
            ),
            ({"placeholders": [{"name": "name"}, {"name": "env"}]}, "[name=description] is used"),
            ({"placeholders": [{"name": "Name"}]}, "placeholder name 'Name'"),
            ({"name": "tab\tin name"}, "printable ASCII"),
            ({"name": "x" * 101}, "1 to 100"),
            ({"description": "x" * 2001}, "description must be at most 2000"),
            (
                {
                    "applicationInput": {"name": "{{name}}", "providerName": "SAP"},
                    "placeholders": [{"name": "name"}],
                },
                "SAP <product name>",
            ),
        ],
    )
    async def test_an_invalid_template_is_refused_with_invalid_input(
        self, operator: Operator, overrides: dict[str, Any], reason: str
    ) -> None:
        body = await operator.execute(CREATE, {"in": template_input(**overrides)})
        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]
        assert reason in body["errors"][0]["message"]

    async def test_a_second_template_with_the_same_name_and_region_is_a_conflict(
        self, operator: Operator
    ) -> None:
        name = unique()
        await create(operator, name=name, labels={"region": "eu-1"})
        await create(operator, name=name, labels={"region": "eu-2"})
        assert await operator.error_codes(
            CREATE, {"in": template_input(name=name, labels={"region": "eu-1"})}
        ) == ["CONFLICT"]

    async def test_webhook_go_templates_are_not_placeholders(self, operator: Operator) -> None:
        webhook = {
            "type": "CONFIGURATION_CHANGED",
            "urlTemplate": '{"method":"POST","path":"https://x.example.com/{{.Application.ID}}"}',
        }
        application_input = {"name": "{{name}}", "webhooks": [webhook]}
        template = await create(operator, applicationInput=application_input, placeholders=[{"name": "name"}])
        assert template["placeholders"] == [{"name": "name", "optional": False}]

    async def test_reading_templates_needs_the_template_read_scope(self, tenants: TenantFactory) -> None:
        operator = await tenants.operator(scopes=[Scope.APPLICATION_READ])
        query = "{ result: applicationTemplates { totalCount } }"
        assert await operator.error_codes(query) == ["FORBIDDEN"]

    async def test_updating_a_missing_template_is_not_found(self, operator: Operator) -> None:
        variables = {"id": str(uuid.uuid4()), "in": template_input()}
        assert await operator.error_codes(UPDATE, variables) == ["NOT_FOUND"]


class TestUpdate:
    async def test_webhooks_are_kept_unless_given_or_overridden(self, operator: Operator) -> None:
        hook = [{"type": "CONFIGURATION_CHANGED", "url": "https://hooks.example.com/a"}]
        template = await create(operator, webhooks=hook)
        kept = await operator.query(
            UPDATE, {"id": template["id"], "in": template_input(name=template["name"])}
        )
        assert kept["result"]["webhooks"] == [{"url": "https://hooks.example.com/a"}]
        dropped = await operator.query(
            UPDATE, {"id": template["id"], "in": template_input(name=template["name"]), "override": True}
        )
        assert dropped["result"]["webhooks"] == []

    async def test_labels_are_merged_into_the_existing_ones(self, operator: Operator) -> None:
        template = await create(operator, labels={"a": 1})
        variables = {"id": template["id"], "in": template_input(name=template["name"], labels={"b": 2})}
        updated = await operator.query(UPDATE, variables)
        assert updated["result"]["labels"] == {"a": 1, "b": 2}

    async def test_changing_labels_needs_the_template_labels_scope(self, tenants: TenantFactory) -> None:
        operator = await tenants.operator()
        template = await create(operator)
        scopes = sorted(str(scope) for scope in ALL_SCOPES - {Scope.APPLICATION_TEMPLATE_LABELS_WRITE})
        limited = await tenants.operator(scopes=scopes)
        update = {"id": template["id"], "in": template_input(name=template["name"], labels={"b": 2})}
        assert await limited.error_codes(UPDATE, update) == ["FORBIDDEN"]
        without_labels = {"id": template["id"], "in": template_input(name=template["name"])}
        assert (await limited.query(UPDATE, without_labels))["result"]["id"] == template["id"]


class TestRegistration:
    async def test_values_are_put_in_as_json_text_whatever_they_hold(self, operator: Operator) -> None:
        # given
        template = await create(operator)
        tricky = 'a "quoted" \\ back\\slash, {{name}} and \u00e9'
        # when
        application = await register(
            operator, template["name"], name=unique("app"), description=tricky, env="prod"
        )
        # then
        assert application["description"] == tricky
        assert application["labels"]["env"] == "prod"

    async def test_an_optional_placeholder_left_out_drops_the_label_it_alone_made(
        self, operator: Operator
    ) -> None:
        template = await create(operator)
        application = await register(operator, template["name"], name=unique("app"), description="d")
        assert "env" not in application["labels"]
        assert application["labels"]["managed"] == "false"

    async def test_the_template_id_and_template_are_returned(self, operator: Operator) -> None:
        template = await create(operator)
        application = await register(operator, template["name"], name=unique("app"), description="d")
        data = await operator.query(APPLICATION, {"id": application["id"]})
        assert application["applicationTemplateID"] == template["id"]
        assert data["result"]["applicationTemplate"] == {"id": template["id"]}

    async def test_the_template_is_null_to_a_caller_without_its_field_scope(
        self, tenants: TenantFactory
    ) -> None:
        operator = await tenants.operator()
        template = await create(operator)
        application = await register(operator, template["name"], name=unique("app"), description="d")
        scopes = sorted(str(scope) for scope in ALL_SCOPES - {Scope.APPLICATION_APPLICATION_TEMPLATE_READ})
        narrow = await tenants.operator(scopes=scopes, tenant_id=operator.tenant_id)
        data = await narrow.query(APPLICATION, {"id": application["id"]})
        assert data["result"]["applicationTemplate"] is None

    @pytest.mark.parametrize(
        ("given", "reason"),
        [
            ({"name": "app-x"}, "required placeholder 'description' not provided"),
            ({"name": "app-x", "description": "d", "colour": "red"}, "no placeholder 'colour'"),
        ],
    )
    async def test_missing_and_unknown_placeholders_are_refused(
        self, operator: Operator, given: dict[str, str], reason: str
    ) -> None:
        template = await create(operator)
        body = await operator.execute(
            REGISTER, {"in": {"templateName": template["name"], "values": values(**given)}}
        )
        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]
        assert reason in body["errors"][0]["message"]

    async def test_a_placeholder_given_twice_is_refused(self, operator: Operator) -> None:
        template = await create(operator)
        given = [{"placeholder": "name", "value": "a"}, {"placeholder": "name", "value": "b"}]
        variables = {"in": {"templateName": template["name"], "values": given}}
        assert await operator.error_codes(REGISTER, variables) == ["INVALID_INPUT"]

    async def test_values_and_a_payload_together_are_refused(self, operator: Operator) -> None:
        template = await create(operator)
        variables = {
            "in": {"templateName": template["name"], "values": values(name="a"), "placeholdersPayload": "{}"}
        }
        assert await operator.error_codes(REGISTER, variables) == ["INVALID_INPUT"]

    async def test_a_payload_fills_placeholders_at_their_json_paths(self, operator: Operator) -> None:
        placeholders = [
            {"name": "name", "jsonPath": "$.app.name"},
            {"name": "description", "jsonPath": "$.tags[1]"},
        ]
        application_input = {"name": "{{name}}", "description": "{{description}}"}
        template = await create(operator, applicationInput=application_input, placeholders=placeholders)
        name = unique("app")
        payload = json.dumps({"app": {"name": name}, "tags": ["x", "second"]})
        data = await operator.query(
            REGISTER, {"in": {"templateName": template["name"], "placeholdersPayload": payload}}
        )
        assert (data["result"]["name"], data["result"]["description"]) == (name, "second")

    async def test_a_result_that_is_no_valid_application_input_is_refused(self, operator: Operator) -> None:
        application_input = {"name": "{{name}}", "statusCondition": "CONNECTED", "healthCheckURL": "{{url}}"}
        template = await create(
            operator, applicationInput=application_input, placeholders=[{"name": "name"}, {"name": "url"}]
        )
        given = {"name": unique("app"), "url": "not a url"}
        body = await operator.execute(
            REGISTER, {"in": {"templateName": template["name"], "values": values(**given)}}
        )
        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]

    async def test_an_unknown_template_is_not_found(self, operator: Operator) -> None:
        variables = {"in": {"templateName": unique(), "values": values(name="a")}}
        assert await operator.error_codes(REGISTER, variables) == ["NOT_FOUND"]

    async def test_a_name_taken_in_the_tenant_is_a_conflict_as_with_register_application(
        self, operator: Operator
    ) -> None:
        template = await create(operator)
        name = unique("app")
        await register(operator, template["name"], name=name, description="d")
        variables = {"in": {"templateName": template["name"], "values": values(name=name, description="d")}}
        assert await operator.error_codes(REGISTER, variables) == ["CONFLICT"]

    async def test_the_application_is_seen_by_the_runtimes_of_its_formations(
        self, operator: Operator
    ) -> None:
        # given
        formation = unique("formation")
        await create_formations(operator, formation)
        runtime_id = await register_runtime(operator, scenarios=[formation])
        application_input = {"name": "{{name}}", "labels": {"scenarios": ["{{formation}}"]}}
        template = await create(
            operator,
            applicationInput=application_input,
            placeholders=[{"name": "name"}, {"name": "formation"}],
        )
        name = unique("app")
        # when
        await register(operator, template["name"], name=name, formation=formation)
        # then
        assert await visible_names(operator, runtime_id) == [f"mp-{name}"]  # runtimes see normalized names


class TestIsolation:
    async def test_templates_are_global_but_what_they_register_is_the_callers(
        self, tenants: TenantFactory
    ) -> None:
        # given
        owner = await tenants.operator()
        other = await tenants.operator()
        template = await create(owner)
        # when: the other tenant reads the same template and registers from it
        seen = await other.query(
            "query ($id: ID!) { result: applicationTemplate(id: $id) { id } }", {"id": template["id"]}
        )
        mine = await register(other, template["name"], name=unique("app"), description="d")
        # then
        assert seen["result"] == {"id": template["id"]}
        assert (await owner.query(APPLICATION, {"id": mine["id"]}))["result"] is None
        assert (await other.query(APPLICATION, {"id": mine["id"]}))["result"]["id"] == mine["id"]

    async def test_a_templates_webhook_is_changed_only_with_the_template_write_scope(
        self, tenants: TenantFactory
    ) -> None:
        # given a template's webhook, and an operator of another tenant without application_template:write
        operator = await tenants.operator()
        template = await create(
            operator, webhooks=[{"type": "CONFIGURATION_CHANGED", "url": "https://h.example.com/t"}]
        )
        read = "query ($id: ID!) { result: applicationTemplate(id: $id) { webhooks { id url } } }"
        [webhook] = (await operator.query(read, {"id": template["id"]}))["result"]["webhooks"]
        scopes = sorted(str(scope) for scope in ALL_SCOPES - {Scope.APPLICATION_TEMPLATE_WRITE})
        limited = await tenants.operator(scopes=scopes)
        update = """
            mutation ($id: ID!) {
              result: updateWebhook(webhookID: $id, in: {type: CONFIGURATION_CHANGED, url: "https://h.example.com/u"}) {
                id url applicationTemplateID
              }
            }"""
        delete = "mutation ($id: ID!) { result: deleteWebhook(webhookID: $id) { id } }"
        # when / then: to it, the webhook is no webhook of its tenant
        assert await limited.error_codes(update, {"id": webhook["id"]}) == ["NOT_FOUND"]
        assert await limited.error_codes(delete, {"id": webhook["id"]}) == ["NOT_FOUND"]
        # when / then: the template's writer changes and deletes it
        updated = await operator.query(update, {"id": webhook["id"]})
        assert updated["result"] == {
            "id": webhook["id"],
            "url": "https://h.example.com/u",
            "applicationTemplateID": template["id"],
        }
        await operator.query(delete, {"id": webhook["id"]})
        assert (await operator.query(read, {"id": template["id"]}))["result"]["webhooks"] == []


async def test_a_page_of_templates_with_webhooks_costs_the_same_for_1_and_20(
    operator: Operator, database: Database
) -> None:
    # given templates that share a marker label, each with two webhooks
    marker = unique("marker")
    hooks = [
        {"type": "CONFIGURATION_CHANGED", "url": f"https://hooks.example.com/{index}"} for index in range(2)
    ]
    query = {"filter": [{"key": "marker", "query": json.dumps(marker)}]}
    await create(operator, webhooks=hooks, labels={"marker": marker})
    with count_statements(database) as with_one:
        one = await operator.query(TEMPLATES_WITH_WEBHOOKS, query)
    for _ in range(19):
        await create(operator, webhooks=hooks, labels={"marker": marker})
    # when
    with count_statements(database) as with_twenty:
        twenty = await operator.query(TEMPLATES_WITH_WEBHOOKS, query)
    # then: the templates, then their webhooks in one statement
    assert one["result"]["totalCount"] == 1
    assert twenty["result"]["totalCount"] == 20
    assert {len(row["webhooks"]) for row in twenty["result"]["data"]} == {2}
    assert len(with_one) == len(with_twenty) == 2, "\n\n".join(with_twenty)


class TestApplicationsGlobal:
    DOCUMENT = """
    query ($filter: [LabelFilter!]) {
      result: applicationsGlobal(filter: $filter) {
        data { application { id name labels } tenants { internalID } }
        totalCount
      }
    }
    """

    async def test_it_needs_the_platform_scope_a_default_token_lacks(self, operator: Operator) -> None:
        assert await operator.error_codes(self.DOCUMENT) == ["FORBIDDEN"]

    async def test_it_lists_every_tenants_applications_with_their_tenant(
        self, tenants: TenantFactory
    ) -> None:
        # given two tenants' applications sharing a label, and a reader in a third tenant
        marker = unique("marker")
        owners = [await tenants.operator(), await tenants.operator()]
        registered = {}
        for owner in owners:
            data = await owner.query(
                "mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }",
                {"in": {"name": unique("app"), "labels": {"marker": marker}}},
            )
            registered[data["result"]["id"]] = owner.tenant_id
        reader = await tenants.operator(scopes=[*sorted(ALL_SCOPES), Scope.APPLICATION_GLOBAL_READ])
        # when
        data = await reader.query(self.DOCUMENT, {"filter": [{"key": "marker", "query": json.dumps(marker)}]})
        # then: each with its own tenant; labels are read in the reader's tenant, so they are empty
        rows = data["result"]["data"]
        assert data["result"]["totalCount"] == 2
        assert {row["application"]["id"]: row["tenants"][0]["internalID"] for row in rows} == registered
        assert [row["application"]["labels"] for row in rows] == [{}, {}]


async def test_the_templates_of_a_page_of_applications_cost_one_statement(
    operator: Operator, database: Database
) -> None:
    # given applications of two templates sharing a marker label
    marker = unique("marker")
    templates = [await create(operator), await create(operator)]
    query = """
        query ($filter: [LabelFilter!]) {
          result: applications(filter: $filter) { data { id applicationTemplate { id name } } totalCount }
        }"""
    variables = {"filter": [{"key": "marker", "query": json.dumps(marker)}]}

    async def register_marked(template: dict[str, Any]) -> None:
        given = {"templateName": template["name"], "values": values(name=unique("app"), description="d")}
        await operator.query(REGISTER, {"in": {**given, "labels": {"marker": marker}}})

    await register_marked(templates[0])
    with count_statements(database) as with_one:
        one = await operator.query(query, variables)
    for index in range(9):
        await register_marked(templates[index % 2])
    # when
    with count_statements(database) as with_ten:
        ten = await operator.query(query, variables)
    # then: count and page of applications, then the templates in one statement
    assert (one["result"]["totalCount"], ten["result"]["totalCount"]) == (1, 10)
    assert {row["applicationTemplate"]["id"] for row in ten["result"]["data"]} == {
        row["id"] for row in templates
    }
    assert len(with_one) == len(with_ten) == 3, "\n\n".join(with_ten)
