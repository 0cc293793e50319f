"""Certificate subject mappings: Compass's validation, its page size, and the platform scopes they need."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from tests.support import Operator, TenantFactory

SUBJECT = "C=DE, L=local, O=SAP SE, OU=Region, OU=SAP Cloud Platform Clients, OU=2c0fe288, CN=compass"
CREATE = """
mutation ($in: CertificateSubjectMappingInput!) { result: createCertificateSubjectMapping(in: $in) { id } }
"""
PAGE = """
query ($first: Int, $after: PageCursor) {
  result: certificateSubjectMappings(first: $first, after: $after) {
    data { id } pageInfo { endCursor hasNextPage } totalCount
  }
}
"""


@pytest.fixture
async def platform(tenants: TenantFactory) -> Operator:
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


def mapping(**given: Any) -> dict[str, Any]:
    return {"subject": SUBJECT, "consumerType": "Runtime", "tenantAccessLevels": ["account"], **given}


@pytest.mark.parametrize(
    "subject",
    [
        "C=DE, L=local, O=SAP SE, CN=compass",  # four attributes
        "C=DE, L=local, O=SAP SE, ST=x, CN=compass",  # no OU
        "L=local, O=SAP SE, OU=Region, OU=x, CN=compass",  # no C
        "C=DE, L=local, O=SAP SE, OU=Region, OU=x",  # no CN
        "",
    ],
)
async def test_a_subject_needs_country_organization_unit_locality_and_common_name(
    platform: Operator, subject: str
) -> None:
    assert await platform.error_codes(CREATE, {"in": mapping(subject=subject)}) == ["INVALID_INPUT"]


@pytest.mark.parametrize(
    "given",
    [
        {"consumerType": "Robot"},
        {"tenantAccessLevels": []},
        {"tenantAccessLevels": ["account", "planet"]},
        {"internalConsumerID": ""},
        {"internalConsumerID": "x" * 256},
    ],
)
async def test_consumer_types_and_access_levels_are_compass_s(platform: Operator, given: dict[str, Any]) -> None:
    assert await platform.error_codes(CREATE, {"in": mapping(**given)}) == ["INVALID_INPUT"]


async def test_every_consumer_type_and_access_level_compass_knows_is_accepted(platform: Operator) -> None:
    given = mapping(consumerType="Static User", tenantAccessLevels=["customer", "resource-group", "cost-object", "global"])

    assert (await platform.query(CREATE, {"in": given}))["result"]["id"]


async def test_a_tenants_operator_may_neither_read_nor_write_mappings(operator: Operator) -> None:
    assert await operator.error_codes(CREATE, {"in": mapping()}) == ["FORBIDDEN"]
    assert await operator.error_codes(PAGE, {"first": 1}) == ["FORBIDDEN"]


async def test_pages_hold_up_to_300_mappings(platform: Operator) -> None:
    assert await platform.error_codes(PAGE, {"first": 301}) == ["INVALID_INPUT"]
    assert await platform.error_codes(PAGE, {"first": 0}) == ["INVALID_INPUT"]


async def test_pages_follow_their_cursor(platform: Operator) -> None:
    for _ in range(3):
        await platform.query(CREATE, {"in": mapping()})

    first = (await platform.query(PAGE, {"first": 2}))["result"]
    rest = (await platform.query(PAGE, {"first": 300, "after": first["pageInfo"]["endCursor"]}))["result"]

    assert first["pageInfo"]["hasNextPage"] is True
    assert len(first["data"]) + len(rest["data"]) == first["totalCount"]
    assert not {item["id"] for item in first["data"]} & {item["id"] for item in rest["data"]}


async def test_updating_a_missing_mapping_is_not_found(platform: Operator) -> None:
    document = """
mutation ($in: CertificateSubjectMappingInput!) {
  result: updateCertificateSubjectMapping(id: "00000000-0000-0000-0000-000000000000", in: $in) { id }
}
"""
    assert await platform.error_codes(document, {"in": mapping()}) == ["NOT_FOUND"]


async def test_health_checks_need_their_scope(tenants: TenantFactory) -> None:
    operator = await tenants.operator(scopes=["application:read"])

    assert await operator.error_codes("query { result: healthChecks { totalCount } }") == ["FORBIDDEN"]
