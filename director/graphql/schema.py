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

from director.graphql.application.definitions import (
    ApplicationDefinitionMutations,
    ApplicationDefinitionQueries,
)
from director.graphql.application.everywhere import ApplicationsEverywhereQueries
from director.graphql.application.lifecycle import ApplicationLifecycleMutations, ApplicationLifecycleQueries
from director.graphql.application.mutations import ApplicationMutations
from director.graphql.application.queries import ApplicationQueries
from director.graphql.application.types import AppSystemAuth, IntSysSystemAuth, RuntimeSystemAuth
from director.graphql.apptemplate.resolvers import ApplicationTemplateMutations, ApplicationTemplateQueries
from director.graphql.certsubjectmapping.resolvers import (
    CertificateSubjectMappingMutations,
    CertificateSubjectMappingQueries,
)
from director.graphql.eventing.resolvers import EventingMutations
from director.graphql.fetchrequest.resolvers import FetchRequestMutations
from director.graphql.formation.resolvers import FormationMutations, FormationQueries
from director.graphql.formationconstraint.resolvers import (
    FormationConstraintMutations,
    FormationConstraintQueries,
)
from director.graphql.formationtemplate.resolvers import FormationTemplateMutations, FormationTemplateQueries
from director.graphql.healthcheck.resolvers import HealthCheckQueries
from director.graphql.instanceauth.resolvers import BundleInstanceAuthMutations, BundleInstanceAuthQueries
from director.graphql.integrationdependency.resolvers import IntegrationDependencyMutations
from director.graphql.integrationsystem.resolvers import IntegrationSystemMutations, IntegrationSystemQueries
from director.graphql.label.resolvers import LabelMutations, LabelQueries
from director.graphql.operation.resolvers import OperationMutations, OperationQueries
from director.graphql.operation.types import OperationType
from director.graphql.retry import retry_transaction_conflicts
from director.graphql.runtime.resolvers import RuntimeMutations, RuntimeQueries
from director.graphql.runtimecontext.resolvers import RuntimeContextMutations
from director.graphql.scalars import scalar_map
from director.graphql.scenarioassignment.resolvers import ScenarioAssignmentQueries
from director.graphql.systemauth.credentials import ClientCredentialsMutations, SystemAuthByTokenQueries
from director.graphql.systemauth.resolvers import SystemAuthMutations, SystemAuthQueries
from director.graphql.tenant.resolvers import TenantMutations, TenantQueries
from director.graphql.tenantaccess.resolvers import TenantAccessMutations
from director.graphql.tenantsubscription.resolvers import TenantSubscriptionMutations
from director.graphql.watcher.resolvers import WatcherMutations, WatcherQueries
from director.polling.shared_views import SharingExecutionContext
from kernel.graphql.limits import shared_extensions
from kernel.settings import Settings

log = structlog.get_logger("compass.graphql")

Query = merge_types(
    "Query",
    (
        ApplicationQueries,
        ApplicationDefinitionQueries,
        ApplicationLifecycleQueries,
        ApplicationTemplateQueries,
        ApplicationsEverywhereQueries,
        RuntimeQueries,
        ScenarioAssignmentQueries,
        LabelQueries,
        FormationQueries,
        FormationTemplateQueries,
        FormationConstraintQueries,
        TenantQueries,
        SystemAuthQueries,
        SystemAuthByTokenQueries,
        IntegrationSystemQueries,
        BundleInstanceAuthQueries,
        HealthCheckQueries,
        CertificateSubjectMappingQueries,
        OperationQueries,
        WatcherQueries,
    ),
)
Mutation = retry_transaction_conflicts(
    merge_types(
        "Mutation",
        (
            ApplicationMutations,
            ApplicationDefinitionMutations,
            ApplicationLifecycleMutations,
            IntegrationDependencyMutations,
            ApplicationTemplateMutations,
            RuntimeMutations,
            RuntimeContextMutations,
            LabelMutations,
            FormationMutations,
            FormationTemplateMutations,
            FormationConstraintMutations,
            SystemAuthMutations,
            ClientCredentialsMutations,
            IntegrationSystemMutations,
            BundleInstanceAuthMutations,
            EventingMutations,
            FetchRequestMutations,
            CertificateSubjectMappingMutations,
            TenantMutations,
            TenantSubscriptionMutations,
            TenantAccessMutations,
            OperationMutations,
            WatcherMutations,
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
        # OperationType: Compass declares it for its @async directive, which no field shows.
        types=[AppSystemAuth, RuntimeSystemAuth, IntSysSystemAuth, OperationType],
        config=StrawberryConfig(scalar_map=scalar_map(settings)),
        extensions=[CloseSessions, *shared_extensions(settings, "director")],
        execution_context_class=SharingExecutionContext,
    )
