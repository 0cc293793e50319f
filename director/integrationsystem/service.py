"""Integration systems: global, as in Compass. Any tenant's operator with integration_system:read sees every one;
what isolates tenants is that an integration system's token acts only in the tenant its request names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from credentials.systemauth.repository import SystemAuthRepository
from director.integrationsystem.inputs import IntegrationSystemInput
from director.integrationsystem.repository import IntegrationSystemRepository
from director.models import IntegrationSystem, SystemAuth
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.validation import optional_text
from kernel.errors import ConflictError, InvalidInputError, NotFoundError

# Compass's DNS-name rule for integration system names.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_LENGTH = 36
_DESCRIPTION_LENGTH = 2000


def _name(value: str) -> str:
    if not value or len(value) > _NAME_LENGTH:
        raise InvalidInputError(f"name must be 1 to {_NAME_LENGTH} characters")
    if value[0].isdigit():
        raise InvalidInputError("name cannot start with a digit")
    if not _NAME.fullmatch(value):
        raise InvalidInputError(
            "name may hold only digits, lower case letters, - and ., and must start and end with a letter or digit"
        )
    return value


def _not_found(integration_system_id: str) -> NotFoundError:
    return NotFoundError(f"integration system {integration_system_id} does not exist")


class IntegrationSystemService:
    """Every method takes the caller's tenant first, as every Director service does, and ignores it: integration
    systems belong to no tenant. Their writes change no runtime's view (``outside_views``)."""

    async def find(self, session: AsyncSession, _tenant_id: str, integration_system_id: str) -> IntegrationSystem | None:
        return await IntegrationSystemRepository(session).get(integration_system_id)

    async def get(self, session: AsyncSession, _tenant_id: str, integration_system_id: str) -> IntegrationSystem:
        found = await IntegrationSystemRepository(session).get(integration_system_id)
        if found is None:
            raise _not_found(integration_system_id)
        return found

    async def page(self, session: AsyncSession, _tenant_id: str, request: PageRequest) -> Page[IntegrationSystem]:
        rows, total = await IntegrationSystemRepository(session).page(limit=request.limit, offset=request.offset)
        return Page(rows, total, request.offset)

    async def auths(self, session: AsyncSession, _tenant_id: str, ids: Sequence[str]) -> dict[str, list[SystemAuth]]:
        """The client credentials of many integration systems in one statement, for the DataLoader."""
        return await SystemAuthRepository(session).of_integration_systems(ids)

    async def register(self, session: AsyncSession, _tenant_id: str, data: IntegrationSystemInput) -> IntegrationSystem:
        changes(session).outside_views()
        integration_system = IntegrationSystem(
            name=_name(data.name), description=optional_text(data.description, "description", max_length=_DESCRIPTION_LENGTH)
        )
        return await IntegrationSystemRepository(session).add(integration_system)

    async def update(
        self, session: AsyncSession, _tenant_id: str, integration_system_id: str, data: IntegrationSystemInput
    ) -> IntegrationSystem:
        """Name and description are replaced, as in Compass (a missing description clears it)."""
        changes(session).outside_views()
        integration_system = await IntegrationSystemRepository(session).lock(integration_system_id)
        if integration_system is None:
            raise _not_found(integration_system_id)
        integration_system.name = _name(data.name)
        integration_system.description = optional_text(data.description, "description", max_length=_DESCRIPTION_LENGTH)
        await session.flush()
        return integration_system

    async def unregister(self, session: AsyncSession, _tenant_id: str, integration_system_id: str) -> IntegrationSystem:
        """Its client credentials go with it (at once: no new token, and issued ones are refused). Applications
        naming it keep it: as Compass's foreign key does, they refuse the deletion."""
        changes(session).outside_views()
        repository = IntegrationSystemRepository(session)
        integration_system = await repository.lock(integration_system_id)
        if integration_system is None:
            raise _not_found(integration_system_id)
        if await repository.owns_applications(integration_system_id):
            raise ConflictError(
                f"integration system {integration_system_id} still owns applications: unregister them, or clear "
                "their integrationSystemID, first"
            )
        await repository.delete(integration_system)
        return integration_system

    async def require(self, session: AsyncSession, integration_system_id: str | None) -> None:
        """For an application naming ``integration_system_id``: it must exist (Compass answers not found).
        Locked, so that a concurrent unregistration cannot leave the application pointing at nothing."""
        if integration_system_id is not None and await IntegrationSystemRepository(session).lock(integration_system_id) is None:
            raise _not_found(integration_system_id)


integration_system = IntegrationSystemService()
