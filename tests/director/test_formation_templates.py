"""Formation templates and constraints: validation, the scope of global and tenant templates, the types a
template admits, constraint enforcement, and statement counts."""

from __future__ import annotations

import pytest

from kernel.db import Database
from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from testing.statements import count_statements
from tests.director.examples.test_formations import (
    CONSTRAINT_INPUT_TEMPLATE,
    DEFAULT_TEMPLATE_ID,
    assign,
    create_constraint,
    create_formation,
    create_template,
    register_application,
    register_runtime,
    unique,
)
from tests.support import Operator, TenantFactory

CREATE_TEMPLATE = "mutation {{ result: createFormationTemplate(in: {{ {fields} }}) {{ id }} }}"


@pytest.fixture
async def operator(tenants: TenantFactory) -> Operator:
    """Every scope, the platform scope formation_constraint:write too: formation constraints are global."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


def create_document(fields: str) -> str:
    return CREATE_TEMPLATE.format(fields=fields)


async def typed_formation(operator: Operator, **template: bool) -> tuple[str, str]:
    """A formation of a fresh template admitting "async-app-type-1" and runtimes "runtimeTypeTest"."""
    created = await create_template(operator, unique("type"), **template)
    name = unique("typed")
    await create_formation(operator, name, f'templateName: "{created["name"]}"')
    return name, created["id"]


async def attach(operator: Operator, constraint_id: str, template_id: str) -> None:
    await operator.query(f"""
mutation {{
  result: attachConstraintToFormationTemplate(constraintID: "{constraint_id}", formationTemplateID: "{template_id}") {{
    constraintID
  }}
}}
""")


async def assign_codes(operator: Operator, object_type: str, object_id: str, name: str) -> list[str]:
    return await operator.error_codes(f"""
mutation {{ result: assignFormation(objectID: "{object_id}", objectType: {object_type}, formation: {{ name: "{name}" }}) {{ id }} }}
""")


class TestValidation:
    @pytest.mark.parametrize(
        "fields",
        [
            'name: "t", applicationTypes: []',
            'name: "", applicationTypes: ["a"]',
            'name: "t", applicationTypes: ["a"], runtimeTypes: ["r"]',
            'name: "t", applicationTypes: ["a"], runtimeTypeDisplayName: "R", runtimeArtifactKind: SUBSCRIPTION',
            'name: "t", applicationTypes: ["a"], discoveryConsumers: ["b"]',
        ],
        ids=["no-application-types", "no-name", "runtime-types-alone", "runtime-fields-without-types",
             "unknown-discovery-consumer"],
    )
    async def test_invalid_templates_are_invalid_input(self, operator: Operator, fields: str) -> None:
        assert await operator.error_codes(create_document(fields)) == ["INVALID_INPUT"]

    async def test_a_label_key_other_than_letters_digits_and_underscores_is_invalid_input(self, operator: Operator) -> None:
        created = await create_template(operator, unique("labelled"))
        document = f"""
mutation {{ result: setFormationTemplateLabel(formationTemplateID: "{created["id"]}", in: {{ key: "a-b", value: 1 }}) {{ key }} }}
"""
        assert await operator.error_codes(document) == ["INVALID_INPUT"]

    async def test_a_second_template_of_the_same_name_in_a_tenant_is_a_conflict(self, operator: Operator) -> None:
        await operator.query(create_document('name: "twice", applicationTypes: ["a"]'))
        assert await operator.error_codes(create_document('name: "twice", applicationTypes: ["a"]')) == ["CONFLICT"]

    async def test_a_formation_of_an_unknown_template_is_not_found(self, operator: Operator) -> None:
        document = 'mutation { result: createFormation(formation: { name: "x", templateName: "nope" }) { id } }'
        assert await operator.error_codes(document) == ["NOT_FOUND"]

    async def test_a_formation_state_other_than_initial_or_draft_is_invalid_input(self, operator: Operator) -> None:
        document = 'mutation { result: createFormation(formation: { name: "x", state: "READY" }) { id } }'
        assert await operator.error_codes(document) == ["INVALID_INPUT"]

    async def test_an_unknown_constraint_type_is_refused_by_the_schema(self, operator: Operator) -> None:
        document = f"""
