from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry import Info

from director import models
from director.formation.repository import FormationRepository
from director.formation.service import FormationObjectKind
from director.formation.service import formation as formation_service
from director.graphql.application.types import After, First
from director.graphql.enums import FormationObjectType
from director.graphql.formation.types import Formation, FormationPage
from director.graphql.inputs import FormationInput
from director.graphql.pagination import PageInfo
from director.graphql.permissions import scoped
from director.pagination import Page, PageRequest
from kernel.principal import Scope

READ = scoped(Scope.FORMATION_READ)
WRITE = scoped(Scope.FORMATION_WRITE)
ObjectID = Annotated[strawberry.ID, strawberry.argument(name="objectID")]


@strawberry.type
class FormationQueries:
    @strawberry.field(description="Formations of the tenant.", extensions=READ)
    async def formations(self, info: Info, first: First = 200, after: After = None) -> FormationPage:
        request = PageRequest.of(first, after)
        async with info.context.reading() as session:
            rows, total = await formation_service.page(
                session, info.context.tenant_id, limit=request.limit, offset=request.offset
            )
        page = Page(rows, total, request.offset)
        return FormationPage(data=[Formation.of(row) for row in rows], page_info=PageInfo.of(page), total_count=total)

    @strawberry.field(description="One formation by name, or null.", extensions=READ)
    async def formation_by_name(self, info: Info, name: str) -> Formation | None:
        async with info.context.reading() as session:
            row = await FormationRepository(session).get_by_name(info.context.tenant_id, name)
        return Formation.of(row) if row else None

    @strawberry.field(description="Formations an application or runtime is in.", extensions=READ)
    async def formations_for_object(self, info: Info, object_id: ObjectID) -> list[Formation]:
        async with info.context.reading() as session:
            rows = await formation_service.for_object(session, info.context.tenant_id, object_id)
        return [Formation.of(row) for row in rows]


def _owner(object_id: str, object_type: FormationObjectType, joining: str | None = None) -> dict[str, Any]:
    """Assigning changes the view of the runtime, or the views sharing a formation with the application (which
    may be ``joining`` one)."""
    if object_type is FormationObjectType.RUNTIME:
        return {"runtime_id": object_id, "runtime_formations": True}
    if object_type is FormationObjectType.APPLICATION:
        return {"application_part": (models.Application, object_id), "joining_formations": [joining] if joining else ()}
    return {}


@strawberry.type
class FormationMutations:
    @strawberry.mutation(description="Creates a formation.", extensions=WRITE)
    async def create_formation(self, info: Info, formation: FormationInput) -> Formation:
        async with info.context.writing() as session:
            row = await formation_service.create(session, info.context.tenant_id, formation.name, formation.template_name)
        return Formation.of(row)

    @strawberry.mutation(description="Deletes a formation nothing is assigned to.", extensions=WRITE)
    async def delete_formation(self, info: Info, formation: FormationInput) -> Formation:
        async with info.context.writing() as session:
            row = await formation_service.delete(session, info.context.tenant_id, formation.name)
        return Formation.of(row)

    @strawberry.mutation(description="Puts an application or runtime into a formation.", extensions=WRITE)
    async def assign_formation(
        self, info: Info, object_id: ObjectID, object_type: FormationObjectType, formation: FormationInput
    ) -> Formation:
        async with info.context.writing(**_owner(object_id, object_type, formation.name)) as session:
            row = await formation_service.assign(
                session, info.context.tenant_id, FormationObjectKind(object_type.value), object_id, formation.name
            )
        return Formation.of(row)

    @strawberry.mutation(description="Takes an application or runtime out of a formation.", extensions=WRITE)
    async def unassign_formation(
        self, info: Info, object_id: ObjectID, object_type: FormationObjectType, formation: FormationInput
    ) -> Formation:
        async with info.context.writing(**_owner(object_id, object_type)) as session:
            row = await formation_service.unassign(
                session, info.context.tenant_id, FormationObjectKind(object_type.value), object_id, formation.name
            )
        return Formation.of(row)
