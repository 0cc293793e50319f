"""The thin Starlette adapter of the Connector API."""

from __future__ import annotations

import dataclasses
import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.schema import BaseSchema

from connector.graphql.context import ConnectorContext
from connector.service import ConnectorService
from kernel.graphiql.page import graphiql_html
from kernel.http import StrictJSONBodyMixin

# Compass's own Connector client sends `configuration()`; its Go parser accepts the empty argument list, the
# GraphQL grammar (and graphql-core) does not. Connector documents carry no other parentheses in strings.
_EMPTY_ARGUMENTS = re.compile(r"(?<=[_A-Za-z0-9])\s*\(\s*\)")


def accept_empty_arguments(query: str | None) -> str | None:
    return _EMPTY_ARGUMENTS.sub("", query) if query else query


class ConnectorGraphQL(StrictJSONBodyMixin, GraphQL[ConnectorContext, None]):
    def __init__(self, schema: BaseSchema, *, service: ConnectorService) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self.service = service
        self._ide_html = graphiql_html()

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return [dataclasses.replace(item, query=accept_empty_arguments(item.query)) for item in data]
        return dataclasses.replace(data, query=accept_empty_arguments(data.query))

    async def get_context(self, request: Request, response: Response | None) -> ConnectorContext:  # type: ignore[override]
        return ConnectorContext(
            request=request,
            response=response,
            service=self.service,
            credential=request.scope.get("state", {}).get("principal"),
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_html)
