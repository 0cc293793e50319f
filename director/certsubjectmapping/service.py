"""Certificate subject mappings: stored and validated as Compass does, and matched as its hydrator matches them
against the subject of a client certificate from an external CA (``compass.auth.external``); certificates of
pycompass's own CA name their runtime or application and need no mapping."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from director.certsubjectmapping.inputs import (
    CONSUMER_TYPES,
    TENANT_ACCESS_LEVELS,
    CertificateSubjectMappingInput,
)
from director.certsubjectmapping.repository import CertificateSubjectMappingRepository
from director.models import CertificateSubjectMapping
from director.pagination import Page, decode_cursor
from director.polling.invalidation import changes
from kernel.errors import InvalidInputError, NotFoundError
from kernel.models import utcnow

MAX_LENGTH = 255
MAX_PAGE_SIZE = 300
# Compass's reading of a subject (pkg/cert): the first value of each attribute, up to a separator.
_ATTRIBUTES = {
    "Country": re.compile(r"C=([^(,|+)]+)"),
    "Organization": re.compile(r"O=([^(,|+)]+)"),
    "Organization Unit": re.compile(r"OU=([^(,|+)]+)"),
    "Locality": re.compile(r"L=([^(,|+)]+)"),
    "Common Name": re.compile(r"CN=([^,]+)"),
}
_SINGLE = ("Common Name", "Country", "Locality", "Organization")


def _first(name: str, subject: str) -> str:
    found = _ATTRIBUTES[name].search(subject)
    return found.group(1) if found else ""


def subjects_match(actual: str, expected: str) -> bool:
    """Compass's ``SubjectsMatch``: the same CN, C, L and O (first values), and as many organizational units on
    each side, every one of the certificate's among the mapping's (compared trimmed, in any order); any other
    attribute is not compared. As in Compass's ``matchOrganizationalUnits`` this is a count and a one-way
    membership, not a multiset: units ``[A, A]`` match a mapping's ``[A, B]``."""
    if any(_first(name, actual) != _first(name, expected) for name in _SINGLE):
        return False
    units = _ATTRIBUTES["Organization Unit"]
    actual_units, expected_units = units.findall(actual), units.findall(expected)
    wanted = {unit.strip() for unit in expected_units}
    return len(actual_units) == len(expected_units) and all(unit.strip() in wanted for unit in actual_units)


def _check_length(name: str, value: str) -> None:
    if not 1 <= len(value) <= MAX_LENGTH:
        raise InvalidInputError(f"{name} must be 1 to {MAX_LENGTH} characters")


def _check(data: CertificateSubjectMappingInput) -> None:
    _check_length("subject", data.subject)
    components = len(data.subject.split(","))
    if components < len(_ATTRIBUTES):
        raise InvalidInputError(
            f"subject: the number of certificate attributes is {components}, and at least 5 are needed: "
            "C, O, OU, L and CN"
        )
    for name, pattern in _ATTRIBUTES.items():
        if pattern.search(data.subject) is None:
            raise InvalidInputError(f"subject: missing {name} property")
    _check_length("consumerType", data.consumer_type)
    if data.consumer_type not in CONSUMER_TYPES:
        raise InvalidInputError(
            f"consumerType {data.consumer_type!r} is not valid; one of: {', '.join(sorted(CONSUMER_TYPES))}"
        )
    if data.internal_consumer_id is not None:
        _check_length("internalConsumerID", data.internal_consumer_id)
    if not data.tenant_access_levels:
        raise InvalidInputError("tenantAccessLevels: give at least one")
    for level in data.tenant_access_levels:
        if level not in TENANT_ACCESS_LEVELS:
            raise InvalidInputError(
                f"tenant access level {level!r} is not valid; one of: {', '.join(sorted(TENANT_ACCESS_LEVELS))}"
            )


class CertificateSubjectMappingService:
    """Every method takes the caller's tenant like the others, and ignores it: the mappings are global."""

    async def get(self, session: AsyncSession, tenant_id: str, mapping_id: str) -> CertificateSubjectMapping:  # noqa: ARG002 - global objects
        found = await CertificateSubjectMappingRepository(session).get(mapping_id)
        if found is None:
            raise NotFoundError(f"certificate subject mapping {mapping_id} does not exist")
        return found

    async def page(
        self, session: AsyncSession, tenant_id: str, first: int | None, after: str | None  # noqa: ARG002 - global objects
    ) -> Page[CertificateSubjectMapping]:
        size = MAX_PAGE_SIZE if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"first must be between 1 and {MAX_PAGE_SIZE}, got {size}")
        offset = decode_cursor(after) if after else 0
        rows, total = await CertificateSubjectMappingRepository(session).list(limit=size, offset=offset)
        return Page(rows, total, offset)

    async def create(
        self, session: AsyncSession, tenant_id: str, data: CertificateSubjectMappingInput  # noqa: ARG002 - global objects
    ) -> CertificateSubjectMapping:
        _check(data)
        changes(session).outside_views()
        mapping = CertificateSubjectMapping(
            subject=data.subject,
            consumer_type=data.consumer_type,
            internal_consumer_id=data.internal_consumer_id,
            tenant_access_levels=list(data.tenant_access_levels),
        )
        return await CertificateSubjectMappingRepository(session).add(mapping)

    async def update(
        self, session: AsyncSession, tenant_id: str, mapping_id: str, data: CertificateSubjectMappingInput
    ) -> CertificateSubjectMapping:
        _check(data)
        changes(session).outside_views()
        mapping = await self.get(session, tenant_id, mapping_id)
        mapping.subject, mapping.consumer_type = data.subject, data.consumer_type
        mapping.internal_consumer_id = data.internal_consumer_id
        mapping.tenant_access_levels = list(data.tenant_access_levels)
        mapping.updated_at = utcnow()
        await session.flush()
        return mapping

    async def matching(self, session: AsyncSession, subject: str) -> CertificateSubjectMapping | None:
        """The first mapping (oldest first) whose subject matches a certificate's, read afresh: a changed mapping
        counts from the next request. No tenant yet: the mapping is what chooses one."""
        mappings = await CertificateSubjectMappingRepository(session).every()
        return next((mapping for mapping in mappings if subjects_match(subject, mapping.subject)), None)

    async def delete(self, session: AsyncSession, tenant_id: str, mapping_id: str) -> CertificateSubjectMapping:
        changes(session).outside_views()
        mapping = await self.get(session, tenant_id, mapping_id)
        await CertificateSubjectMappingRepository(session).delete(mapping)
        return mapping


certificate_subject_mapping = CertificateSubjectMappingService()