mutation {{
  result: createFormationConstraint(formationConstraint: {{
    name: "c", constraintType: LATER, targetOperation: ASSIGN_FORMATION, operator: "o", resourceType: APPLICATION,
    resourceSubtype: "s", inputTemplate: {CONSTRAINT_INPUT_TEMPLATE}, constraintScope: GLOBAL
  }}) {{ id }}
}}
"""
        assert await operator.error_codes(document) == ["GRAPHQL_VALIDATION_FAILED"]


class TestScopes:
    async def test_a_tenants_template_is_missing_to_another_tenant(self, operator: Operator, tenants: TenantFactory) -> None:
        created = await create_template(operator, unique("own"))
        other = await tenants.operator()
        data = await other.query(f'query {{ result: formationTemplate(id: "{created["id"]}") {{ id }} }}')
        assert data["result"] is None
        listed = await other.query("query { result: formationTemplates { data { id } } }")
        assert created["id"] not in [item["id"] for item in listed["result"]["data"]]
        update = f'mutation {{ result: deleteFormationTemplate(id: "{created["id"]}") {{ id }} }}'
        assert await other.error_codes(update) == ["NOT_FOUND"]

    async def test_every_tenant_reads_the_default_template_but_none_changes_it(self, operator: Operator) -> None:
        data = await operator.query(f'query {{ result: formationTemplate(id: "{DEFAULT_TEMPLATE_ID}") {{ name }} }}')
        assert data["result"]["name"] == "Side-by-Side Extensibility with Kyma"
        document = f'mutation {{ result: deleteFormationTemplate(id: "{DEFAULT_TEMPLATE_ID}") {{ id }} }}'
        assert await operator.error_codes(document) == ["FORBIDDEN"]

    async def test_a_tenants_template_shadows_a_global_one_of_the_same_name(self, operator: Operator) -> None:
        own = await operator.query(create_document('name: "Side-by-Side Extensibility with Kyma", applicationTypes: ["a"]'))
        formation = await create_formation(operator, "shadowed")
        assert formation["formationTemplateId"] == own["result"]["id"]

    async def test_a_template_with_formations_cannot_be_deleted(self, operator: Operator) -> None:
        _, template_id = await typed_formation(operator)
        document = f'mutation {{ result: deleteFormationTemplate(id: "{template_id}") {{ id }} }}'
        assert await operator.error_codes(document) == ["CONFLICT"]

    async def test_a_formation_of_another_tenant_is_missing(self, operator: Operator, tenants: TenantFactory) -> None:
        formation = await create_formation(operator, "mine")
        other = await tenants.operator()
        data = await other.query(f'query {{ result: formation(id: "{formation["id"]}") {{ id }} }}')
        assert data["result"] is None
        document = f'mutation {{ result: finalizeDraftFormation(formationID: "{formation["id"]}") {{ id }} }}'
        assert await other.error_codes(document) == ["NOT_FOUND"]

    async def test_tenant_id_needs_formation_global_read(self, tenants: TenantFactory) -> None:
        operator = await tenants.operator(scopes=["formation:read", "formation:write"])
        await operator.query('mutation { result: createFormation(formation: { name: "f" }) { id } }')
        document = 'query { result: formationByName(name: "f") { tenantID } }'
        assert await operator.error_codes(document) == ["FORBIDDEN"]

    async def test_writing_constraints_needs_the_platform_scope(self, tenants: TenantFactory) -> None:
        tenant_operator = await tenants.operator()
        body = await tenant_operator.execute(f"""
mutation {{
  result: createFormationConstraint(formationConstraint: {{
    name: "c", constraintType: PRE, targetOperation: ASSIGN_FORMATION, operator: "o", resourceType: APPLICATION,
    resourceSubtype: "s", inputTemplate: {CONSTRAINT_INPUT_TEMPLATE}, constraintScope: GLOBAL
  }}) {{ id }}
}}
""")
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]

    async def test_a_formation_state_needs_formation_state_write(self, tenants: TenantFactory) -> None:
        operator = await tenants.operator(scopes=["formation:read", "formation:write"])
        document = 'mutation { result: createFormation(formation: { name: "f", state: "DRAFT" }) { id } }'
        assert await operator.error_codes(document) == ["FORBIDDEN"]


class TestTypes:
    async def test_an_application_of_a_type_the_template_lists_is_assigned(self, operator: Operator) -> None:
        name, _ = await typed_formation(operator)
        application_id = await register_application(operator)
        result = await assign(operator, "APPLICATION", application_id, name)
        assert result["name"] == name

    async def test_an_application_of_another_type_is_refused(self, operator: Operator) -> None:
        name, _ = await typed_formation(operator)
        application_id = await register_application(operator, "other-type")
        assert await assign_codes(operator, "APPLICATION", application_id, name) == ["CONFLICT"]

    async def test_an_application_without_a_type_is_refused(self, operator: Operator) -> None:
        name, _ = await typed_formation(operator)
        data = await operator.query(f'mutation {{ result: registerApplication(in: {{ name: "{unique("app")}" }}) {{ id }} }}')
        assert await assign_codes(operator, "APPLICATION", data["result"]["id"], name) == ["CONFLICT"]

    async def test_a_runtime_of_a_listed_type_is_assigned(self, operator: Operator) -> None:
        name, _ = await typed_formation(operator)
        result = await assign(operator, "RUNTIME", await register_runtime(operator), name)
        assert result["name"] == name

    async def test_a_template_without_runtime_types_refuses_runtimes(self, operator: Operator) -> None:
        await operator.query(create_document('name: "apps-only", applicationTypes: ["a"]'))
        await create_formation(operator, "apps", 'templateName: "apps-only"')
        assert await assign_codes(operator, "RUNTIME", await register_runtime(operator), "apps") == ["CONFLICT"]

    async def test_the_default_template_admits_any_application(self, operator: Operator) -> None:
        await create_formation(operator, "untyped")
        application_id = await register_application(operator, "whatever")
        assert (await assign(operator, "APPLICATION", application_id, "untyped"))["name"] == "untyped"


class TestConstraints:
    async def test_is_not_assigned_to_any_formation_of_type_refuses_a_second_formation(self, operator: Operator) -> None:
        first, template_id = await typed_formation(operator)
        template = await operator.query(f'query {{ result: formationTemplate(id: "{template_id}") {{ name }} }}')
        second = unique("second")
        await create_formation(operator, second, f'templateName: "{template["result"]["name"]}"')
        constraint = await create_constraint(operator, "async-app-type-1")
        await attach(operator, constraint["id"], template_id)
        application_id = await register_application(operator)
        await assign(operator, "APPLICATION", application_id, first)
        body = await operator.execute(f"""
