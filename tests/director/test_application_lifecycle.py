"""Merging two registrations of one system, unpairing, and looking applications up by system number or local
tenant id, as Compass does them (internal/domain/application/service.go Merge, Unpair)."""

from __future__ import annotations

from typing import Any

import pytest

from director.application.service import application as application_service
from director.polling.invalidation import unit_of_work
from kernel.db import Database
from kernel.errors import ConflictError
from kernel.models import utcnow
from tests.director.examples.test_application_templates import create_template, unique
from tests.director.examples.test_applications import register, register_from_template
from tests.support import Operator, TenantFactory

APPLICATION = "id localTenantID baseUrl providerName description healthCheckURL labels status { condition }"
MERGE = 'mutation { result: mergeApplications(destinationID: "%s", sourceID: "%s") { ' + APPLICATION + " } }"
UNPAIR = 'mutation { result: unpairApplication(id: "%s") { id status { condition } } }'


async def update(operator: Operator, application_id: str, fields: str) -> None:
    await operator.query(f'mutation {{ result: updateApplication(id: "{application_id}", in: {{ {fields} }}) {{ id }} }}')


async def label(operator: Operator, application_id: str, key: str, value: str) -> None:
    await operator.query(
        f'mutation {{ result: setApplicationLabel(applicationID: "{application_id}", key: "{key}", value: {value}) '
        "{ key } }"
    )


async def assign(operator: Operator, object_id: str, object_type: str, formation: str = "DEFAULT") -> None:
    await operator.query(
        f'mutation {{ result: assignFormation(objectID: "{object_id}", objectType: {object_type}, '
        f'formation: {{ name: "{formation}" }}) {{ name }} }}'
    )


async def mergeable_pair(operator: Operator) -> tuple[str, str]:
    """(destination, source): one template, one base URL, the source INITIAL and in no formation."""
    template = await create_template(operator, unique("merge"))
    destination = (await register_from_template(operator, template["name"]))["id"]
    source = (await register_from_template(operator, template["name"]))["id"]
    await update(operator, destination, 'baseUrl: "https://shop.example.com/"')
    await update(operator, source, 'baseUrl: "https://shop.example.com"')
    return destination, source


async def message_of(operator: Operator, document: str) -> tuple[str, str]:
    body = await operator.execute(document)
    [error] = body["errors"]
    return error["extensions"]["code"], error["message"]


class TestMerge:
    async def test_the_destination_takes_the_fields_it_lacks_and_keeps_its_own(self, operator: Operator) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await update(operator, destination, 'baseUrl: "https://shop.example.com/", description: "mine"')
        await update(
            operator, source, 'baseUrl: "https://shop.example.com", description: "theirs", localTenantID: "lt-7"'
        )
        # when
        result = (await operator.query(MERGE % (destination, source)))["result"]
        # then
        assert (result["description"], result["localTenantID"]) == ("mine", "lt-7")
        assert result["baseUrl"] == "https://shop.example.com/"

    async def test_the_destination_takes_the_label_keys_it_lacks_and_keeps_its_formations(
        self, operator: Operator
    ) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await assign(operator, destination, "APPLICATION")
        await label(operator, destination, "team", '"red"')
        await label(operator, source, "team", '"blue"')
        await label(operator, source, "region", '"eu"')
        # when
        result = (await operator.query(MERGE % (destination, source)))["result"]
        # then
        labels = result["labels"]
        assert (labels["team"], labels["region"], labels["scenarios"]) == ("red", "eu", ["DEFAULT"])

    @pytest.mark.parametrize(("destination_managed", "source_managed", "merged"), [
        ('"false"', '"true"', "true"),
        ('"true"', '"false"', "true"),
        ('"false"', '"false"', "false"),
    ])
    async def test_managed_is_true_when_either_is(
        self, operator: Operator, destination_managed: str, source_managed: str, merged: str
    ) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await label(operator, destination, "managed", destination_managed)
        await label(operator, source, "managed", source_managed)
        # when
        result = (await operator.query(MERGE % (destination, source)))["result"]
        # then
        assert result["labels"]["managed"] == merged

    async def test_the_source_is_unregistered_with_its_bundles(self, operator: Operator) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await operator.query(f'mutation {{ result: addBundle(applicationID: "{source}", in: {{ name: "b" }}) {{ id }} }}')
        # when
        await operator.query(MERGE % (destination, source))
        # then
        data = await operator.query(
            f'query {{ source: application(id: "{source}") {{ id }} '
            f'result: application(id: "{destination}") {{ bundles {{ totalCount }} }} }}'
        )
        assert data == {"source": None, "result": {"bundles": {"totalCount": 0}}}

    async def test_a_source_in_a_formation_is_refused(self, operator: Operator) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await assign(operator, source, "APPLICATION")
        # when
        code, message = await message_of(operator, MERGE % (destination, source))
        # then
        assert code == "CONFLICT"
        assert message.endswith("is part of the following formations : DEFAULT")

    async def test_different_base_urls_are_refused(self, operator: Operator) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await update(operator, source, 'baseUrl: "https://other.example.com"')
        # when
        code, message = await message_of(operator, MERGE % (destination, source))
        # then
        assert code == "CONFLICT"
        assert message.startswith(f"BaseURL for applications {destination} and {source} are not the same")

    async def test_applications_of_no_template_are_refused(self, operator: Operator) -> None:
        # given
        destination = (await register(operator, 'baseUrl: "https://shop.example.com"'))["id"]
        source = (await register(operator, 'baseUrl: "https://shop.example.com"'))["id"]
        # when
        code, message = await message_of(operator, MERGE % (destination, source))
        # then
        assert (code, message) == (
            "CONFLICT",
            "Application templates are not the same. Destination app template: . Source app template: ",
        )

    async def test_a_connected_source_is_refused(self, operator: Operator) -> None:
        # given
        destination, source = await mergeable_pair(operator)
        await update(operator, source, 'baseUrl: "https://shop.example.com", statusCondition: CONNECTED')
        # when
        code, message = await message_of(operator, MERGE % (destination, source))
        # then
        assert code == "CONFLICT"
        assert message == f"Cannot merge application with id {source}, because it is in a CONNECTED status"


