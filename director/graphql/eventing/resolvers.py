from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.eventing.service import eventing as eventing_service
from director.graphql.eventing.types import ApplicationEventingConfiguration
from director.graphql.permissions import scoped
from kernel.principal import Scope

AppID = Annotated[str, strawberry.argument(name="appID")]
RuntimeID = Annotated[str, strawberry.argument(name="runtimeID")]
MANAGE = scoped(Scope.EVENTING_MANAGE)


@strawberry.type
class EventingMutations:
    @strawberry.mutation(
        description="Makes the runtime, which must share a formation with the application, its default for eventing.",
        extensions=MANAGE,
    )
    async def set_default_eventing_for_application(
        self, info: Info, app_id: AppID, runtime_id: RuntimeID
    ) -> ApplicationEventingConfiguration:
        url = await info.context.write(eventing_service.set_for_application, app_id, runtime_id)
        return ApplicationEventingConfiguration(default_url=url)

    @strawberry.mutation(
        description="Removes the application's default runtime for eventing; answers the configuration it had.",
        extensions=MANAGE,
    )
    async def delete_default_eventing_for_application(self, info: Info, app_id: AppID) -> ApplicationEventingConfiguration:
        url = await info.context.write(eventing_service.delete_for_application, app_id)
        return ApplicationEventingConfiguration(default_url=url)
