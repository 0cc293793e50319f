"""Certificate subject mappings: the platform's (global, as in Compass), behind platform scopes."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director import models
from director.certsubjectmapping import inputs
from director.certsubjectmapping.service import certificate_subject_mapping as mapping_service
from director.graphql.application.types import After
from director.graphql.convert import plain
from director.graphql.pagination import Page
from director.graphql.permissions import scoped
from director.graphql.scalars import Timestamp
from kernel.principal import Scope

READ = scoped(Scope.CERTIFICATE_SUBJECT_MAPPING_READ)
WRITE = scoped(Scope.CERTIFICATE_SUBJECT_MAPPING_WRITE)


@strawberry.type(description="Maps the subject of an external certificate to a consumer type and tenant access.")
class CertificateSubjectMapping:
    id: strawberry.ID
    subject: str
    consumer_type: str
    internal_consumer_id: str | None = strawberry.field(name="internalConsumerID")
    tenant_access_levels: list[str]
    created_at: Timestamp
    updated_at: Timestamp | None

    @classmethod
    def of(cls, model: models.CertificateSubjectMapping) -> CertificateSubjectMapping:
        return cls(
            id=strawberry.ID(model.id),
            subject=model.subject,
            consumer_type=model.consumer_type,
            internal_consumer_id=model.internal_consumer_id,
            tenant_access_levels=list(model.tenant_access_levels),
            created_at=Timestamp(model.created_at),
            updated_at=Timestamp(model.updated_at) if model.updated_at else None,
        )


@strawberry.type(description="A page of certificate subject mappings.")
class CertificateSubjectMappingPage(Page[CertificateSubjectMapping]):
    pass


@strawberry.input(description="A certificate subject mapping: subject with C, O, OU, L and CN; Compass's consumer "
                  "types and tenant access levels.")  # fmt: skip
class CertificateSubjectMappingInput:
    subject: str
    consumer_type: str
    internal_consumer_id: str | None = strawberry.field(default=None, name="internalConsumerID")
    tenant_access_levels: list[str]


In = Annotated[CertificateSubjectMappingInput, strawberry.argument(name="in")]


@strawberry.type
class CertificateSubjectMappingQueries:
    @strawberry.field(description="One certificate subject mapping; NOT_FOUND if there is none.", extensions=READ)
    async def certificate_subject_mapping(self, info: Info, id: strawberry.ID) -> CertificateSubjectMapping:
        return CertificateSubjectMapping.of(await info.context.read(mapping_service.get, id))

    @strawberry.field(description="Certificate subject mappings, oldest first.", extensions=READ)
    async def certificate_subject_mappings(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1 to 300.")] = 300,
        after: After = None,
    ) -> CertificateSubjectMappingPage:
        page = await info.context.read(mapping_service.page, first, after)
        return CertificateSubjectMappingPage.of(page, CertificateSubjectMapping.of)


@strawberry.type
class CertificateSubjectMappingMutations:
    @strawberry.mutation(description="Creates a certificate subject mapping.", extensions=WRITE)
    async def create_certificate_subject_mapping(self, info: Info, in_: In) -> CertificateSubjectMapping | None:
        data = plain(in_, inputs.CertificateSubjectMappingInput)
        return CertificateSubjectMapping.of(await info.context.write(mapping_service.create, data))

    @strawberry.mutation(description="Replaces a certificate subject mapping.", extensions=WRITE)
    async def update_certificate_subject_mapping(
        self, info: Info, id: strawberry.ID, in_: In
    ) -> CertificateSubjectMapping | None:
        data = plain(in_, inputs.CertificateSubjectMappingInput)
        return CertificateSubjectMapping.of(await info.context.write(mapping_service.update, id, data))

    @strawberry.mutation(description="Deletes a certificate subject mapping and answers it.", extensions=WRITE)
    async def delete_certificate_subject_mapping(self, info: Info, id: strawberry.ID) -> CertificateSubjectMapping | None:
        return CertificateSubjectMapping.of(await info.context.write(mapping_service.delete, id))
