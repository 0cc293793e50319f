from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelledRepository
from director.models import SCENARIOS, Runtime
from director.tenantaccess.repository import Shared
from kernel.changes import client_gone

_runtimes = cast(Table, Runtime.__table__)
_seen_at = bindparam("seen_at", type_=_runtimes.c.last_seen_at.type)
_LATER_SEEN = (
    update(_runtimes)
    .where(
        _runtimes.c.id == bindparam("runtime_id"),
        or_(_runtimes.c.last_seen_at.is_(None), _runtimes.c.last_seen_at < _seen_at),
    )
    .values(last_seen_at=_seen_at)
)


class RuntimeRepository(Shared, LabelledRepository[Runtime]):
    model = Runtime
    noun = "runtime"
    reached_through = (("id", "RUNTIME"),)
    kind = LabelledKind.RUNTIME
    order_by = ("name", "id")
    deletion_tags = (client_gone,)

    async def get_by_name(self, tenant_id: str, name: str) -> Runtime | None:
        statement = self.select(tenant_id).where(Runtime.name == name)
        return (await self.session.execute(statement)).scalars().first()

    async def names_in_formations(self, tenant_id: str, formations: Sequence[str]) -> list[str]:
        """The names of the runtimes in any of ``formations``, sorted."""
        condition = LabelCondition(key=SCENARIOS, any_of=tuple(formations))
        statement = self.filtered(tenant_id, [condition]).with_only_columns(Runtime.name).order_by(Runtime.name)
        return list((await self.session.execute(statement)).scalars())

    async def record_last_seen(self, seen: Sequence[tuple[str, datetime]]) -> None:
        """Each runtime's last poll time (of any tenant), unless a later one was written already, by another
        worker: one statement run for every runtime in the order given (executemany). Built and sent one by one,
        the updates took 15 % of a server's CPU under 2,000 polling runtimes (bench/fleet.py --profile)."""
        if seen:
            rows = [{"runtime_id": runtime_id, "seen_at": at} for runtime_id, at in seen]
            await self.session.execute(_LATER_SEEN, rows)
