from __future__ import annotations
import os
import hypothesis
from hypothesis import HealthCheck, given
from sqlalchemy import select
from tests.director.isolation_model import *
from tests.support import TenantFactory

BUG = os.environ.get("BUG", "")
if BUG == "get":
    from director.application.repository import ApplicationRepository
    async def get(self, tenant_id, object_id):
        return (await self.session.execute(select(self.model).where(self.model.id == object_id))).scalars().first()
    ApplicationRepository.get = get
elif BUG == "filter":
    from director.label.repository import LabelRepository, _owner_column
    from director.models import Label
    orig = LabelRepository.owners_matching
    def owners_matching(self, tenant_id, kind, condition):
        owner = _owner_column(kind)
        statement = select(owner).where(Label.key == condition.key, owner.is_not(None))
        if condition.any_of is not None:
            statement = statement.where(self.array_contains_any(condition.any_of))
        elif condition.has_equals:
            statement = statement.where(self.equals(condition.equals))
        return statement
    LabelRepository.owners_matching = owners_matching
    from director.application.repository import ApplicationRepository
    from director.models import Application
    def filtered(self, tenant_id, conditions):
        labels = LabelRepository(self.session)
        statement = select(Application)
        for condition in conditions:
            statement = statement.where(Application.id.in_(labels.owners_matching(tenant_id, LabelledKind.APPLICATION, condition)))
        return statement
    from director.label.repository import LabelledKind
    ApplicationRepository.filtered = filtered
elif BUG == "afr":
    from director.application.repository import ApplicationRepository
    from director.label.repository import LabelRepository, LabelledKind, _owner_column
    from director.label.filters import LabelCondition
    from director.models import Application, Label
    def in_scenarios(self, tenant_id, scenarios):
        labels = LabelRepository(self.session)
        owners = select(Label.application_id).where(Label.key == "scenarios", Label.application_id.is_not(None)).where(labels.array_contains_any(scenarios))
        return select(Application).where(Application.id.in_(owners))
    ApplicationRepository.in_scenarios = in_scenarios
elif BUG == "names":
    from director.formation.repository import FormationRepository
    from director.models import Formation
    async def names(self, tenant_id):
        return list((await self.session.execute(select(Formation.name).distinct().order_by(Formation.name))).scalars())
    FormationRepository.names = names
elif BUG == "token":
    from director.runtime.repository import RuntimeRepository
    import director.systemauth.service as s
    class R(RuntimeRepository):
        async def get(self, tenant_id, object_id):
            return (await self.session.execute(select(self.model).where(self.model.id == object_id))).scalars().first()
    s.RuntimeRepository = R
elif BUG == "message":
    import director.bundle.service as b
    from compass.errors import NotFoundError
    from director.application.repository import ApplicationRepository
    orig_add = b.BundleService.add
    async def add(self, session, tenant_id, application_id, data):
        from director.models import Application
        row = (await session.execute(select(Application).where(Application.id == application_id))).scalars().first()
        if row is not None and row.tenant_id != tenant_id:
            raise NotFoundError(f"application {application_id} does not exist in this tenant")
        return await orig_add(self, session, tenant_id, application_id, data)
    b.BundleService.add = add

@hypothesis.settings(max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=histories)
async def test_mut(tenants: TenantFactory, steps) -> None:
    world = await World.start(tenants)
    for step in steps:
        await world.perform(step)
    for actor in ACTORS:
        await world.check_snapshot(actor)
        await world.check_lookups(actor)
