from __future__ import annotations

import strawberry

from director import models
from director.graphql.pagination import Page


@strawberry.type(description="A group of applications and runtimes; runtimes see the applications of their formations.")
class Formation:
    id: strawberry.ID
    name: str
    state: str

    @classmethod
    def of(cls, model: models.Formation) -> Formation:
        return cls(id=strawberry.ID(model.id), name=model.name, state=model.state)


@strawberry.type(description="A page of formations.")
class FormationPage(Page[Formation]):
    pass
