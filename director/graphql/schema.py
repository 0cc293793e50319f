"""The Director schema: Compass's names, with limits and error codes on from the start."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from director.graphql.application.mutations import ApplicationMutations
from director.graphql.application.queries import ApplicationQueries
from director.graphql.application.types import AppSystemAuth, RuntimeSystemAuth
from director.graphql.eventing.resolvers import EventingMutations
from director.graphql.formation.resolvers import FormationMutations, FormationQueries
from director.graphql.instanceauth.resolvers import BundleInstanceAuthMutations, BundleInstanceAuthQueries
from director.graphql.label.resolvers import LabelMutations, LabelQueries
from director.graphql.retry import retry_transaction_conflicts
from director.graphql.runtime.resolvers import RuntimeMutations, RuntimeQueries
from director.graphql.scalars import scalar_map
from director.graphql.systemauth.resolvers import SystemAuthMutations, SystemAuthQueries
from director.graphql.tenant.resolvers import TenantQueries
from director.polling.shared_views import SharingExecutionContext
from kernel.graphql.limits import shared_extensions
from kernel.settings import Settings

log = structlog.get_logger("compass.graphql")

Query = merge_types(
    "Query",
    (
        ApplicationQueries,
        RuntimeQueries,
        LabelQueries,
        FormationQueries,
        TenantQueries,
        SystemAuthQueries,
        BundleInstanceAuthQueries,
    ),
)
Mutation = retry_transaction_conflicts(
    merge_types(
        "Mutation",
        (
            ApplicationMutations,
            RuntimeMutations,
            LabelMutations,
            FormationMutations,
            SystemAuthMutations,
            BundleInstanceAuthMutations,
            EventingMutations,
        ),
    )
)


class CloseSessions(SchemaExtension):
    """Returns the request's read connection to the pool as soon as the operation is done."""

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            try:
                await self.execution_context.context.close()
            except Exception:  # e.g. the database went away: the answer already made stands
                log.warning("read_session_close_failed", exc_info=True)


class DirectorSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Expected errors are answers, not incidents; ErrorCodes logs the unexpected ones with their traceback."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return DirectorSchema(
        query=Query,
        mutation=Mutation,
        types=[AppSystemAuth, RuntimeSystemAuth],
        config=StrawberryConfig(scalar_map=scalar_map(settings)),
        extensions=[CloseSessions, *shared_extensions(settings, "director")],
        execution_context_class=SharingExecutionContext,
    )
