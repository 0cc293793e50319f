from __future__ import annotations

import json

import strawberry

from director import models
from director.graphql.scalars import AnyScalar, JSONSchema


@strawberry.type(description="A label of an application or runtime.")
class Label:
    key: str
    value: AnyScalar

    @classmethod
    def of(cls, model: models.Label) -> Label:
        return cls(key=model.key, value=model.value)


@strawberry.type(description="A label key and the JSON schema its values must match.")
class LabelDefinition:
    key: str
    schema: JSONSchema | None

    @classmethod
    def of(cls, model: models.LabelDefinition) -> LabelDefinition:
        return cls(key=model.key, schema=JSONSchema(json.dumps(model.schema)) if model.schema is not None else None)