mutation {{ result: assignFormation(objectID: "{application_id}", objectType: APPLICATION, formation: {{ name: "{second}" }}) {{ id }} }}
""")
        assert [error["extensions"]["code"] for error in body["errors"]] == ["CONFLICT"]
        assert "is not satisfied" in body["errors"][0]["message"]

    async def test_a_constraint_not_attached_to_the_template_is_not_enforced(self, operator: Operator) -> None:
        first, _ = await typed_formation(operator)
        second, _ = await typed_formation(operator)
        await create_constraint(operator, "async-app-type-1")
        application_id = await register_application(operator)
        await assign(operator, "APPLICATION", application_id, first)
        assert (await assign(operator, "APPLICATION", application_id, second))["name"] == second

    async def test_does_not_contain_resource_of_subtype_refuses_a_second_application_of_the_type(
        self, operator: Operator
    ) -> None:
        name, template_id = await typed_formation(operator)
        data = await operator.query("""
mutation {
  result: createFormationConstraint(formationConstraint: {
    name: "single", constraintType: PRE, targetOperation: ASSIGN_FORMATION, operator: "DoesNotContainResourceOfSubtype",
    resourceType: APPLICATION, resourceSubtype: "ANY", constraintScope: FORMATION_TYPE,
    inputTemplate: "{\\"formation_name\\": \\"{{.FormationName}}\\", \\"resource_type\\": \\"{{.ResourceType}}\\", \\"resource_subtype\\": \\"{{.ResourceSubtype}}\\"}"
  }) { id }
}
""")
        await attach(operator, data["result"]["id"], template_id)
        await assign(operator, "APPLICATION", await register_application(operator), name)
        assert await assign_codes(operator, "APPLICATION", await register_application(operator), name) == ["CONFLICT"]

    async def test_an_unknown_operator_refuses_the_operation(self, operator: Operator) -> None:
        name, template_id = await typed_formation(operator)
        data = await operator.query("""
mutation {
  result: createFormationConstraint(formationConstraint: {
    name: "unknown", constraintType: PRE, targetOperation: ASSIGN_FORMATION, operator: "NoSuchOperator",
    resourceType: APPLICATION, resourceSubtype: "ANY", constraintScope: FORMATION_TYPE, inputTemplate: "{}"
  }) { id }
}
""")
        await attach(operator, data["result"]["id"], template_id)
        assert await assign_codes(operator, "APPLICATION", await register_application(operator), name) == ["CONFLICT"]

    async def test_a_notification_operator_holds_vacuously(self, operator: Operator) -> None:
        name, template_id = await typed_formation(operator)
        data = await operator.query("""
mutation {
  result: createFormationConstraint(formationConstraint: {
    name: "notify", constraintType: PRE, targetOperation: ASSIGN_FORMATION,
    operator: "DoNotGenerateFormationAssignmentNotification", resourceType: APPLICATION, resourceSubtype: "ANY",
    constraintScope: FORMATION_TYPE, inputTemplate: "{}"
  }) { id }
}
""")
        await attach(operator, data["result"]["id"], template_id)
        assert (await assign(operator, "APPLICATION", await register_application(operator), name))["name"] == name

    async def test_attaching_twice_is_a_conflict(self, operator: Operator) -> None:
        _, template_id = await typed_formation(operator)
        constraint = await create_constraint(operator, unique("subtype"))
        await attach(operator, constraint["id"], template_id)
        document = f"""
