"""Compass's automatic scenario assignments, read-only: what a tenant's formations assigned to its subaccounts.

Compass stores one when a formation is assigned a whole subaccount (``assignFormation(objectType: TENANT)``), and
assigns that subaccount's runtimes by it. pycompass's tenants have no subaccounts and a tenant cannot be assigned
to a formation, so no assignment can exist: the queries answer what Compass answers a tenant without any.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from director.pagination import Page, PageRequest
from kernel.errors import InvalidInputError, NotFoundError

# The one selector key Compass accepts: an assignment selects the subaccount with this external id.
SUBACCOUNT_SELECTOR_KEY = "global_subaccount_id"


@dataclass(frozen=True)
class AutomaticScenarioAssignment:
    scenario_name: str
    target_subaccount: str


class ScenarioAssignmentService:
    async def for_scenario(
        self, session: AsyncSession, tenant_id: str, scenario_name: str  # noqa: ARG002 - every read's signature
    ) -> AutomaticScenarioAssignment:
        """Compass answers a scenario without an assignment with its not-found error, not null."""
        raise NotFoundError(f"no automatic scenario assignment for scenario {scenario_name!r}")

    async def page(
        self, session: AsyncSession, tenant_id: str, request: PageRequest  # noqa: ARG002 - every read's signature
    ) -> Page[AutomaticScenarioAssignment]:
        return Page([], 0, request.offset)

    async def for_selector(
        self, session: AsyncSession, tenant_id: str, key: str, value: str  # noqa: ARG002 - every read's signature
    ) -> list[AutomaticScenarioAssignment]:
        # Compass's LabelSelectorInput.Validate: the key, when given, is the subaccount's (ozzo's In passes "").
        if key not in {"", SUBACCOUNT_SELECTOR_KEY}:
            raise InvalidInputError(f"selector key must be {SUBACCOUNT_SELECTOR_KEY!r}, got {key[:100]!r}")
        return []


scenario_assignment = ScenarioAssignmentService()
