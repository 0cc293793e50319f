"""Label definitions: JSON schemas that label values must match, and the built-in ``scenarios`` definition."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from director.models import LabelDefinition
from kernel.db import Database
from tests.support import Operator, TenantFactory

CREATE_DEFINITION = """
mutation($in: LabelDefinitionInput!) { result: createLabelDefinition(in: $in) { key schema } }
"""
UPDATE_DEFINITION = """
mutation($in: LabelDefinitionInput!) { result: updateLabelDefinition(in: $in) { key schema } }
"""
DELETE_DEFINITION = """
mutation($key: String!, $delete: Boolean) {
  result: deleteLabelDefinition(key: $key, deleteRelatedLabels: $delete) { key schema }
}
"""
DEFINITIONS = "{ result: labelDefinitions { key schema } }"
DEFINITION = "query($key: String!) { result: labelDefinition(key: $key) { key schema } }"
# Written the way Compass clients write it: the schema is a string holding JSON, inside the document.
CREATE_INLINE = """
mutation {
  result: createLabelDefinition(in: {key: "owner", schema: "{\\"type\\":\\"string\\"}"}) { key schema }
}
"""
CREATE_NOT_JSON_INLINE = """
mutation { result: createLabelDefinition(in: {key: "owner", schema: "{not json"}) { key } }
"""
CREATE_FORMATION = "mutation($name: String!) { result: createFormation(formation: {name: $name}) { name } }"
REGISTER_RUNTIME = "mutation($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
REGISTER_APPLICATION = """
mutation($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }
"""
SET_RUNTIME_LABEL = """
mutation($id: ID!, $key: String!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key value }
}
"""
SET_APPLICATION_LABEL = """
mutation($id: ID!, $key: String!, $value: Any!) {
  result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key value }
}
"""
RUNTIME_LABELS = "query($id: ID!) { result: runtime(id: $id) { labels } }"
APPLICATION_LABELS = "query($id: ID!) { result: application(id: $id) { labels } }"

STRING_SCHEMA = {"type": "string"}
SIZE_SCHEMA = {"type": "string", "enum": ["S", "M", "L"]}


def definition_input(key: str, schema: Any) -> dict[str, Any]:
    return {"in": {"key": key, "schema": json.dumps(schema)}}


def label_input(owner_id: str, key: str, value: Any) -> dict[str, Any]:
    return {"id": owner_id, "key": key, "value": value}


async def create_definition(operator: Operator, key: str, schema: Any) -> dict[str, Any]:
    data = await operator.query(CREATE_DEFINITION, definition_input(key, schema))
    return data["result"]


async def runtime_with(operator: Operator, labels: dict[str, Any], name: str = "cluster") -> str:
    data = await operator.query(REGISTER_RUNTIME, {"in": {"name": name, "labels": labels}})
    return str(data["result"]["id"])


async def application_with(operator: Operator, labels: dict[str, Any], name: str = "shop") -> str:
    data = await operator.query(REGISTER_APPLICATION, {"in": {"name": name, "labels": labels}})
    return str(data["result"]["id"])


async def definition(operator: Operator, key: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = (await operator.query(DEFINITION, {"key": key}))["result"]
    return result


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that serves a schema and records the paths asked for."""
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"type": "integer"}')

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/schema.json", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["extensions"]["code"], error["message"]) for error in body.get("errors", [])]


