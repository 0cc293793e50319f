"""The Director schema: Compass's names, with limits and error codes on from the start."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from compass.observability.metrics import GraphQLOperationMetrics
from compass.settings import Settings
from director.graphql.application.mutations import ApplicationMutations
from director.graphql.application.queries import ApplicationQueries
from director.graphql.application.types import AppSystemAuth, RuntimeSystemAuth
from director.graphql.errors import ErrorCodes
from director.graphql.formation.resolvers import FormationMutations, FormationQueries
from director.graphql.label.resolvers import LabelMutations, LabelQueries
from director.graphql.scalars import SCALAR_MAP
from director.graphql.runtime.resolvers import RuntimeMutations, RuntimeQueries
from director.graphql.systemauth.resolvers import SystemAuthMutations, SystemAuthQueries
from director.graphql.tenant.resolvers import TenantQueries

Query = merge_types(
    "Query", (ApplicationQueries, RuntimeQueries, LabelQueries, FormationQueries, TenantQueries, SystemAuthQueries)
)
Mutation = merge_types(
    "Mutation", (ApplicationMutations, RuntimeMutations, LabelMutations, FormationMutations, SystemAuthMutations)
)


class CloseSessions(SchemaExtension):
    """Returns the request's read connection to the pool as soon as the operation is done."""

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.execution_context.context.close()


class DirectorSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Expected errors are answers, not incidents; ErrorCodes logs the unexpected ones with their traceback."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return DirectorSchema(
        query=Query,
        mutation=Mutation,
        types=[AppSystemAuth, RuntimeSystemAuth],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            CloseSessions,
            ErrorCodes,
            GraphQLOperationMetrics.for_api("director"),
        ],
    )
