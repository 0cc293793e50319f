"""The reads eventing needs over many applications at once: a page of applications costs a fixed number of
statements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from director.eventing.labels import DEFAULT_EVENTING_SUFFIX
from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.models import SCENARIOS, Label, Runtime


class EventingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def label_values(
        self, tenant_id: str, kind: LabelledKind, owner_ids: Collection[str], keys: Collection[str]
    ) -> dict[str, dict[str, Any]]:
        """``{owner id: {key: value}}`` of the labels with ``keys`` of many owners."""
        owner = Label.application_id if kind is LabelledKind.APPLICATION else Label.runtime_id
        rows = await self.session.execute(
            select(owner, Label.key, Label.value).where(
                Label.tenant_id == tenant_id, owner.in_(list(owner_ids)), Label.key.in_(list(keys))
            )
        )
        found: dict[str, dict[str, Any]] = defaultdict(dict)
        for owner_id, key, value in rows:
            found[owner_id][key] = value
        return found

    async def default_runtimes(self, tenant_id: str, application_ids: Sequence[str]) -> dict[str, list[str]]:
        """``{application id: [runtime ids labelled its default for eventing]}``, sorted (one, unless someone set
        the label by hand)."""
        keys = [application_id + DEFAULT_EVENTING_SUFFIX for application_id in application_ids]
        rows = await self.session.execute(
            select(Label.key, Label.runtime_id)
            .where(Label.tenant_id == tenant_id, Label.runtime_id.is_not(None), Label.key.in_(keys))
            .order_by(Label.runtime_id)
        )
        found: dict[str, list[str]] = defaultdict(list)
        for key, runtime_id in rows:
            found[key.removesuffix(DEFAULT_EVENTING_SUFFIX)].append(str(runtime_id))
        return found

    async def runtimes_in_formations(self, tenant_id: str, names: Sequence[str]) -> list[tuple[str, list[str]]]:
        """``(runtime id, its formations)`` of the runtimes in any of the formations ``names``, oldest first."""
        members = LabelRepository(self.session).owners_matching(
            tenant_id, LabelledKind.RUNTIME, LabelCondition(key=SCENARIOS, any_of=tuple(names))
        )
        rows = await self.session.execute(
            select(Runtime.id, Label.value)
            .join(Label, (Label.runtime_id == Runtime.id) & (Label.key == SCENARIOS))
            .where(Runtime.tenant_id == tenant_id, Runtime.id.in_(members))
            .order_by(Runtime.created_at, Runtime.id)
        )
        return [(runtime_id, list(value)) for runtime_id, value in rows]