class TestCreateLabelDefinition:
    async def test_returns_the_key_and_the_schema_as_a_string_of_json(self, operator: Operator) -> None:
        created = await create_definition(operator, "size", SIZE_SCHEMA)

        assert created["key"] == "size"
        assert json.loads(created["schema"]) == SIZE_SCHEMA

    async def test_accepts_the_schema_written_into_the_document(self, operator: Operator) -> None:
        data = await operator.query(CREATE_INLINE)

        assert json.loads(data["result"]["schema"]) == STRING_SCHEMA

    async def test_is_readable_afterwards(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)

        stored = await definition(operator, "size")

        assert stored is not None
        assert json.loads(stored["schema"]) == SIZE_SCHEMA

    async def test_without_a_schema_has_a_null_schema(self, operator: Operator) -> None:
        data = await operator.query(CREATE_DEFINITION, {"in": {"key": "free"}})

        assert data["result"] == {"key": "free", "schema": None}

    async def test_twice_is_a_conflict(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)

        codes = await operator.error_codes(CREATE_DEFINITION, definition_input("size", STRING_SCHEMA))

        assert codes == ["CONFLICT"]
        stored = await definition(operator, "size")
        assert stored is not None and json.loads(stored["schema"]) == SIZE_SCHEMA

    async def test_for_scenarios_is_a_conflict(self, operator: Operator) -> None:
        codes = await operator.error_codes(CREATE_DEFINITION, {"in": {"key": "scenarios"}})

        assert codes == ["CONFLICT"]

    async def test_with_the_same_key_in_another_tenant_succeeds(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        await create_definition(other, "size", SIZE_SCHEMA)

        created = await create_definition(operator, "size", STRING_SCHEMA)

        assert json.loads(created["schema"]) == STRING_SCHEMA

    async def test_with_an_invalid_json_schema_is_invalid_input(self, operator: Operator) -> None:
        body = await operator.execute(CREATE_DEFINITION, {"in": {"key": "size", "schema": '{"type": 12}'}})

        assert [code for code, _ in errors(body)] == ["INVALID_INPUT"]
        assert await definition(operator, "size") is None

    async def test_with_a_schema_in_a_variable_that_is_not_json_is_invalid_input(
        self, operator: Operator
    ) -> None:
        codes = await operator.error_codes(CREATE_DEFINITION, {"in": {"key": "size", "schema": "{not json"}})

        assert codes == ["INVALID_INPUT"]

    async def test_with_a_schema_in_the_document_that_is_not_json_is_invalid_input(
        self, operator: Operator
    ) -> None:
        codes = await operator.error_codes(CREATE_NOT_JSON_INLINE)

        assert codes == ["INVALID_INPUT"]

    async def test_with_a_remote_reference_is_invalid_input(
        self, operator: Operator, schema_server: tuple[str, list[str]]
    ) -> None:
        url, requested = schema_server
        schema = {"type": "object", "properties": {"port": {"$ref": url}}}

        codes = await operator.error_codes(CREATE_DEFINITION, definition_input("size", schema))

        assert codes == ["INVALID_INPUT"]
        assert requested == []

    async def test_with_a_local_reference_validates_through_it(self, operator: Operator) -> None:
        schema = {"definitions": {"size": SIZE_SCHEMA}, "$ref": "#/definitions/size"}
        await create_definition(operator, "size", schema)
        runtime_id = await runtime_with(operator, {})

        codes = await operator.error_codes(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "XL"))

        assert codes == ["INVALID_INPUT"]

    async def test_with_a_key_out_of_the_alphabet_is_invalid_input(self, operator: Operator) -> None:
        codes = await operator.error_codes(CREATE_DEFINITION, {"in": {"key": "no spaces"}})

        assert codes == ["INVALID_INPUT"]

    @pytest.mark.parametrize("owner", ["runtime", "application"])
    async def test_whose_schema_existing_labels_violate_is_invalid_input_naming_the_label(
        self, operator: Operator, owner: str
    ) -> None:
        # given
        if owner == "runtime":
            await runtime_with(operator, {"size": "XL"})
        else:
            await application_with(operator, {"size": "XL"})

        # when
        body = await operator.execute(CREATE_DEFINITION, definition_input("size", SIZE_SCHEMA))

        # then
        [(code, message)] = errors(body)
        assert code == "INVALID_INPUT"
        assert "size" in message
        assert await definition(operator, "size") is None

    async def test_whose_schema_existing_labels_match_succeeds(self, operator: Operator) -> None:
        await runtime_with(operator, {"size": "M"})

        created = await create_definition(operator, "size", SIZE_SCHEMA)

        assert created["key"] == "size"

    async def test_ignores_labels_of_other_tenants(self, operator: Operator, tenants: TenantFactory) -> None:
        other = await tenants.operator()
        await runtime_with(other, {"size": "XL"})

        created = await create_definition(operator, "size", SIZE_SCHEMA)

        assert created["key"] == "size"


