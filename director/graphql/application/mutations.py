from __future__ import annotations

import dataclasses
from typing import Annotated

import strawberry
from strawberry import Info

from director.application import inputs as application_inputs
from director.application.service import application as application_service
from director.apptemplate.service import application_template as application_template_service
from director.bundle import inputs as bundle_inputs
from director.bundle.service import bundle as bundle_service
from director.formationtemplate.service import formation_template as formation_template_service
from director.graphql.application.types import (
    APIDefinition,
    Application,
    Bundle,
    Document,
    EventDefinition,
    Webhook,
)
from director.graphql.convert import plain
from director.graphql.enums import OperationMode
from director.graphql.fetchrequest.resolvers import fetched
from director.graphql.inputs import (
    APIDefinitionInput,
    ApplicationRegisterInput,
    ApplicationUpdateInput,
    BundleCreateInput,
    BundleUpdateInput,
    DocumentInput,
    EventDefinitionInput,
    WebhookInput,
)
from director.graphql.label.types import Label
from director.graphql.permissions import require_scope, scoped
from director.graphql.scalars import AnyScalar
from director.operation.service import operation as operation_service
from director.webhook import inputs as webhook_inputs
from director.webhook.service import webhook as webhook_service
from kernel.errors import InvalidInputError
from kernel.principal import ClientKind, IntegrationSystemPrincipal, Scope

In = strawberry.argument(name="in")
ApplicationID = Annotated[strawberry.ID, strawberry.argument(name="applicationID")]
BundleID = Annotated[strawberry.ID, strawberry.argument(name="bundleID")]
WRITE = scoped(Scope.APPLICATION_WRITE)


def _check_local_tenant_scope(info: Info, data: ApplicationRegisterInput | ApplicationUpdateInput) -> None:
    """Compass's @hasScopes on the localTenantID input field: only callers holding its scope may set it."""
    if data.local_tenant_id is not None:
        require_scope(info, Scope.APPLICATION_LOCAL_TENANT_ID_WRITE)


