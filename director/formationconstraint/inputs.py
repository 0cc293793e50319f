"""The formation constraint domain's inputs and enums (Compass's FormationConstraintInput and its enums)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ConstraintType(Enum):
    PRE = "PRE"
    POST = "POST"
    UI = "UI"


class ConstraintScope(Enum):
    GLOBAL = "GLOBAL"
    FORMATION_TYPE = "FORMATION_TYPE"


class TargetOperation(Enum):
    ASSIGN_FORMATION = "ASSIGN_FORMATION"
    UNASSIGN_FORMATION = "UNASSIGN_FORMATION"
    CREATE_FORMATION = "CREATE_FORMATION"
    DELETE_FORMATION = "DELETE_FORMATION"
    GENERATE_FORMATION_ASSIGNMENT_NOTIFICATION = "GENERATE_FORMATION_ASSIGNMENT_NOTIFICATION"
    GENERATE_FORMATION_NOTIFICATION = "GENERATE_FORMATION_NOTIFICATION"
    LOAD_FORMATIONS = "LOAD_FORMATIONS"
    SELECT_SYSTEMS_FOR_FORMATION = "SELECT_SYSTEMS_FOR_FORMATION"
    SEND_NOTIFICATION = "SEND_NOTIFICATION"
    NOTIFICATION_STATUS_RETURNED = "NOTIFICATION_STATUS_RETURNED"


class ResourceType(Enum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    RUNTIME_CONTEXT = "RUNTIME_CONTEXT"
    TENANT = "TENANT"
    FORMATION = "FORMATION"


@dataclass(frozen=True)
class FormationConstraintInput:
    name: str
    constraint_type: ConstraintType
    target_operation: TargetOperation
    operator: str
    resource_type: ResourceType
    resource_subtype: str
    input_template: str
    constraint_scope: ConstraintScope
    description: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class FormationConstraintUpdateInput:
    input_template: str
    priority: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class JoinPoint:
    """Where constraints are enforced and what about (Compass's join point location and operation details);
    ``details`` are what an input template's ``{{.Name}}`` reads."""

    operation: TargetOperation
    constraint_type: ConstraintType
    template_id: str
    resource_type: ResourceType
    resource_subtype: str
    details: dict[str, str]