class TestLabelsValidatedByDefinitions:
    async def test_a_runtime_label_violating_the_schema_is_invalid_input_naming_the_label(
        self, operator: Operator
    ) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)
        runtime_id = await runtime_with(operator, {})

        body = await operator.execute(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "XL"))

        [(code, message)] = errors(body)
        assert code == "INVALID_INPUT"
        assert "'size'" in message
        labels = (await operator.query(RUNTIME_LABELS, {"id": runtime_id}))["result"]["labels"]
        assert "size" not in labels

    async def test_an_application_label_violating_the_schema_is_invalid_input_naming_the_label(
        self, operator: Operator
    ) -> None:
        await create_definition(operator, "owner", STRING_SCHEMA)
        application_id = await application_with(operator, {})

        body = await operator.execute(SET_APPLICATION_LABEL, label_input(application_id, "owner", 42))

        [(code, message)] = errors(body)
        assert code == "INVALID_INPUT"
        assert "'owner'" in message

    async def test_a_label_matching_the_schema_is_set(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)
        runtime_id = await runtime_with(operator, {})

        data = await operator.query(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "L"))

        assert data["result"] == {"key": "size", "value": "L"}

    async def test_labels_given_at_registration_are_validated_too(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)
        variables = {"in": {"name": "cluster", "labels": {"size": "XL"}}}

        codes = await operator.error_codes(REGISTER_RUNTIME, variables)

        assert codes == ["INVALID_INPUT"]

    async def test_a_definition_without_a_schema_accepts_any_value(self, operator: Operator) -> None:
        await operator.query(CREATE_DEFINITION, {"in": {"key": "free"}})
        runtime_id = await runtime_with(operator, {})

        data = await operator.query(SET_RUNTIME_LABEL, label_input(runtime_id, "free", {"any": [1, "x"]}))

        assert data["result"]["value"] == {"any": [1, "x"]}

    async def test_a_schema_with_a_dangling_local_reference_makes_setting_invalid_input(
        self, operator: Operator
    ) -> None:
        await create_definition(operator, "size", {"$ref": "#/definitions/missing"})
        runtime_id = await runtime_with(operator, {})

        body = await operator.execute(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "S"))

        [(code, message)] = errors(body)
        assert code == "INVALID_INPUT"
        assert "'size'" in message

    async def test_a_stored_schema_with_a_remote_reference_is_never_fetched(
        self, operator: Operator, database: Database, schema_server: tuple[str, list[str]]
    ) -> None:
        """Schemas stored before remote references were refused must not make the server fetch URLs."""
        # given
        url, requested = schema_server
        async with database.transaction() as session:
            session.add(LabelDefinition(tenant_id=operator.tenant_id, key="size", schema={"$ref": url}))
        runtime_id = await runtime_with(operator, {})

        # when
        codes = await operator.error_codes(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "S"))

        # then
        assert codes == ["INVALID_INPUT"]
        assert requested == []

    async def test_a_definition_of_another_tenant_does_not_apply(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        await create_definition(other, "size", SIZE_SCHEMA)
        runtime_id = await runtime_with(operator, {})

        data = await operator.query(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "XL"))

        assert data["result"]["value"] == "XL"


class TestUpdateLabelDefinition:
    async def test_replaces_the_schema(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)

        data = await operator.query(UPDATE_DEFINITION, definition_input("size", STRING_SCHEMA))

        assert json.loads(data["result"]["schema"]) == STRING_SCHEMA
        stored = await definition(operator, "size")
        assert stored is not None and json.loads(stored["schema"]) == STRING_SCHEMA

    async def test_new_schema_applies_to_labels_set_afterwards(self, operator: Operator) -> None:
        await create_definition(operator, "size", STRING_SCHEMA)
        await operator.query(UPDATE_DEFINITION, {"in": {"key": "size", "schema": json.dumps(SIZE_SCHEMA)}})
        runtime_id = await runtime_with(operator, {})

        codes = await operator.error_codes(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "XL"))

        assert codes == ["INVALID_INPUT"]

    async def test_to_a_schema_existing_labels_violate_is_invalid_input_and_keeps_the_old_schema(
        self, operator: Operator
    ) -> None:
        await create_definition(operator, "size", STRING_SCHEMA)
        await runtime_with(operator, {"size": "XL"})

        codes = await operator.error_codes(UPDATE_DEFINITION, definition_input("size", SIZE_SCHEMA))

        assert codes == ["INVALID_INPUT"]
        stored = await definition(operator, "size")
        assert stored is not None and json.loads(stored["schema"]) == STRING_SCHEMA

    async def test_to_an_invalid_json_schema_is_invalid_input(self, operator: Operator) -> None:
        await create_definition(operator, "size", STRING_SCHEMA)

        codes = await operator.error_codes(UPDATE_DEFINITION, definition_input("size", {"type": "strung"}))

        assert codes == ["INVALID_INPUT"]

    async def test_of_an_unknown_key_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(UPDATE_DEFINITION, {"in": {"key": "absent", "schema": "{}"}})

        assert codes == ["NOT_FOUND"]

    async def test_of_scenarios_is_invalid_input(self, operator: Operator) -> None:
        codes = await operator.error_codes(UPDATE_DEFINITION, {"in": {"key": "scenarios", "schema": "{}"}})

        assert codes == ["INVALID_INPUT"]