@strawberry.type
class ApplicationMutations:
    @strawberry.mutation(
        description="Registers an application with its whole tree in one transaction. Mode ASYNC finishes at once "
        "as CREATE_SUCCEEDED (Compass without a REGISTER_APPLICATION webhook); with such a webhook it is refused.",
        extensions=WRITE,
    )
    async def register_application(
        self, info: Info, in_: Annotated[ApplicationRegisterInput, In], mode: OperationMode | None = OperationMode.SYNC
    ) -> Application:
        _check_local_tenant_scope(info, in_)
        data = await fetched(info, plain(in_, application_inputs.ApplicationRegisterInput))
        if mode is OperationMode.ASYNC:
            data = operation_service.registration(data)
        caller = info.context.principal
        if isinstance(caller, IntegrationSystemPrincipal) and data.integration_system_id is None:
            # What an integration system registers is its own unless it names another (Compass's integrationSystemID).
            data = dataclasses.replace(data, integration_system_id=caller.subject)
        return Application.of(await info.context.write(application_service.register, data))

    @strawberry.mutation(
        description="Changes an application's own fields.",
        extensions=scoped(Scope.APPLICATION_WRITE, own=(ClientKind.APPLICATION, "id")),
    )
    async def update_application(
        self, info: Info, id: strawberry.ID, in_: Annotated[ApplicationUpdateInput, In]
    ) -> Application:
        _check_local_tenant_scope(info, in_)
        data = plain(in_, application_inputs.ApplicationUpdateInput)
        return Application.of(await info.context.write(application_service.update, id, data))

    @strawberry.mutation(
        description="Deletes an application and everything it holds; its client certificates are revoked. Mode "
        "ASYNC does the same (Compass without an UNREGISTER_APPLICATION webhook); with such a webhook it is refused.",
        extensions=WRITE,
    )
    async def unregister_application(
        self, info: Info, id: strawberry.ID, mode: OperationMode | None = OperationMode.SYNC
    ) -> Application:
        unregister = operation_service.unregister if mode is OperationMode.ASYNC else application_service.unregister
        return Application.of(await info.context.write(unregister, id, now=info.context.clock()))

    @strawberry.mutation(
        description="pycompass: revokes every client certificate of the application; answers the revoked serials.",
        extensions=WRITE,
    )
    async def revoke_application_certificates(self, info: Info, id: strawberry.ID) -> list[str]:
        return await info.context.write(application_service.revoke_certificates, id, now=info.context.clock())

    @strawberry.mutation(description="Sets a label; key scenarios assigns formations.", extensions=WRITE)
    async def set_application_label(
        self, info: Info, application_id: ApplicationID, key: str, value: AnyScalar
    ) -> Label:
        return Label.of(await info.context.write(application_service.set_label, application_id, key, value))

    @strawberry.mutation(description="Deletes a label.", extensions=WRITE)
    async def delete_application_label(self, info: Info, application_id: ApplicationID, key: str) -> Label:
        return Label.of(await info.context.write(application_service.delete_label, application_id, key))

    @strawberry.mutation(description="Adds a bundle with its definitions.", extensions=WRITE)
    async def add_bundle(self, info: Info, application_id: ApplicationID, in_: Annotated[BundleCreateInput, In]) -> Bundle:
        data = await fetched(info, plain(in_, bundle_inputs.BundleCreateInput))
        return Bundle.of(await info.context.write(bundle_service.add, application_id, data))

    @strawberry.mutation(description="Changes a bundle's own fields.", extensions=WRITE)
    async def update_bundle(self, info: Info, id: strawberry.ID, in_: Annotated[BundleUpdateInput, In]) -> Bundle:
        data = plain(in_, bundle_inputs.BundleUpdateInput)
        return Bundle.of(await info.context.write(bundle_service.update, id, data))

    @strawberry.mutation(description="Deletes a bundle with its definitions.", extensions=WRITE)
    async def delete_bundle(self, info: Info, id: strawberry.ID) -> Bundle:
        return Bundle.of(await info.context.write(bundle_service.delete, id))

    @strawberry.mutation(name="addAPIDefinitionToBundle", description="Adds an API to a bundle.", extensions=WRITE)
    async def add_api_definition_to_bundle(
        self, info: Info, bundle_id: BundleID, in_: Annotated[APIDefinitionInput, In]
    ) -> APIDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.APIDefinitionInput))
        return APIDefinition.of(await info.context.write(bundle_service.add_api, bundle_id, data))

    @strawberry.mutation(name="updateAPIDefinition", description="Replaces an API definition.", extensions=WRITE)
    async def update_api_definition(
        self, info: Info, id: strawberry.ID, in_: Annotated[APIDefinitionInput, In]
    ) -> APIDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.APIDefinitionInput))
        return APIDefinition.of(await info.context.write(bundle_service.update_api, id, data))

    @strawberry.mutation(name="deleteAPIDefinition", description="Deletes an API definition.", extensions=WRITE)
    async def delete_api_definition(self, info: Info, id: strawberry.ID) -> APIDefinition:
        return APIDefinition.of(await info.context.write(bundle_service.delete_api, id))

    @strawberry.mutation(description="Adds an event definition to a bundle.", extensions=WRITE)
    async def add_event_definition_to_bundle(
        self, info: Info, bundle_id: BundleID, in_: Annotated[EventDefinitionInput, In]
    ) -> EventDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.EventDefinitionInput))
        return EventDefinition.of(await info.context.write(bundle_service.add_event, bundle_id, data))

    @strawberry.mutation(description="Replaces an event definition.", extensions=WRITE)
    async def update_event_definition(
        self, info: Info, id: strawberry.ID, in_: Annotated[EventDefinitionInput, In]
    ) -> EventDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.EventDefinitionInput))
        return EventDefinition.of(await info.context.write(bundle_service.update_event, id, data))

    @strawberry.mutation(description="Deletes an event definition.", extensions=WRITE)
    async def delete_event_definition(self, info: Info, id: strawberry.ID) -> EventDefinition:
        return EventDefinition.of(await info.context.write(bundle_service.delete_event, id))

    @strawberry.mutation(description="Adds a document to a bundle.", extensions=WRITE)
    async def add_document_to_bundle(
        self, info: Info, bundle_id: BundleID, in_: Annotated[DocumentInput, In]
    ) -> Document:
        data = await fetched(info, plain(in_, bundle_inputs.DocumentInput))
        return Document.of(await info.context.write(bundle_service.add_document, bundle_id, data))

    @strawberry.mutation(description="Deletes a document.", extensions=WRITE)
    async def delete_document(self, info: Info, id: strawberry.ID) -> Document:
        return Document.of(await info.context.write(bundle_service.delete_document, id))

    @strawberry.mutation(description="Adds a webhook to an application, runtime or template.", extensions=WRITE)
    async def add_webhook(  # noqa: PLR0917 - Compass's arguments, each owner kind its own
        self,
        info: Info,
        in_: Annotated[WebhookInput, In],
        application_id: Annotated[strawberry.ID | None, strawberry.argument(name="applicationID")] = None,
        runtime_id: Annotated[strawberry.ID | None, strawberry.argument(name="runtimeID")] = None,
        application_template_id: Annotated[
            strawberry.ID | None, strawberry.argument(name="applicationTemplateID")
        ] = None,
        formation_template_id: Annotated[strawberry.ID | None, strawberry.argument(name="formationTemplateID")] = None,
    ) -> Webhook:
        data = plain(in_, webhook_inputs.WebhookInput)
        if formation_template_id is not None:
            if application_id is not None or runtime_id is not None or application_template_id is not None:
                raise InvalidInputError(
                    "give exactly one of applicationID, applicationTemplateID, runtimeID or formationTemplateID"
                )
            require_scope(info, Scope.FORMATION_TEMPLATE_WRITE)
            added = await info.context.write(formation_template_service.add_webhook, formation_template_id, data)
            return Webhook.of(added)
        if application_template_id is not None:
            # A template's webhook is global like the template: it takes the template's write scope.
            if application_id is not None or runtime_id is not None:
                raise InvalidInputError("give exactly one of applicationID, applicationTemplateID or runtimeID")
            require_scope(info, Scope.APPLICATION_TEMPLATE_WRITE)
            added = await info.context.write(application_template_service.add_webhook, application_template_id, data)
            return Webhook.of(added)
        return Webhook.of(
            await info.context.write(webhook_service.add, data, application_id=application_id, runtime_id=runtime_id)
        )

    @strawberry.mutation(
        description="Replaces a webhook; an application template's takes application_template:write too.",
        extensions=WRITE,
    )
    async def update_webhook(
        self,
        info: Info,
        webhook_id: Annotated[strawberry.ID, strawberry.argument(name="webhookID")],
        in_: Annotated[WebhookInput, In],
    ) -> Webhook:
        data = plain(in_, webhook_inputs.WebhookInput)
        templates = info.context.principal.has_scope(Scope.APPLICATION_TEMPLATE_WRITE)
        return Webhook.of(await info.context.write(webhook_service.update, webhook_id, data, templates=templates))

    @strawberry.mutation(
        description="Deletes a webhook; an application template's takes application_template:write too.",
        extensions=WRITE,
    )
    async def delete_webhook(
        self, info: Info, webhook_id: Annotated[strawberry.ID, strawberry.argument(name="webhookID")]
    ) -> Webhook:
        templates = info.context.principal.has_scope(Scope.APPLICATION_TEMPLATE_WRITE)
        return Webhook.of(await info.context.write(webhook_service.delete, webhook_id, templates=templates))
