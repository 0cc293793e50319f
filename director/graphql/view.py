"""The thin Starlette adapter: strawberry's ASGI view with our context and the offline GraphiQL page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from compass.auth.principal import ANONYMOUS
from compass.db import Database
from compass.graphiql import graphiql_html
from compass.http import StrictJSONBodyMixin
from compass.settings import Settings
from connector.service import ConnectorService
from director.graphql.context import DirectorContext
from director.polling.shared_views import SharedViews


class DirectorGraphQL(StrictJSONBodyMixin, GraphQL[DirectorContext, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        database: Database,
        settings: Settings,
        connector: ConnectorService,
        shared_views: SharedViews | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.database = database
        self.settings = settings
        self.connector = connector
        self.shared_views = shared_views
        self._ide_html = graphiql_html()

    async def get_context(self, request: Request, response: Response | None) -> DirectorContext:  # type: ignore[override]
        return DirectorContext(
            request=request,
            response=response,
            database=self.database,
            settings=self.settings,
            connector=self.connector,
            principal=request.scope.get("state", {}).get("principal", ANONYMOUS),
            shared_views=self.shared_views,
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_html)