mutation {{ result: attachConstraintToFormationTemplate(constraintID: "{constraint["id"]}", formationTemplateID: "{template_id}") {{ constraintID }} }}
"""
        assert await operator.error_codes(document) == ["CONFLICT"]


class TestLifecycle:
    async def test_resetting_needs_a_template_that_supports_it(self, operator: Operator) -> None:
        name, _ = await typed_formation(operator)
        formation = await operator.query(f'query {{ result: formationByName(name: "{name}") {{ id }} }}')
        document = f"""
mutation {{ result: resynchronizeFormationNotifications(formationID: "{formation["result"]["id"]}", reset: true) {{ id }} }}
"""
        assert await operator.error_codes(document) == ["CONFLICT"]

    async def test_a_draft_formation_cannot_be_resynchronized(self, operator: Operator) -> None:
        formation = await create_formation(operator, "draft", 'state: "DRAFT"')
        document = f'mutation {{ result: resynchronizeFormationNotifications(formationID: "{formation["id"]}") {{ id }} }}'
        assert await operator.error_codes(document) == ["CONFLICT"]

    async def test_only_a_draft_formation_is_finalized(self, operator: Operator) -> None:
        formation = await create_formation(operator, "ready")
        document = f'mutation {{ result: finalizeDraftFormation(formationID: "{formation["id"]}") {{ id }} }}'
        assert await operator.error_codes(document) == ["CONFLICT"]

    async def test_unassigning_removes_the_objects_assignments(self, operator: Operator) -> None:
        await create_formation(operator, "leaving")
        application_id = await register_application(operator)
        runtime_id = await register_runtime(operator)
        await assign(operator, "APPLICATION", application_id, "leaving")
        await assign(operator, "RUNTIME", runtime_id, "leaving")
        data = await operator.query(f"""
mutation {{
  result: unassignFormation(objectID: "{runtime_id}", objectType: RUNTIME, formation: {{ name: "leaving" }}) {{
    formationAssignments {{ data {{ source target }} }}
  }}
}}
""")
        assert data["result"]["formationAssignments"]["data"] == [{"source": application_id, "target": application_id}]

    async def test_a_deleted_participants_assignments_are_not_shown(self, operator: Operator) -> None:
        await create_formation(operator, "gone")
        application_id = await register_application(operator)
        await assign(operator, "APPLICATION", application_id, "gone")
        await operator.query(f'mutation {{ result: unregisterApplication(id: "{application_id}") {{ id }} }}')
        data = await operator.query('query { result: formationByName(name: "gone") { formationAssignments { totalCount } } }')
        assert data["result"]["formationAssignments"]["totalCount"] == 0

    async def test_assignments_are_isolated_between_tenants(self, operator: Operator, tenants: TenantFactory) -> None:
        await create_formation(operator, "shared-name")
        await assign(operator, "APPLICATION", await register_application(operator), "shared-name")
        other = await tenants.operator()
        await create_formation(other, "shared-name")
        data = await other.query('query { result: formationByName(name: "shared-name") { formationAssignments { totalCount } } }')
        assert data["result"]["formationAssignments"]["totalCount"] == 0


FORMATIONS_WITH_ASSIGNMENTS = """
query {
  result: formations {
    data {
      id status { condition }
      formationAssignments {
        data { id state sourceEntity { __typename ... on Application { id name } } assignmentOperations { totalCount } }
        totalCount
      }
    }
  }
}
"""
TEMPLATES_WITH_CONSTRAINTS = "query { result: formationTemplates { data { id webhooks { id } formationConstraints { id } } } }"


async def _counted(operator: Operator, database: Database, document: str) -> int:
    with count_statements(database) as statements:
        await operator.query(document)
    return len(statements)


@pytest.mark.parametrize("formations", [1, 4])
async def test_formations_with_assignments_take_the_same_statements_for_any_number(
    operator: Operator, database: Database, formations: int
) -> None:
    for index in range(formations):
        await create_formation(operator, f"counted-{index}")
        await assign(operator, "APPLICATION", await register_application(operator), f"counted-{index}")
    assert await _counted(operator, database, FORMATIONS_WITH_ASSIGNMENTS) == 9


@pytest.mark.parametrize("templates", [1, 4])
async def test_templates_with_constraints_take_the_same_statements_for_any_number(
    operator: Operator, database: Database, templates: int
) -> None:
    for _ in range(templates):
        created = await create_template(operator, unique("counted"))
        await attach(operator, (await create_constraint(operator, unique("subtype")))["id"], created["id"])
    assert await _counted(operator, database, TEMPLATES_WITH_CONSTRAINTS) == 3
