"""The thin Starlette adapter: the shared GraphQL view (kernel.http) with the Director's context."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema import BaseSchema

from director.graphql.context import DirectorContext
from director.polling.shared_views import SharedViews
from kernel.db import Database
from kernel.http import GraphQLView
from kernel.models import utcnow
from kernel.principal import ANONYMOUS
from kernel.settings import Settings


class DirectorGraphQL(GraphQLView[DirectorContext, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        database: Database,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        shared_views: SharedViews | None = None,
    ) -> None:
        super().__init__(schema, allow_queries_via_get=True)
        self.database = database
        self.settings = settings
        self.clock = clock
        self.shared_views = shared_views

    async def get_context(self, request: Request, response: Response | None) -> DirectorContext:  # type: ignore[override]
        return DirectorContext(
            request=request,
            response=response,
            database=self.database,
            settings=self.settings,
            clock=self.clock,
            principal=request.scope.get("state", {}).get("principal", ANONYMOUS),
            shared_views=self.shared_views,
        )
