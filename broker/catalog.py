"""What a namespace is offered: one service offering per Application mapped into it by an ApplicationMapping, one
plan per service (bundle) the mapping enables, as Kyma's application broker offers a Compass runtime's
applications (its ``appToServiceConverterV2``: the offering's id is the application's Compass id, a plan's id the
bundle's).

Offerings need an id and at least one plan (OSB), so an Application without ``compassMetadata.applicationId``
(not the agent's) or without any enabled bundle is not offered; neither is a mapping whose Application does not
exist (yet). Descriptions must not be empty (OSB): an empty one falls back to the display name, then the name.
A plan's ``authCreateParameterSchema`` (the bundle's ``instanceAuthRequestInputSchema``) is offered as the
parameters of creating an instance, with the ``$schema`` OSB requires set to draft 7 when it declares none: the
draft the Director checks ``inputParams`` with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dataplane.catalog.base import ApplicationMappings, Catalog
from dataplane.catalog.model import Application, Service

JSON_SCHEMA_DRAFT_7 = "http://json-schema.org/draft-07/schema#"


@dataclass(frozen=True)
class Plan:
    """A bundle of the application, offered as a plan."""

    id: str
    name: str
    description: str
    display_name: str
    parameters_schema: Mapping[str, Any] | None


@dataclass(frozen=True)
class Offering:
    """An application, offered as a service in one namespace."""

    id: str
    name: str  # the Application resource's name
    application: Application
    plans: tuple[Plan, ...]

    def plan(self, plan_id: str) -> Plan | None:
        return next((plan for plan in self.plans if plan.id == plan_id), None)


def offerings(applications: Catalog, mappings: ApplicationMappings, namespace: str) -> list[Offering]:
    """The namespace's offerings, by Application name; ``CatalogError`` when a source cannot tell."""
    found: list[Offering] = []
    for mapping in mappings.in_namespace(namespace):
        application = applications.application(mapping.name)
        if application is None or not application.application_id:
            continue
        plans = tuple(
            _plan(service) for service in application.services if service.id and mapping.offers(service.id)
        )
        if plans:
            found.append(Offering(application.application_id, application.name, application, plans))
    return found


def _plan(service: Service) -> Plan:
    schema = service.auth_create_parameter_schema
    return Plan(
        id=service.id,
        name=service.name or service.id,
        description=service.description or service.display_name or service.name or service.id,
        display_name=service.display_name,
        parameters_schema={"$schema": JSON_SCHEMA_DRAFT_7, **schema} if isinstance(schema, Mapping) else None,
    )


def offering_json(offering: Offering) -> dict[str, Any]:
    """The OSB Service Offering object (v2.14+), with Kyma's metadata conventions."""
    application = offering.application
    return {
        "id": offering.id,
        "name": offering.name,
        "description": application.description or application.display_name or application.name,
        "tags": list(application.tags),
        "bindable": True,
        "bindings_retrievable": True,
        "plan_updateable": False,
        "metadata": {
            "displayName": application.display_name,
            "providerDisplayName": application.provider_display_name,
            "longDescription": application.long_description,
            "labels": dict(application.spec_labels),
        },
        "plans": [_plan_json(plan) for plan in offering.plans],
    }


def _plan_json(plan: Plan) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": plan.id,
        "name": plan.name,
        "description": plan.description,
        "metadata": {"displayName": plan.display_name},
    }
    if plan.parameters_schema is not None:
        found["schemas"] = {"service_instance": {"create": {"parameters": dict(plan.parameters_schema)}}}
    return found
