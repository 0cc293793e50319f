from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.application import inputs as application_inputs
from director.application.service import application as application_service
from director.bundle import inputs as bundle_inputs
from director.bundle.service import bundle as bundle_service
from director.graphql.application.types import (
    APIDefinition,
    Application,
    Bundle,
    Document,
    EventDefinition,
    Webhook,
)
from director.graphql.convert import plain
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
from director.graphql.permissions import scoped
from director.graphql.scalars import AnyScalar
from director.webhook import inputs as webhook_inputs
from director.webhook.service import webhook as webhook_service
from kernel.principal import ClientKind, Scope

In = strawberry.argument(name="in")
ApplicationID = Annotated[strawberry.ID, strawberry.argument(name="applicationID")]
BundleID = Annotated[strawberry.ID, strawberry.argument(name="bundleID")]
WRITE = scoped(Scope.APPLICATION_WRITE)


@strawberry.type
class ApplicationMutations:
    @strawberry.mutation(description="Registers an application with its whole tree in one transaction.", extensions=WRITE)
    async def register_application(self, info: Info, in_: Annotated[ApplicationRegisterInput, In]) -> Application:
        async with info.context.writing() as session:
            model = await application_service.register(
                session, info.context.tenant_id, plain(in_, application_inputs.ApplicationRegisterInput)
            )
        return Application.of(model)

    @strawberry.mutation(
        description="Changes an application's own fields.",
        extensions=scoped(Scope.APPLICATION_WRITE, own=(ClientKind.APPLICATION, "id")),
    )
    async def update_application(
        self, info: Info, id: strawberry.ID, in_: Annotated[ApplicationUpdateInput, In]
    ) -> Application:
        async with info.context.writing() as session:
            model = await application_service.update(
                session, info.context.tenant_id, id, plain(in_, application_inputs.ApplicationUpdateInput)
            )
        return Application.of(model)

    @strawberry.mutation(
        description="Deletes an application and everything it holds; its client certificates are revoked.",
        extensions=WRITE,
    )
    async def unregister_application(self, info: Info, id: strawberry.ID) -> Application:
        async with info.context.writing() as session:
            model = await application_service.unregister(session, info.context.tenant_id, id, now=info.context.clock())
        return Application.of(model)

    @strawberry.mutation(
        description="pycompass: revokes every client certificate of the application; answers the revoked serials.",
        extensions=WRITE,
    )
    async def revoke_application_certificates(self, info: Info, id: strawberry.ID) -> list[str]:
        async with info.context.writing() as session:
            return await application_service.revoke_certificates(
                session, info.context.tenant_id, id, now=info.context.clock()
            )

    @strawberry.mutation(description="Sets a label; key scenarios assigns formations.", extensions=WRITE)
    async def set_application_label(
        self, info: Info, application_id: ApplicationID, key: str, value: AnyScalar
    ) -> Label:
        async with info.context.writing() as session:
            model = await application_service.set_label(session, info.context.tenant_id, application_id, key, value)
        return Label.of(model)

    @strawberry.mutation(description="Deletes a label.", extensions=WRITE)
    async def delete_application_label(self, info: Info, application_id: ApplicationID, key: str) -> Label:
        async with info.context.writing() as session:
            model = await application_service.delete_label(session, info.context.tenant_id, application_id, key)
        return Label.of(model)

    @strawberry.mutation(description="Adds a bundle with its definitions.", extensions=WRITE)
    async def add_bundle(self, info: Info, application_id: ApplicationID, in_: Annotated[BundleCreateInput, In]) -> Bundle:
        async with info.context.writing() as session:
            model = await bundle_service.add(
                session, info.context.tenant_id, application_id, plain(in_, bundle_inputs.BundleCreateInput)
            )
        return Bundle.of(model)

    @strawberry.mutation(description="Changes a bundle's own fields.", extensions=WRITE)
    async def update_bundle(self, info: Info, id: strawberry.ID, in_: Annotated[BundleUpdateInput, In]) -> Bundle:
        async with info.context.writing() as session:
            model = await bundle_service.update(
                session, info.context.tenant_id, id, plain(in_, bundle_inputs.BundleUpdateInput)
            )
        return Bundle.of(model)

    @strawberry.mutation(description="Deletes a bundle with its definitions.", extensions=WRITE)
    async def delete_bundle(self, info: Info, id: strawberry.ID) -> Bundle:
        async with info.context.writing() as session:
            model = await bundle_service.delete(session, info.context.tenant_id, id)
        return Bundle.of(model)

    @strawberry.mutation(name="addAPIDefinitionToBundle", description="Adds an API to a bundle.", extensions=WRITE)
    async def add_api_definition_to_bundle(
        self, info: Info, bundle_id: BundleID, in_: Annotated[APIDefinitionInput, In]
    ) -> APIDefinition:
        async with info.context.writing() as session:
            model = await bundle_service.add_api(
                session, info.context.tenant_id, bundle_id, plain(in_, bundle_inputs.APIDefinitionInput)
            )
        return APIDefinition.of(model)

    @strawberry.mutation(name="updateAPIDefinition", description="Replaces an API definition.", extensions=WRITE)
    async def update_api_definition(
        self, info: Info, id: strawberry.ID, in_: Annotated[APIDefinitionInput, In]
    ) -> APIDefinition:
        async with info.context.writing() as session:
            model = await bundle_service.update_api(
                session, info.context.tenant_id, id, plain(in_, bundle_inputs.APIDefinitionInput)
            )
        return APIDefinition.of(model)

    @strawberry.mutation(name="deleteAPIDefinition", description="Deletes an API definition.", extensions=WRITE)
    async def delete_api_definition(self, info: Info, id: strawberry.ID) -> APIDefinition:
        async with info.context.writing() as session:
            model = await bundle_service.delete_api(session, info.context.tenant_id, id)
        return APIDefinition.of(model)

    @strawberry.mutation(description="Adds an event definition to a bundle.", extensions=WRITE)
    async def add_event_definition_to_bundle(
        self, info: Info, bundle_id: BundleID, in_: Annotated[EventDefinitionInput, In]
    ) -> EventDefinition:
        async with info.context.writing() as session:
            model = await bundle_service.add_event(
                session, info.context.tenant_id, bundle_id, plain(in_, bundle_inputs.EventDefinitionInput)
            )
        return EventDefinition.of(model)

    @strawberry.mutation(description="Replaces an event definition.", extensions=WRITE)
    async def update_event_definition(
        self, info: Info, id: strawberry.ID, in_: Annotated[EventDefinitionInput, In]
    ) -> EventDefinition:
        async with info.context.writing() as session:
            model = await bundle_service.update_event(
                session, info.context.tenant_id, id, plain(in_, bundle_inputs.EventDefinitionInput)
            )
        return EventDefinition.of(model)

    @strawberry.mutation(description="Deletes an event definition.", extensions=WRITE)
    async def delete_event_definition(self, info: Info, id: strawberry.ID) -> EventDefinition:
        async with info.context.writing() as session:
            model = await bundle_service.delete_event(session, info.context.tenant_id, id)
        return EventDefinition.of(model)

    @strawberry.mutation(description="Adds a document to a bundle.", extensions=WRITE)
    async def add_document_to_bundle(
        self, info: Info, bundle_id: BundleID, in_: Annotated[DocumentInput, In]
    ) -> Document:
        async with info.context.writing() as session:
            model = await bundle_service.add_document(
                session, info.context.tenant_id, bundle_id, plain(in_, bundle_inputs.DocumentInput)
            )
        return Document.of(model)

    @strawberry.mutation(description="Deletes a document.", extensions=WRITE)
    async def delete_document(self, info: Info, id: strawberry.ID) -> Document:
        async with info.context.writing() as session:
            model = await bundle_service.delete_document(session, info.context.tenant_id, id)
        return Document.of(model)

    @strawberry.mutation(description="Adds a webhook to an application or a runtime.", extensions=WRITE)
    async def add_webhook(
        self,
        info: Info,
        in_: Annotated[WebhookInput, In],
        application_id: Annotated[strawberry.ID | None, strawberry.argument(name="applicationID")] = None,
        runtime_id: Annotated[strawberry.ID | None, strawberry.argument(name="runtimeID")] = None,
    ) -> Webhook:
        async with info.context.writing() as session:
            model = await webhook_service.add(
                session,
                info.context.tenant_id,
                plain(in_, webhook_inputs.WebhookInput),
                application_id=application_id,
                runtime_id=runtime_id,
            )
        return Webhook.of(model)

    @strawberry.mutation(description="Replaces a webhook.", extensions=WRITE)
    async def update_webhook(
        self,
        info: Info,
        webhook_id: Annotated[strawberry.ID, strawberry.argument(name="webhookID")],
        in_: Annotated[WebhookInput, In],
    ) -> Webhook:
        async with info.context.writing() as session:
            model = await webhook_service.update(
                session, info.context.tenant_id, webhook_id, plain(in_, webhook_inputs.WebhookInput)
            )
        return Webhook.of(model)

    @strawberry.mutation(description="Deletes a webhook.", extensions=WRITE)
    async def delete_webhook(
        self, info: Info, webhook_id: Annotated[strawberry.ID, strawberry.argument(name="webhookID")]
    ) -> Webhook:
        async with info.context.writing() as session:
            model = await webhook_service.delete(session, info.context.tenant_id, webhook_id)
        return Webhook.of(model)