class TestUnpair:
    async def test_sets_the_status_to_initial(self, operator: Operator) -> None:
        # given
        application = (await register(operator, "statusCondition: CONNECTED"))["id"]
        # when
        result = (await operator.query(UNPAIR % application))["result"]
        # then
        assert result["status"] == {"condition": "INITIAL"}

    async def test_an_application_in_a_formation_without_runtimes_is_unpaired(self, operator: Operator) -> None:
        # given
        application = (await register(operator, "statusCondition: CONNECTED"))["id"]
        await assign(operator, application, "APPLICATION")
        # when
        result = (await operator.query(UNPAIR % application))["result"]
        # then
        assert result["status"] == {"condition": "INITIAL"}

    async def test_an_application_sharing_a_formation_with_a_runtime_is_refused(self, operator: Operator) -> None:
        # given
        created = await register(operator, "statusCondition: CONNECTED")
        runtime = (await operator.query('mutation { result: registerRuntime(in: { name: "rt-unpair" }) { id } }'))
        await assign(operator, created["id"], "APPLICATION")
        await assign(operator, runtime["result"]["id"], "RUNTIME")
        # when
        code, message = await message_of(operator, UNPAIR % created["id"])
        # then
        assert code == "CONFLICT"
        assert message == (
            f"System {created['name']} is still used and cannot be deleted. Unassign the system from the following "
            "formations first: DEFAULT. Then, unassign the system from the following runtimes, too: rt-unpair"
        )

    async def test_mode_async_is_refused(self, operator: Operator) -> None:
        # given
        application = (await register(operator))["id"]
        # when
        codes = await operator.error_codes(f'mutation {{ result: unpairApplication(id: "{application}", mode: ASYNC) {{ id }} }}')
        # then
        assert codes == ["INVALID_INPUT"]


class TestLookups:
    async def test_applications_by_local_tenant_id_without_a_filter_lists_only_that_local_tenant(
        self, operator: Operator
    ) -> None:
        # given
        mine = (await register(operator, 'localTenantID: "lt-a"'))["id"]
        await register(operator, 'localTenantID: "lt-b"')
        # when
        data = await operator.query(
            'query { result: applicationsByLocalTenantID(localTenantID: "lt-a") { data { id } totalCount } }'
        )
        # then
        assert data["result"] == {"data": [{"id": mine}], "totalCount": 1}

    async def test_an_unknown_system_number_answers_null(self, operator: Operator) -> None:
        data = await operator.query('query { result: applicationBySystemNumber(systemNumber: "none") { id } }')

        assert data["result"] is None

    async def test_an_update_without_namespace_or_local_tenant_keeps_them(self, operator: Operator) -> None:
        # given
        application = (await register(operator, 'applicationNamespace: "ns" localTenantID: "lt"'))["id"]
        # when
        await update(operator, application, 'description: "changed"')
        # then
        data: dict[str, Any] = await operator.query(
            f'query {{ result: application(id: "{application}") {{ applicationNamespace localTenantID }} }}'
        )
        assert data["result"] == {"applicationNamespace": "ns", "localTenantID": "lt"}


class TestLocalTenantID:
    async def test_setting_it_without_its_scope_is_refused(self, tenants: TenantFactory) -> None:
        # given an operator holding application:write but not application.local_tenant_id:write
        operator = await tenants.operator(scopes=["application:read", "application:write"])
        # when
        codes = await operator.error_codes(
            'mutation { result: registerApplication(in: { name: "lt-scope", localTenantID: "lt" }) { id } }'
        )
        # then
        assert codes == ["FORBIDDEN"]

    async def test_other_fields_need_no_more_than_application_write(self, tenants: TenantFactory) -> None:
        # given
        operator = await tenants.operator(scopes=["application:read", "application:write"])
        application = (await register(operator))["id"]
        # when
        codes = await operator.error_codes(
            f'mutation {{ result: updateApplication(id: "{application}", in: {{ description: "d" }}) {{ id }} }}'
        )
        # then
        assert codes == []


async def test_applications_of_a_template_with_the_distinguishing_label_are_not_merged(
    operator: Operator, database: Database
) -> None:
    # given two registrations from a template labelled with the configured self-registration key
    name = unique("self-registered")
    await operator.query(
        f'mutation {{ result: createApplicationTemplate(in: {{ name: "{name}", accessLevel: GLOBAL, '
        'applicationInput: { name: "{{name}}", description: "{{display-name}}" }, '
        'placeholders: [{ name: "name" }, { name: "display-name" }], labels: { subdomain: "shop" } }) '
        "{ id } }"
    )
    destination = (await register_from_template(operator, name))["id"]
    source = (await register_from_template(operator, name))["id"]
    for application in (destination, source):
        await update(operator, application, 'baseUrl: "https://shop.example.com"')
    # when
    with pytest.raises(ConflictError, match="has label subdomain") as refused:
        async with unit_of_work(database, operator.tenant_id) as session:
            await application_service.merge(
                session, operator.tenant_id, destination, source, now=utcnow(), distinguish_label_key="subdomain"
            )
    # then
    assert refused.value.code == "CONFLICT"
