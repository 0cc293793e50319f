"""Formation constraints: stored and attached as in Compass, and enforced by the operators pycompass can run.

Compass renders a constraint's ``inputTemplate`` (a Go template) with the operation's details and hands the JSON to
the constraint's operator. pycompass renders it with the webhooks' Go template engine and runs
``IsNotAssignedToAnyFormationOfType``, ``DoesNotContainResourceOfSubtype`` and ``ContainsScenarioGroups`` for
applications. Compass's notification operators (join points SEND_NOTIFICATION and NOTIFICATION_STATUS_RETURNED) are
not run: they hold vacuously, and notifications go out as if no such constraint were attached. Any other operator refuses the operation, as Compass does for an operator it does
not know.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from credentials.systemauth.repository import SystemAuthRepository
from director.application.repository import ApplicationRepository
from director.formation.repository import FormationRepository
from director.formationconstraint.inputs import (
    FormationConstraintInput,
    FormationConstraintUpdateInput,
    JoinPoint,
    ResourceType,
)
from director.formationconstraint.repository import FormationConstraintRepository
from director.formationtemplate.repository import FormationTemplateRepository
from director.label.repository import LabelledKind, LabelRepository
from director.models import SCENARIOS, ConstraintReference, FormationConstraint
from director.polling.invalidation import changes
from director.webhook.templates import TemplateError, render_json
from kernel.errors import ConflictError, InvalidInputError, NotFoundError

# Compass's label keys for an object's subtype (its APP_APPLICATION_TYPE_LABEL_KEY / runtime type label key).
APPLICATION_TYPE_LABEL = "applicationType"
RUNTIME_TYPE_LABEL = "runtimeType"

# Operators on notifications, which pycompass never sends: satisfied whatever their input.
NOTIFICATION_OPERATORS = frozenset({
    "DoNotGenerateFormationAssignmentNotification",
    "DoNotGenerateFormationAssignmentNotificationForLoops",
    "DestinationCreator",
    "ConfigMutator",
    "RedirectNotification",
    "AsynchronousFlowControl",
})

NAME_LIMIT = 256

Operator = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[bool]]


def render(template: str, details: dict[str, str]) -> dict[str, Any]:
    """The operator input: the template executed on the join point's details, as Compass's ParseTemplate does;
    a result that is not a JSON object fails like a parse failure."""
    value = render_json(template, details)
    if not isinstance(value, dict):
        raise TemplateError("the operator input is not a JSON object")
    return value


async def _application_formations(session: AsyncSession, tenant_id: str, application_id: str) -> list[str]:
    label = await LabelRepository(session).get(tenant_id, LabelledKind.APPLICATION, application_id, SCENARIOS)
    return list(label.value) if label is not None and isinstance(label.value, list) else []


async def is_not_assigned_to_any_formation_of_type(session: AsyncSession, tenant_id: str, data: dict[str, Any]) -> bool:
    if data.get("resource_type") != ResourceType.APPLICATION.value:
        raise ValueError(f"Unsupported resource type {data.get('resource_type')!r}")
    names = await _application_formations(session, tenant_id, str(data.get("resource_id", "")))
    if not names or data.get("resource_subtype") in (data.get("exceptSystemTypes") or []):
        return True
    formations = await FormationRepository(session).by_names(tenant_id, names)
    return all(formation.formation_template_id != data.get("formation_template_id") for formation in formations)


async def does_not_contain_resource_of_subtype(session: AsyncSession, tenant_id: str, data: dict[str, Any]) -> bool:
    if data.get("resource_type") != ResourceType.APPLICATION.value:
        raise ValueError(f"Unsupported resource type {data.get('resource_type')!r}")
    name = data.get("formation_name")
    labels = LabelRepository(session)
    members = [
        label.application_id
        for label in await labels.with_key(tenant_id, SCENARIOS)
        if label.application_id is not None and isinstance(label.value, list) and name in label.value
    ]
    types = await labels.for_owners(tenant_id, LabelledKind.APPLICATION, members)
    subtype = data.get("resource_subtype")
    return not any(
        label.key == APPLICATION_TYPE_LABEL and label.value == subtype for owned in types.values() for label in owned
    )


def _group_keys(groups: Sequence[str]) -> list[str] | None:
    """The keys of scenario groups written as Compass's pairing ``{"key": …, "description": …}`` objects; None
    when any is not one (Compass then compares the groups as they were sent)."""
    keys = []
    for group in groups:
        try:
            value = json.loads(group)
        except ValueError:
            return None
        if value is None:  # Go decodes null into an empty group
            value = {}
        if not isinstance(value, dict) or not isinstance(value.get("key", ""), str):
            return None
        keys.append(value.get("key", ""))
    return keys


async def contains_scenario_groups(session: AsyncSession, tenant_id: str, data: dict[str, Any]) -> bool:
    """Compass's ContainsScenarioGroups: a connected application whose latest one-time token was requested with
    one of the required scenario groups. A token requested without groups (Compass's legacy tokens) admits any."""
    if data.get("resource_type") != ResourceType.APPLICATION.value:
        raise ValueError(f"Unsupported resource type {data.get('resource_type')!r}")
    required = data.get("requiredScenarioGroups") or []
    if not isinstance(required, list):
        raise ValueError("requiredScenarioGroups must be a list")  # noqa: TRY004 - the engine's operator error
    if not required:
        return True
    application_id = str(data.get("resource_id", ""))
    application = await ApplicationRepository(session).get(tenant_id, application_id)
    if application is None:
        raise ValueError(f"while getting application with ID {application_id!r}: Object not found")
    if application.status_condition != "CONNECTED":
        raise ValueError(f"Application with ID {application_id!r} is not in status CONNECTED")
    auths = (await SystemAuthRepository(session).grouped_by(tenant_id, "application_id", [application_id]))[application_id]
    issued = (auth for auth in auths if auth.token_created_at is not None)
    latest = max(issued, key=attrgetter("token_created_at"), default=None)
    if latest is None:
        return False
    groups = latest.token_scenario_groups or []
    if not groups:
        return True
    keys = _group_keys(groups)
    return any(group in required for group in (groups if keys is None else keys))


async def _satisfied(session: AsyncSession, tenant_id: str, data: dict[str, Any]) -> bool:  # noqa: ARG001 - an Operator
    return True


OPERATORS: dict[str, Operator] = {
    "IsNotAssignedToAnyFormationOfType": is_not_assigned_to_any_formation_of_type,
    "DoesNotContainResourceOfSubtype": does_not_contain_resource_of_subtype,
    "ContainsScenarioGroups": contains_scenario_groups,
    **dict.fromkeys(NOTIFICATION_OPERATORS, _satisfied),
}


def _checked(data: FormationConstraintInput | FormationConstraintUpdateInput) -> None:
    if isinstance(data, FormationConstraintInput):
        for field in ("name", "operator", "resource_subtype"):
            value = getattr(data, field)
            if not value or len(value) > NAME_LIMIT or "\x00" in value:
                raise InvalidInputError(f"{field} must be 1 to {NAME_LIMIT} characters")
    if not data.input_template or "\x00" in data.input_template:
        raise InvalidInputError("inputTemplate is required")
    if data.description is not None and "\x00" in data.description:
        raise InvalidInputError("description must not contain NUL characters")


class FormationConstraintService:
    async def get(self, session: AsyncSession, tenant_id: str, constraint_id: str) -> FormationConstraint:  # noqa: ARG002 - global
        constraint = await FormationConstraintRepository(session).get(constraint_id)
        if constraint is None:
            raise NotFoundError(f"formation constraint {constraint_id} does not exist")
        return constraint

    async def listed(self, session: AsyncSession, tenant_id: str) -> list[FormationConstraint]:  # noqa: ARG002 - global
        return await FormationConstraintRepository(session).listed()

    async def for_template(self, session: AsyncSession, tenant_id: str, template_id: str) -> list[FormationConstraint]:
        if await FormationTemplateRepository(session).get(tenant_id, template_id) is None:
            raise NotFoundError(f"formation template {template_id} does not exist")
        return (await FormationConstraintRepository(session).for_templates([template_id]))[template_id]

    async def for_templates(
        self, session: AsyncSession, tenant_id: str, template_ids: Sequence[str]  # noqa: ARG002 - the loaders' call
    ) -> dict[str, list[FormationConstraint]]:
        """Batch read for the DataLoaders: templates the tenant cannot see are never asked for."""
        return await FormationConstraintRepository(session).for_templates(template_ids)

    async def create(
        self, session: AsyncSession, tenant_id: str, data: FormationConstraintInput  # noqa: ARG002 - global
    ) -> FormationConstraint:
        changes(session).outside_views()
        _checked(data)
        constraint = FormationConstraint(
            name=data.name,
            description=data.description or "",
            constraint_type=data.constraint_type.value,
            target_operation=data.target_operation.value,
            operator=data.operator,
            resource_type=data.resource_type.value,
            resource_subtype=data.resource_subtype,
            input_template=data.input_template,
            constraint_scope=data.constraint_scope.value,
            priority=data.priority or 0,
        )
        await FormationConstraintRepository(session).add(constraint)
        return constraint

    async def update(
        self, session: AsyncSession, tenant_id: str, constraint_id: str, data: FormationConstraintUpdateInput
    ) -> FormationConstraint:
        """Compass changes only the input template, priority and description of a constraint."""
        changes(session).outside_views()
        _checked(data)
        constraint = await self.get(session, tenant_id, constraint_id)
        constraint.input_template = data.input_template
        constraint.priority = data.priority or 0
        constraint.description = data.description or ""
        await session.flush()
        return constraint

    async def delete(self, session: AsyncSession, tenant_id: str, constraint_id: str) -> FormationConstraint:
        changes(session).outside_views()
        constraint = await self.get(session, tenant_id, constraint_id)
        await FormationConstraintRepository(session).delete(constraint)
        return constraint

    async def attach(
        self, session: AsyncSession, tenant_id: str, constraint_id: str, template_id: str
    ) -> ConstraintReference:
        changes(session).outside_views()
        await self.get(session, tenant_id, constraint_id)
        if await FormationTemplateRepository(session).get(tenant_id, template_id) is None:
            raise NotFoundError(f"formation template {template_id} does not exist")
        repository = FormationConstraintRepository(session)
        if await repository.reference(constraint_id, template_id) is not None:
            raise ConflictError(f"formation constraint {constraint_id} is already attached to template {template_id}")
        reference = ConstraintReference(constraint_id=constraint_id, template_id=template_id)
        await repository.add(reference)
        return reference

    async def detach(
        self, session: AsyncSession, tenant_id: str, constraint_id: str, template_id: str
    ) -> ConstraintReference:
        changes(session).outside_views()
        repository = FormationConstraintRepository(session)
        template = await FormationTemplateRepository(session).get(tenant_id, template_id)
        reference = await repository.reference(constraint_id, template_id) if template is not None else None
        if reference is None:
            raise NotFoundError(f"formation constraint {constraint_id} is not attached to template {template_id}")
        await repository.delete(reference)
        return reference

    async def enforce(self, session: AsyncSession, tenant_id: str, point: JoinPoint) -> None:
        """Every matching constraint's operator; the unsatisfied ones refuse the operation, named together."""
        constraints = await FormationConstraintRepository(session).matching(
            point.template_id,
            point.operation.value,
            point.constraint_type.value,
            point.resource_type.value,
            point.resource_subtype,
        )
        reasons = []
        for constraint in constraints:
            operator = OPERATORS.get(constraint.operator)
            if operator is None:
                reasons.append((constraint.name, f"Operator {constraint.operator!r} not found"))
                continue
            try:
                data = render(constraint.input_template, point.details)
            except ValueError:
                reasons.append((constraint.name, f"Failed to parse operator input template for operator {constraint.operator!r}"))
                continue
            try:
                satisfied = await operator(session, tenant_id, data)
            except ValueError as error:
                reasons.append((constraint.name, f"An error occurred while executing operator {constraint.operator!r}: {error}"))
                continue
            if not satisfied:
                reasons.append((constraint.name, f"Operator {constraint.operator!r} is not satisfied"))
        if reasons:
            raise ConflictError(
                "; ".join(f"Formation constraint {name!r} is not satisfied due to: {reason}" for name, reason in reasons)
            )


formation_constraint = FormationConstraintService()
