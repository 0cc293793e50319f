"""Formations group applications and runtimes; the ``scenarios`` label of each object is the stored truth."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.formation.inputs import FormationInput, FormationObjectType
from director.formation.repository import FormationRepository
from director.label.repository import LabelledKind, LabelRepository
from director.label.service import label as label_service
from director.models import SCENARIOS, Application, Formation
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from kernel.errors import ConflictError, InvalidInputError, NotFoundError

DEFAULT_FORMATION = "DEFAULT"
NAME_PATTERN = "^[A-Za-z0-9]([-_A-Za-z0-9 ]{0,254}[A-Za-z0-9])?$"
_NAME = re.compile(NAME_PATTERN)


async def _declare(session: AsyncSession, object_type: FormationObjectType, object_id: str, joining: Sequence[str]) -> None:
    """An assignment changes the runtime's own view, or the views sharing a formation with the application (which
    may be the one it is ``joining``). A whole tenant is refused before anything is written."""
    if object_type is FormationObjectType.RUNTIME:
        await changes(session).runtime(object_id, formations=True)
    elif object_type is FormationObjectType.APPLICATION:
        await changes(session).application(Application, object_id, joining=joining)


class FormationService:
    async def ensure_default(self, session: AsyncSession, tenant_id: str) -> None:
        """Part of a new tenant's creation: no view of the tenant exists yet, so nothing is declared."""
        repository = FormationRepository(session)
        if await repository.get_by_name(tenant_id, DEFAULT_FORMATION) is None:
            await repository.add(Formation(tenant_id=tenant_id, name=DEFAULT_FORMATION))

    async def get(
        self, session: AsyncSession, tenant_id: str, name: str, *, lock: Literal["share", "update"] | None = None
    ) -> Formation:
        formation = await FormationRepository(session).get_by_name(tenant_id, name, lock=lock)
        if formation is None:
            raise NotFoundError(f"formation {name!r} does not exist")
        return formation

    async def find(self, session: AsyncSession, tenant_id: str, name: str) -> Formation | None:
        return await FormationRepository(session).get_by_name(tenant_id, name)

    async def create(self, session: AsyncSession, tenant_id: str, data: FormationInput) -> Formation:
        await changes(session).tenant()
        if not _NAME.match(data.name):
            raise InvalidInputError(
                "formation name must be 1 to 256 letters, digits, spaces, - or _, starting and ending alphanumeric"
            )
        repository = FormationRepository(session)
        if await repository.get_by_name(tenant_id, data.name) is not None:
            raise ConflictError(f"formation {data.name!r} already exists")
        return await repository.add(Formation(tenant_id=tenant_id, name=data.name, template_name=data.template_name))

    async def delete(self, session: AsyncSession, tenant_id: str, name: str) -> Formation:
        await changes(session).tenant()
        if name == DEFAULT_FORMATION:
            raise InvalidInputError("the DEFAULT formation cannot be deleted")
        # Assignments share-lock the formation row, so none is in flight while the labels are checked.
        formation = await self.get(session, tenant_id, name, lock="update")
        labels = LabelRepository(session)
        in_use = [label for label in await labels.with_key(tenant_id, SCENARIOS) if name in (label.value or [])]
        if in_use:
            raise ConflictError(f"formation {name!r} still has {len(in_use)} object(s) assigned; unassign them first")
        await FormationRepository(session).delete(formation)
        return formation

    async def _owner(
        self, session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str
    ) -> LabelledKind:
        """Checks the object exists and locks it: its scenarios label is read, changed and written back."""
        if object_type is FormationObjectType.APPLICATION:
            if await ApplicationRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"application {object_id} does not exist")
            return LabelledKind.APPLICATION
        if object_type is FormationObjectType.RUNTIME:
            if await RuntimeRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"runtime {object_id} does not exist")
            return LabelledKind.RUNTIME
        raise InvalidInputError("assigning a whole tenant to a formation is not supported; assign its objects")

    async def scenarios_of(self, session: AsyncSession, tenant_id: str, kind: LabelledKind, object_id: str) -> list[str]:
        existing = await LabelRepository(session).get(tenant_id, kind, object_id, SCENARIOS)
        return list(existing.value) if existing is not None and isinstance(existing.value, list) else []

    async def assign(
        self, session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str, name: str
    ) -> Formation:
        await _declare(session, object_type, object_id, joining=(name,))
        owner = await self._owner(session, tenant_id, object_type, object_id)
        formation = await self.get(session, tenant_id, name, lock="share")
        scenarios = await self.scenarios_of(session, tenant_id, owner, object_id)
        if name not in scenarios:
            await label_service.set(session, tenant_id, owner, object_id, SCENARIOS, [*scenarios, name])
        return formation

    async def unassign(
        self, session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str, name: str
    ) -> Formation:
        await _declare(session, object_type, object_id, joining=())
        owner = await self._owner(session, tenant_id, object_type, object_id)
        formation = await self.get(session, tenant_id, name, lock="share")
        scenarios = await self.scenarios_of(session, tenant_id, owner, object_id)
        if name in scenarios:
            remaining = [scenario for scenario in scenarios if scenario != name]
            await label_service.set(session, tenant_id, owner, object_id, SCENARIOS, remaining)
        return formation

    async def for_object(self, session: AsyncSession, tenant_id: str, object_id: str) -> list[Formation]:
        names: list[str] = []
        for kind in LabelledKind:
            names += await self.scenarios_of(session, tenant_id, kind, object_id)
        return await FormationRepository(session).by_names(tenant_id, names) if names else []

    async def page(self, session: AsyncSession, tenant_id: str, request: PageRequest) -> Page[Formation]:
        repository = FormationRepository(session)
        rows, total = await repository.page(repository.select(tenant_id), limit=request.limit, offset=request.offset)
        return Page(rows, total, request.offset)


formation = FormationService()
