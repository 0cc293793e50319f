"""Seeds the Director through its own services: a tenant, a runtime, a formation and N applications.

Seeding is cumulative: ``add_applications`` appends to what is there, so one database serves N = 10, 100 and
1000 in turn without seeding the first thousand twice. Each step bumps the tenant's revision, as a GraphQL
mutation does (the services do not: ``DirectorContext.writing`` does it), or a running server would go on
answering the runtime's certificate with the view it kept for the previous N.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from credentials.tokens import TokenType
from director.application.service import application as application_service
from director.formation.service import FormationObjectKind
from director.formation.service import formation as formation_service
from director.graphql.enums import APISpecType, EventSpecType, SpecFormat
from director.graphql.inputs import (
    APIDefinitionInput,
    APISpecInput,
    ApplicationRegisterInput,
    AuthInput,
    BasicCredentialDataInput,
    BundleCreateInput,
    CredentialDataInput,
    EventDefinitionInput,
    EventSpecInput,
    RuntimeRegisterInput,
)
from director.polling.revision import RevisionRepository
from director.runtime.service import runtime as runtime_service
from director.systemauth.service import system_auth as system_auth_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database

FORMATION = "bench"
BUNDLES_PER_APPLICATION = 3
APIS_PER_BUNDLE = 2
EVENTS_PER_BUNDLE = 1
# The exact value does not matter: the Connector URL only goes into tokens, which the bench never redeems.
CONNECTOR_URL = "http://127.0.0.1:3000/connector/graphql"

_OPEN_API = json.dumps(
    {
        "openapi": "3.0.0",
        "info": {"title": "Orders", "version": "1.0.0"},
        "paths": {"/orders": {"get": {"responses": {"200": {"description": "The orders"}}}}},
    }
)
_ASYNC_API = json.dumps(
    {
        "asyncapi": "2.0.0",
        "info": {"title": "Order events", "version": "1.0.0"},
        "channels": {"order.created.v1": {"subscribe": {"message": {"payload": {"type": "object"}}}}},
    }
)


@dataclass(frozen=True)
class Seeded:
    tenant_id: str
    runtime_id: str


def _bundle(application: int, bundle: int) -> BundleCreateInput:
    return BundleCreateInput(
        name=f"Bundle {bundle}",
        description=f"Bundle {bundle} of application {application}",
        default_instance_auth=AuthInput(
            credential=CredentialDataInput(
                basic=BasicCredentialDataInput(username=f"user-{application}-{bundle}", password="s3cret")
            )
        ),
        api_definitions=[
            APIDefinitionInput(
                name=f"Orders API {api}",
                description="Reads orders",
                target_url=f"https://app-{application}.example.com/api/{bundle}/{api}",
                spec=APISpecInput(type=APISpecType.OPEN_API, format=SpecFormat.JSON, data=_OPEN_API),
            )
            for api in range(APIS_PER_BUNDLE)
        ],
        event_definitions=[
            EventDefinitionInput(
                name=f"Order events {event}",
                description="Order lifecycle events",
                spec=EventSpecInput(type=EventSpecType.ASYNC_API, format=SpecFormat.JSON, data=_ASYNC_API),
            )
            for event in range(EVENTS_PER_BUNDLE)
        ],
    )


def application_input(index: int, bundles: int = BUNDLES_PER_APPLICATION) -> ApplicationRegisterInput:
    """Application ``index``: its name has capitals and spaces so that normalization has work to do."""
    return ApplicationRegisterInput(
        name=f"Bench App {index:04d}",
        provider_name="Bench Provider",
        description=f"Application {index} of the Director benchmark",
        bundles=[_bundle(index, bundle) for bundle in range(bundles)],
    )


async def seed_runtime(database: Database) -> Seeded:
    """A fresh tenant with a runtime (names normalized, as registerRuntime defaults) in formation "bench"."""
    async with database.transaction() as session:
        tenant = await tenant_service.create(session, f"bench-{uuid.uuid4().hex[:8]}")
        runtime_input = RuntimeRegisterInput(name="bench-runtime")
        runtime = await runtime_service.register(session, tenant.id, runtime_input)
        await formation_service.create(session, tenant.id, FORMATION, None)
        await formation_service.assign(session, tenant.id, FormationObjectKind.RUNTIME, runtime.id, FORMATION)
        await RevisionRepository(session).bump_tenant(tenant.id)
    return Seeded(tenant_id=tenant.id, runtime_id=runtime.id)


async def add_applications(
    database: Database, seeded: Seeded, start: int, count: int, *, bundles: int = BUNDLES_PER_APPLICATION
) -> None:
    """Applications ``start`` to ``start + count - 1``, each in the formation and with one system auth."""
    tenant_id = seeded.tenant_id
    async with database.transaction() as session:
        for index in range(start, start + count):
            data = application_input(index, bundles)
            application = await application_service.register(session, tenant_id, data)
            await formation_service.assign(
                session, tenant_id, FormationObjectKind.APPLICATION, application.id, FORMATION
            )
            await system_auth_service.request_token(
                session,
                tenant_id,
                TokenType.APPLICATION,
                application.id,
                None,
                ttl=timedelta(minutes=5),
                connector_url=CONNECTOR_URL,
            )
        await RevisionRepository(session).bump_tenant(tenant_id)
