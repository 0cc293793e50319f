"""Seeds the Director through its own services: a tenant, a runtime, a formation and N applications.

Seeding is cumulative: ``add_applications`` appends to what is there, so one database serves N = 10, 100 and
1000 in turn without seeding the first thousand twice. Each step runs in a unit of work
(``director.polling.invalidation``), as a GraphQL mutation does, so the revisions its writes invalidate are bumped,
or a running server would go on answering the runtime's certificate with the view it kept for the previous N.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from director.application.inputs import ApplicationRegisterInput
from director.application.service import application as application_service
from director.bundle.inputs import (
    APIDefinitionInput,
    APISpecInput,
    APISpecType,
    AuthInput,
    BasicCredentialDataInput,
    BundleCreateInput,
    CredentialDataInput,
    EventDefinitionInput,
    EventSpecInput,
    EventSpecType,
    SpecFormat,
)
from director.formation.inputs import FormationInput, FormationObjectType
from director.formation.service import formation as formation_service
from director.polling.invalidation import unit_of_work
from director.runtime.inputs import RuntimeRegisterInput
from director.runtime.service import runtime as runtime_service
from director.systemauth.inputs import TokenPolicy
from director.systemauth.service import system_auth as system_auth_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.models import utcnow

FORMATION = "bench"
BUNDLES_PER_APPLICATION = 3
APIS_PER_BUNDLE = 2
EVENTS_PER_BUNDLE = 1
# The exact values do not matter: the tokens go into the view, and the bench never redeems them.
TOKEN_POLICY = TokenPolicy(
    runtime_ttl=timedelta(minutes=5),
    application_ttl=timedelta(minutes=5),
    connector_url="http://127.0.0.1:3000/connector/graphql",
    legacy_connector_url="http://127.0.0.1:3000/v1/applications/signingRequests/info",
)

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
        api_definitions=tuple(
            APIDefinitionInput(
                name=f"Orders API {api}",
                description="Reads orders",
                target_url=f"https://app-{application}.example.com/api/{bundle}/{api}",
                spec=APISpecInput(type=APISpecType.OPEN_API, format=SpecFormat.JSON, data=_OPEN_API),
            )
            for api in range(APIS_PER_BUNDLE)
        ),
        event_definitions=tuple(
            EventDefinitionInput(
                name=f"Order events {event}",
                description="Order lifecycle events",
                spec=EventSpecInput(type=EventSpecType.ASYNC_API, format=SpecFormat.JSON, data=_ASYNC_API),
            )
            for event in range(EVENTS_PER_BUNDLE)
        ),
    )


def application_input(
    index: int, bundles: int = BUNDLES_PER_APPLICATION, *, description: str | None = None
) -> ApplicationRegisterInput:
    """Application ``index``: its name has capitals and spaces so that normalization has work to do."""
    return ApplicationRegisterInput(
        name=f"Bench App {index:04d}",
        provider_name="Bench Provider",
        description=description or f"Application {index} of the Director benchmark",
        bundles=tuple(_bundle(index, bundle) for bundle in range(bundles)),
    )


async def seed_runtime(database: Database) -> Seeded:
    """A fresh tenant with a runtime (names normalized, as registerRuntime defaults) in formation "bench"."""
    async with database.transaction() as session:
        tenant = await tenant_service.create(session, f"bench-{uuid.uuid4().hex[:8]}")
    async with unit_of_work(database, tenant.id) as session:
        runtime = await runtime_service.register(
            session, tenant.id, RuntimeRegisterInput(name="bench-runtime")
        )
        await formation_service.create(session, tenant.id, FormationInput(name=FORMATION))
        await formation_service.assign(session, tenant.id, FormationObjectType.RUNTIME, runtime.id, FORMATION)
    return Seeded(tenant_id=tenant.id, runtime_id=runtime.id)


async def add_applications(
    database: Database, seeded: Seeded, start: int, count: int, *, bundles: int = BUNDLES_PER_APPLICATION
) -> None:
    """Applications ``start`` to ``start + count - 1``, each in the formation and with one system auth."""
    tenant_id = seeded.tenant_id
    async with unit_of_work(database, tenant_id) as session:
        for index in range(start, start + count):
            data = application_input(index, bundles)
            application = await application_service.register(session, tenant_id, data)
            await formation_service.assign(
                session, tenant_id, FormationObjectType.APPLICATION, application.id, FORMATION
            )
            await system_auth_service.request_application_token(
                session, tenant_id, application.id, None, policy=TOKEN_POLICY, now=utcnow()
            )
