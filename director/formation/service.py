"""Formations group applications and runtimes; the ``scenarios`` label of each object is the stored truth."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.formation.repository import FormationRepository
from director.label.repository import LabelledKind, LabelRepository
from director.label.service import SCENARIOS
from director.label.service import label as label_service
from director.models import Formation
from director.runtime.repository import RuntimeRepository
from kernel.errors import ConflictError, InvalidInputError, NotFoundError

DEFAULT_FORMATION = "DEFAULT"
_NAME = re.compile(r"^[A-Za-z0-9]([-_A-Za-z0-9 ]{0,254}[A-Za-z0-9])?$")


class FormationObjectKind(StrEnum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    TENANT = "TENANT"


class FormationService:
    async def ensure_default(self, session: AsyncSession, tenant_id: str) -> None:
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

    async def create(self, session: AsyncSession, tenant_id: str, name: str, template_name: str | None) -> Formation:
        if not _NAME.match(name):
            raise InvalidInputError(
                "formation name must be 1 to 256 letters, digits, spaces, - or _, starting and ending alphanumeric"
            )
        repository = FormationRepository(session)
        if await repository.get_by_name(tenant_id, name) is not None:
            raise ConflictError(f"formation {name!r} already exists")
        return await repository.add(Formation(tenant_id=tenant_id, name=name, template_name=template_name))

    async def delete(self, session: AsyncSession, tenant_id: str, name: str) -> Formation:
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

    async def _owner(self, session: AsyncSession, tenant_id: str, kind: FormationObjectKind, object_id: str) -> LabelledKind:
        """Checks the object exists and locks it: its scenarios label is read, changed and written back."""
        if kind is FormationObjectKind.APPLICATION:
            if await ApplicationRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"application {object_id} does not exist")
            return LabelledKind.APPLICATION
        if kind is FormationObjectKind.RUNTIME:
            if await RuntimeRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"runtime {object_id} does not exist")
            return LabelledKind.RUNTIME
        raise InvalidInputError("assigning a whole tenant to a formation is not supported; assign its objects")

    async def scenarios_of(self, session: AsyncSession, tenant_id: str, kind: LabelledKind, object_id: str) -> list[str]:
        existing = await LabelRepository(session).get(tenant_id, kind, object_id, SCENARIOS)
        return list(existing.value) if existing is not None and isinstance(existing.value, list) else []

    async def assign(
        self, session: AsyncSession, tenant_id: str, kind: FormationObjectKind, object_id: str, name: str
    ) -> Formation:
        owner = await self._owner(session, tenant_id, kind, object_id)
        formation = await self.get(session, tenant_id, name, lock="share")
        scenarios = await self.scenarios_of(session, tenant_id, owner, object_id)
        if name not in scenarios:
            await label_service.set(session, tenant_id, owner, object_id, SCENARIOS, [*scenarios, name])
        return formation

    async def unassign(
        self, session: AsyncSession, tenant_id: str, kind: FormationObjectKind, object_id: str, name: str
    ) -> Formation:
        owner = await self._owner(session, tenant_id, kind, object_id)
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

    async def page(self, session: AsyncSession, tenant_id: str, *, limit: int, offset: int) -> tuple[list[Formation], int]:
        return await FormationRepository(session).page(tenant_id, limit=limit, offset=offset)


formation = FormationService()
