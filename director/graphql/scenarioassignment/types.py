from __future__ import annotations

import strawberry

from director.graphql.label.types import Label
from director.graphql.pagination import Page
from director.graphql.scalars import AnyScalar
from director.scenarioassignment import service
from director.scenarioassignment.service import SUBACCOUNT_SELECTOR_KEY


@strawberry.input(
    description="Selects objects by one label; automatic scenario assignments take key global_subaccount_id."
)
class LabelSelectorInput:
    key: str
    value: str


@strawberry.type(description="A formation (scenario) assigned to every runtime of one subaccount, chosen by selector.")
class AutomaticScenarioAssignment:
    scenario_name: str
    selector: Label

    @classmethod
    def of(cls, row: service.AutomaticScenarioAssignment) -> AutomaticScenarioAssignment:
        selector = Label(key=SUBACCOUNT_SELECTOR_KEY, value=AnyScalar(row.target_subaccount))
        return cls(scenario_name=row.scenario_name, selector=selector)


@strawberry.type(description="A page of automatic scenario assignments.")
class AutomaticScenarioAssignmentPage(Page[AutomaticScenarioAssignment]):
    pass
