"""The thin Starlette adapter of the Connector API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema import BaseSchema

from connector.graphql.context import ConnectorContext
from connector.service import ConnectorService
from kernel.http import GraphQLView


class ConnectorGraphQL(GraphQLView[ConnectorContext, None]):
    def __init__(self, schema: BaseSchema, *, service: ConnectorService) -> None:
        super().__init__(schema, allow_queries_via_get=False)
        self.service = service

    async def get_context(self, request: Request, response: Response | None) -> ConnectorContext:  # type: ignore[override]
        return ConnectorContext(
            request=request,
            response=response,
            service=self.service,
            credential=request.scope.get("state", {}).get("principal"),
        )
