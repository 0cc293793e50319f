from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.formation import inputs
from director.formation.lifecycle import formation_lifecycle as lifecycle_service
from director.formation.service import formation as formation_service
from director.formationassignment.service import InitialConfiguration as PlainInitialConfiguration
from director.graphql.application.types import After, First
from director.graphql.convert import plain
from director.graphql.enums import FormationObjectType
from director.graphql.formation.types import Formation, FormationPage
from director.graphql.inputs import FormationInput, InitialConfiguration
from director.graphql.permissions import require_scope, scoped
from director.pagination import PageRequest
from kernel.principal import Scope

READ = scoped(Scope.FORMATION_READ)
WRITE = scoped(Scope.FORMATION_WRITE)
GLOBAL_WRITE = scoped(Scope.FORMATION_GLOBAL_WRITE)
ObjectID = Annotated[strawberry.ID, strawberry.argument(name="objectID")]
FormationID = Annotated[strawberry.ID, strawberry.argument(name="formationID")]


@strawberry.type
class FormationQueries:
    @strawberry.field(description="Formations of the tenant.", extensions=READ)
    async def formations(self, info: Info, first: First = 200, after: After = None) -> FormationPage:
        page = await info.context.read(formation_service.page, PageRequest.of(first, after))
        return FormationPage.of(page, Formation.of)

    @strawberry.field(description="One formation by id, or null.", extensions=READ)
    async def formation(self, info: Info, id: strawberry.ID) -> Formation | None:
        row = await info.context.read(lifecycle_service.find, id)
        return Formation.of(row) if row else None

    @strawberry.field(description="One formation by name, or null.", extensions=READ)
    async def formation_by_name(self, info: Info, name: str) -> Formation | None:
        row = await info.context.read(formation_service.find, name)
        return Formation.of(row) if row else None

    @strawberry.field(description="Formations an application or runtime is in.", extensions=READ)
    async def formations_for_object(
        self, info: Info, object_id: Annotated[str, strawberry.argument(name="objectID")]
    ) -> list[Formation]:
        return [Formation.of(row) for row in await info.context.read(formation_service.for_object, object_id)]


@strawberry.type
class FormationMutations:
    @strawberry.mutation(description="Creates a formation.", extensions=WRITE)
    async def create_formation(self, info: Info, formation: FormationInput) -> Formation:
        if formation.state is not None:
            require_scope(info, Scope.FORMATION_STATE_WRITE)
        data = plain(formation, inputs.FormationInput)
        return Formation.of(await info.context.write(formation_service.create, data))

    @strawberry.mutation(description="Deletes a formation nothing is assigned to.", extensions=WRITE)
    async def delete_formation(self, info: Info, formation: FormationInput) -> Formation:
        return Formation.of(await info.context.write(formation_service.delete, formation.name))

    @strawberry.mutation(description="Puts an application or runtime into a formation.", extensions=WRITE)
    async def assign_formation(
        self,
        info: Info,
        object_id: ObjectID,
        object_type: FormationObjectType,
        formation: FormationInput,
        initial_configurations: list[InitialConfiguration] | None = None,
    ) -> Formation:
        configurations = [plain(item, PlainInitialConfiguration) for item in initial_configurations or []]
        return Formation.of(
            await info.context.write(
                formation_service.assign, object_type, object_id, formation.name, configurations
            )
        )

    @strawberry.mutation(description="Takes an application or runtime out of a formation.", extensions=WRITE)
    async def unassign_formation(
        self, info: Info, object_id: ObjectID, object_type: FormationObjectType, formation: FormationInput
    ) -> Formation:
        return Formation.of(await info.context.write(formation_service.unassign, object_type, object_id, formation.name))

    @strawberry.mutation(
        description="Takes an application, runtime or runtime context out of a formation named by id.",
        extensions=GLOBAL_WRITE,
    )
    async def unassign_formation_global(
        self, info: Info, object_id: ObjectID, object_type: FormationObjectType, formation: strawberry.ID
    ) -> Formation:
        return Formation.of(await info.context.write(formation_service.unassign_by_id, object_type, object_id, formation))

    @strawberry.mutation(description="Moves a DRAFT formation to READY, and its assignments.", extensions=WRITE)
    async def finalize_draft_formation(self, info: Info, formation_id: FormationID) -> Formation:
        return Formation.of(await info.context.write(lifecycle_service.finalize_draft, formation_id))

    @strawberry.mutation(
        description="Brings a formation and its assignments to READY (all of them anew on reset).", extensions=WRITE
    )
    async def resynchronize_formation_notifications(
        self, info: Info, formation_id: FormationID, reset: bool | None = None
    ) -> Formation:
        return Formation.of(
            await info.context.write(lifecycle_service.resynchronize, formation_id, reset=bool(reset))
        )