class TestDeleteLabelDefinition:
    async def test_without_labels_deletes_it(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)

        data = await operator.query(DELETE_DEFINITION, {"key": "size"})

        assert data["result"]["key"] == "size"
        assert await definition(operator, "size") is None

    async def test_with_labels_present_and_without_delete_related_labels_is_a_conflict(
        self, operator: Operator
    ) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)
        runtime_id = await runtime_with(operator, {"size": "S"})

        codes = await operator.error_codes(DELETE_DEFINITION, {"key": "size"})

        assert codes == ["CONFLICT"]
        assert await definition(operator, "size") is not None
        labels = (await operator.query(RUNTIME_LABELS, {"id": runtime_id}))["result"]["labels"]
        assert labels["size"] == "S"

    async def test_with_delete_related_labels_false_and_labels_present_is_a_conflict(
        self, operator: Operator
    ) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)
        await application_with(operator, {"size": "S"})

        codes = await operator.error_codes(DELETE_DEFINITION, {"key": "size", "delete": False})

        assert codes == ["CONFLICT"]

    async def test_with_delete_related_labels_removes_the_labels_of_every_object(
        self, operator: Operator
    ) -> None:
        # given
        await create_definition(operator, "size", SIZE_SCHEMA)
        runtime_id = await runtime_with(operator, {"size": "S", "other": 1})
        application_id = await application_with(operator, {"size": "M"})

        # when
        data = await operator.query(DELETE_DEFINITION, {"key": "size", "delete": True})

        # then
        assert data["result"]["key"] == "size"
        assert await definition(operator, "size") is None
        runtime_labels = (await operator.query(RUNTIME_LABELS, {"id": runtime_id}))["result"]["labels"]
        application = (await operator.query(APPLICATION_LABELS, {"id": application_id}))["result"]
        assert runtime_labels == {"isNormalized": "true", "other": 1}
        assert "size" not in application["labels"]

    async def test_with_delete_related_labels_keeps_labels_of_other_tenants(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        foreign_runtime = await runtime_with(other, {"size": "S"})
        await create_definition(operator, "size", SIZE_SCHEMA)
        await runtime_with(operator, {"size": "S"})

        await operator.query(DELETE_DEFINITION, {"key": "size", "delete": True})

        labels = (await other.query(RUNTIME_LABELS, {"id": foreign_runtime}))["result"]["labels"]
        assert labels["size"] == "S"

    async def test_of_an_unknown_key_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(DELETE_DEFINITION, {"key": "absent"})

        assert codes == ["NOT_FOUND"]

    async def test_of_scenarios_is_invalid_input(self, operator: Operator) -> None:
        codes = await operator.error_codes(DELETE_DEFINITION, {"key": "scenarios", "delete": True})

        assert codes == ["INVALID_INPUT"]

    async def test_lets_any_value_be_set_afterwards(self, operator: Operator) -> None:
        await create_definition(operator, "size", SIZE_SCHEMA)
        await operator.query(DELETE_DEFINITION, {"key": "size"})
        runtime_id = await runtime_with(operator, {})

        data = await operator.query(SET_RUNTIME_LABEL, label_input(runtime_id, "size", "XL"))

        assert data["result"]["value"] == "XL"


class TestLabelDefinitionsQuery:
    async def test_lists_scenarios_whose_enum_names_the_default_formation(self, operator: Operator) -> None:
        data = await operator.query(DEFINITIONS)

        [scenarios] = [row for row in data["result"] if row["key"] == "scenarios"]
        schema = json.loads(scenarios["schema"])
        assert schema["type"] == "array"
        assert schema["items"]["enum"] == ["DEFAULT"]

    async def test_scenarios_enum_follows_the_formations(self, operator: Operator) -> None:
        await operator.query(CREATE_FORMATION, {"name": "billing"})

        data = await operator.query(DEFINITION, {"key": "scenarios"})

        assert sorted(json.loads(data["result"]["schema"])["items"]["enum"]) == ["DEFAULT", "billing"]

    async def test_scenarios_enum_holds_no_formation_of_another_tenant(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        await other.query(CREATE_FORMATION, {"name": "foreign"})

        data = await operator.query(DEFINITION, {"key": "scenarios"})

        assert json.loads(data["result"]["schema"])["items"]["enum"] == ["DEFAULT"]

    async def test_lists_created_definitions_beside_scenarios_by_key(self, operator: Operator) -> None:
        await create_definition(operator, "zone", STRING_SCHEMA)
        await create_definition(operator, "app-tier", SIZE_SCHEMA)

        data = await operator.query(DEFINITIONS)

        assert [row["key"] for row in data["result"]] == ["app-tier", "scenarios", "zone"]

    async def test_lists_no_definition_of_another_tenant(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        await create_definition(other, "foreign", STRING_SCHEMA)

        data = await operator.query(DEFINITIONS)

        assert [row["key"] for row in data["result"]] == ["scenarios"]

    async def test_label_definition_of_an_unknown_key_is_null(self, operator: Operator) -> None:
        body = await operator.execute(DEFINITION, {"key": "absent"})

        assert body == {"data": {"result": None}}


class TestPatternsRunOnRE2:
    """Patterns behave as in Compass's Go validator: RE2, linear in the input, no backtracking features."""

    @pytest.mark.parametrize("pattern", [r"^(a)\1$", r"^(?=a)", r"(?<!x)y"])
    async def test_a_pattern_that_re2_cannot_run_is_refused_when_the_definition_is_written(
        self, operator: Operator, pattern: str
    ) -> None:
        body = await operator.execute(CREATE_DEFINITION, definition_input("code", {"type": "string", "pattern": pattern}))

        [(code, message)] = errors(body)
        assert code == "INVALID_INPUT"
        assert "RE2" in message and repr(pattern) in message

    async def test_a_pattern_among_pattern_properties_is_checked_too(self, operator: Operator) -> None:
        schema = {"type": "object", "patternProperties": {r"^(x)\1": {"type": "string"}}}

        codes = await operator.error_codes(CREATE_DEFINITION, definition_input("tags", schema))

        assert codes == ["INVALID_INPUT"]

    async def test_a_nested_quantifier_pattern_answers_a_long_non_matching_value_with_a_short_error(
        self, operator: Operator
    ) -> None:
        """``^(a+)+$`` backtracks exponentially in Python's re: this value would hold the server for ages."""
        await create_definition(operator, "code", {"type": "string", "pattern": "^(a+)+$"})
        runtime_id = await runtime_with(operator, {})

        body = await operator.execute(SET_RUNTIME_LABEL, label_input(runtime_id, "code", "a" * 50_000 + "!"))

        [(code, message)] = errors(body)
        assert code == "INVALID_INPUT"
        assert "does not match '^(a+)+$'" in message
        assert len(message) < 300

    async def test_pattern_properties_and_additional_properties_select_keys_by_pattern(
        self, operator: Operator
    ) -> None:
        schema = {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False}
        await create_definition(operator, "limits", schema)
        runtime_id = await runtime_with(operator, {})

        accepted = await operator.execute(SET_RUNTIME_LABEL, label_input(runtime_id, "limits", {"x-cpu": 2}))
        wrong_type = await operator.execute(SET_RUNTIME_LABEL, label_input(runtime_id, "limits", {"x-cpu": "2"}))
        unexpected = await operator.execute(SET_RUNTIME_LABEL, label_input(runtime_id, "limits", {"cpu": 2}))

        assert accepted["data"]["result"]["value"] == {"x-cpu": 2}
        assert [code for code, _ in errors(wrong_type)] == ["INVALID_INPUT"]
        assert errors(unexpected)[0][1].endswith("additional properties are not allowed ('cpu' unexpected)")
