from __future__ import annotations

import strawberry
from strawberry import Info

from director.graphql.application.types import After, First
from director.graphql.permissions import scoped
from director.graphql.scenarioassignment.types import (
    AutomaticScenarioAssignment,
    AutomaticScenarioAssignmentPage,
    LabelSelectorInput,
)
from director.pagination import PageRequest
from director.scenarioassignment.service import scenario_assignment as scenario_assignment_service
from kernel.principal import Scope

READ = scoped(Scope.AUTOMATIC_SCENARIO_ASSIGNMENT_READ)


@strawberry.type
class ScenarioAssignmentQueries:
    @strawberry.field(
        description="The assignment of a scenario to a subaccount; pycompass has no subaccounts, so none exists.",
        extensions=READ,
    )
    async def automatic_scenario_assignment_for_scenario(
        self, info: Info, scenario_name: str
    ) -> AutomaticScenarioAssignment | None:
        found = await info.context.read(scenario_assignment_service.for_scenario, scenario_name)
        return AutomaticScenarioAssignment.of(found)

    @strawberry.field(
        description="The assignments that select this subaccount; always empty in pycompass.", extensions=READ
    )
    async def automatic_scenario_assignments_for_selector(
        self, info: Info, selector: LabelSelectorInput
    ) -> list[AutomaticScenarioAssignment]:
        rows = await info.context.read(scenario_assignment_service.for_selector, selector.key, selector.value)
        return [AutomaticScenarioAssignment.of(row) for row in rows]

    @strawberry.field(
        description="The tenant's automatic scenario assignments; always empty in pycompass.", extensions=READ
    )
    async def automatic_scenario_assignments(
        self, info: Info, first: First = 200, after: After = None
    ) -> AutomaticScenarioAssignmentPage | None:
        page = await info.context.read(scenario_assignment_service.page, PageRequest.of(first, after))
        return AutomaticScenarioAssignmentPage.of(page, AutomaticScenarioAssignment.of)
