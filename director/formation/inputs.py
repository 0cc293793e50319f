"""The formation domain's own inputs: what the GraphQL layer converts its formation arguments into."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FormationObjectType(Enum):
    """Kinds of objects a formation holds (whole tenants are refused)."""

    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    RUNTIME_CONTEXT = "RUNTIME_CONTEXT"
    TENANT = "TENANT"


@dataclass(frozen=True)
class FormationInput:
    name: str
    template_name: str | None = None
    # Compass's initial state (INITIAL or DRAFT), for callers holding formation.state:write.
    state: str | None = None
