"""The thin Starlette adapter: strawberry's ASGI view with our context and the offline GraphiQL page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from director.graphql.context import DirectorContext
from director.polling.shared_views import SharedViews
from kernel.db import Database
from kernel.graphiql.page import graphiql_html
from kernel.http import StrictJSONBodyMixin
from kernel.models import utcnow
from kernel.principal import ANONYMOUS
from kernel.settings import Settings


class DirectorGraphQL(StrictJSONBodyMixin, GraphQL[DirectorContext, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        database: Database,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        shared_views: SharedViews | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.database = database
        self.settings = settings
        self.clock = clock
        self.shared_views = shared_views
        self._ide_html = graphiql_html()

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

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_html)
