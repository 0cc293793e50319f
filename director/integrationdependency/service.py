"""Integration dependencies of an application (Compass's ``addIntegrationDependencyToApplication``): what it needs
of other systems, as aspects naming ORD API and event resources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from director.application import parts
from director.application.repository import ApplicationRepository
from director.bundle.service import apply_version
from director.integrationdependency.inputs import (
    AspectEventDefinitionInput,
    AspectInput,
    IntegrationDependencyInput,
)
from director.integrationdependency.repository import (
    AspectEventResourceRepository,
    AspectRepository,
    IntegrationDependencyRepository,
)
from director.models import Aspect, AspectEventResource, IntegrationDependency
from director.validation import list_size, optional_text, require_name
from kernel.errors import InvalidInputError, NotFoundError

# Compass's patterns (graphql/integration_dependency_validation.go), written without nested repetition.
_DEPENDENCY_ORD_ID = re.compile(r"(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*)?:integrationDependency:[a-zA-Z0-9._\-]+:(?:v0|v[1-9][0-9]*)")
_API_RESOURCE = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*:apiResource:[a-zA-Z0-9._\-]+:(?:v0|v[1-9][0-9]*)")
_EVENT_RESOURCE = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*:eventResource:[a-zA-Z0-9._\-]+:(?:v0|v[1-9][0-9]*)")
_EVENT_TYPE = re.compile(r"[a-z0-9A-Z]+\.[a-z0-9A-Z]+(?:\.[a-z0-9A-Z]+)+\.(?:v0|v[1-9][0-9]*)")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
VISIBILITIES = ("public", "internal", "private")
RELEASE_STATUSES = ("beta", "active", "deprecated")
# Compass files manually added dependencies under this package of the application's namespace.
MANUAL_PACKAGE = "{namespace}:package:manuallyAddedIntegrationDependencies:v1"


@dataclass(frozen=True)
class AspectTree:
    aspect: Aspect
    event_resources: list[AspectEventResource] = field(default_factory=list)


@dataclass(frozen=True)
class IntegrationDependencyTree:
    """A dependency with its aspects, as written or as it was before its deletion."""

    dependency: IntegrationDependency
    aspects: list[AspectTree] = field(default_factory=list)


def _title(value: str, field_name: str) -> str:
    title = require_name(value, field_name, max_length=255)
    if not _PRINTABLE_ASCII.fullmatch(title):
        raise InvalidInputError(f"{field_name} must be printable ASCII")
    return title


def _description(value: str | None, field_name: str) -> str | None:
    if value == "":
        raise InvalidInputError(f"{field_name} must not be empty when given")
    return optional_text(value, field_name, max_length=2000)


def _matching(value: str, pattern: re.Pattern[str], field_name: str) -> str:
    if len(value) > 255 or not pattern.fullmatch(value):  # noqa: PLR2004 - Compass's limit of ORD ids
        raise InvalidInputError(f"{field_name} {value[:100]!r} must match {pattern.pattern}")
    return value


def _one_of(value: str | None, allowed: tuple[str, ...], default: str, field_name: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise InvalidInputError(f"{field_name} must be one of {', '.join(allowed)}, got {value[:100]!r}")
    return value


def _event_resource(tenant_id: str, aspect_id: str, data: AspectEventDefinitionInput, at: str) -> AspectEventResource:
    subset = [
        _matching(item.event_type or "", _EVENT_TYPE, f"{at}.subset.eventType")
        for item in list_size(data.subset, f"{at}.subset")
        if item is not None
    ]
    return AspectEventResource(
        tenant_id=tenant_id,
        aspect_id=aspect_id,
        ord_id=_matching(data.ord_id, _EVENT_RESOURCE, f"{at}.ordId"),
        subset=subset if data.subset is not None else None,
    )


class IntegrationDependencyService:
    async def add(
        self, session: AsyncSession, tenant_id: str, application_id: str, data: IntegrationDependencyInput
    ) -> IntegrationDependencyTree:
        """Compass's defaults: visibility public, release status active, not mandatory; without a package, the
        one for manually added dependencies of the application's namespace."""
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        repository = IntegrationDependencyRepository(session)
        dependency = IntegrationDependency(
            tenant_id=tenant_id,
            application_id=application_id,
            name=_title(data.name, "name"),
            description=_description(data.description, "description"),
            ord_id=_matching(data.ord_id, _DEPENDENCY_ORD_ID, "ordID"),
            part_of_package=await self._package(
                repository, tenant_id, application_id, data.part_of_package, application.application_namespace
            ),
            visibility=_one_of(data.visibility, VISIBILITIES, "public", "visibility"),
            release_status=_one_of(data.release_status, RELEASE_STATUSES, "active", "releaseStatus"),
            mandatory=bool(data.mandatory),
            labels=data.labels,
        )
        apply_version(dependency, data.version)
        await repository.add(dependency)
        aspects = [
            await self._aspect(session, tenant_id, dependency.id, aspect, f"aspects[{index}]")
            for index, aspect in enumerate(list_size(data.aspects, "aspects"))
        ]
        await session.flush()
        return IntegrationDependencyTree(dependency, aspects)

    async def _package(
        self,
        repository: IntegrationDependencyRepository,
        tenant_id: str,
        application_id: str,
        given: str | None,
        namespace: str | None,
    ) -> str:
        """pycompass keeps no ORD packages: a given package must be one the application's dependencies are in."""
        if given is None:
            return MANUAL_PACKAGE.format(namespace=namespace or "")
        existing = await repository.grouped_by(tenant_id, "application_id", [application_id])
        if given not in {row.part_of_package for row in existing.get(application_id, [])}:
            raise NotFoundError(f"package with ID: {given[:100]!r} does not exist")
        return given

    async def _aspect(
        self, session: AsyncSession, tenant_id: str, dependency_id: str, data: AspectInput, at: str
    ) -> AspectTree:
        api_resources = [
            _matching(item.ord_id, _API_RESOURCE, f"{at}.apiResources.ordId")
            for item in list_size(data.api_resources, f"{at}.apiResources")
        ]
        aspect = Aspect(
            tenant_id=tenant_id,
            integration_dependency_id=dependency_id,
            name=_title(data.name, f"{at}.name"),
            description=_description(data.description, f"{at}.description"),
            mandatory=bool(data.mandatory),
            api_resources=api_resources if data.api_resources is not None else None,
        )
        await AspectRepository(session).add(aspect)
        resources = [
            _event_resource(tenant_id, aspect.id, item, f"{at}.eventResources[{index}]")
            for index, item in enumerate(list_size(data.event_resources, f"{at}.eventResources"))
        ]
        session.add_all(resources)
        return AspectTree(aspect, resources)

    async def delete(self, session: AsyncSession, tenant_id: str, dependency_id: str) -> IntegrationDependencyTree:
        """The dependency with its aspects (which go with it), as they were."""
        dependency = await parts.changing(IntegrationDependencyRepository(session), tenant_id, dependency_id)
        aspects = (await self.aspects_by_dependencies(session, tenant_id, [dependency_id])).get(dependency_id, [])
        await IntegrationDependencyRepository(session).delete(dependency)
        return IntegrationDependencyTree(dependency, aspects)

    # Batch reads for the DataLoaders.

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[IntegrationDependency]]:
        return await IntegrationDependencyRepository(session).grouped_by(tenant_id, "application_id", application_ids)

    async def aspects_by_dependencies(
        self, session: AsyncSession, tenant_id: str, dependency_ids: Sequence[str]
    ) -> dict[str, list[AspectTree]]:
        """Aspects with their event resources: two statements for any number of dependencies."""
        aspects = await AspectRepository(session).grouped_by(tenant_id, "integration_dependency_id", dependency_ids)
        aspect_ids = [aspect.id for rows in aspects.values() for aspect in rows]
        resources = (
            await AspectEventResourceRepository(session).grouped_by(tenant_id, "aspect_id", aspect_ids)
            if aspect_ids
            else {}
        )
        return {
            dependency_id: [AspectTree(aspect, resources.get(aspect.id, [])) for aspect in rows]
            for dependency_id, rows in aspects.items()
        }


integration_dependency = IntegrationDependencyService()
