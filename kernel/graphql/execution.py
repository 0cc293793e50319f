"""graphql-core's execution with a short path for the fields an answer is mostly made of.

A field without a resolver, arguments or extensions whose type is a scalar or an enum reads an attribute and
serializes it. graphql-core runs each through its general machinery (a resolve info, the argument check,
strawberry's resolver, the value completion): a runtime's view of 100 applications has about 15,000 of them, and
completing them inline saves a sixth of its CPU. Anything unusual (null where the type forbids it, an error, a
value the scalar refuses) takes graphql-core's own path, which answers it as it always does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class _PlainField:
    attribute: str
    coerce: Any  # the leaf type's coerce_output_value
    non_null: bool


PlainFields = dict[GraphQLObjectType, dict[str, _PlainField]]
_PLAIN_FIELDS: WeakKeyDictionary[GraphQLSchema, PlainFields] = WeakKeyDictionary()


def _plain_field(field: GraphQLField) -> _PlainField | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field or field.args:
        return None
    if definition.default_resolver is not getattr:
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    return _PlainField(definition.python_name, leaf.coerce_output_value, non_null)


def plain_fields(schema: GraphQLSchema) -> PlainFields:
    """The schema's plain fields by object type and name, found once per schema."""
    found = _PLAIN_FIELDS.get(schema)
    if found is None:
        found = _PLAIN_FIELDS[schema] = {
            named: {name: plain for name, field in named.fields.items() if (plain := _plain_field(field))}
            for named in schema.type_map.values()
            if isinstance(named, GraphQLObjectType)
        }
    return found


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes plain fields (see the module's docstring) without graphql-core's per-field machinery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # strawberry hands over a manager on every request, empty unless an extension resolves fields.
        middleware = self.middleware_manager.middlewares if self.middleware_manager else ()
        self.plain_fields = {} if middleware else plain_fields(self.schema)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        fields = self.plain_fields.get(parent_type)
        plain = fields.get(node.name.value) if fields else None
        if plain is not None and not node.arguments:
            try:
                value = getattr(source, plain.attribute)
                if value is None:
                    if not plain.non_null:
                        return None
                elif not isinstance(value, Exception):
                    coerced = plain.coerce(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # noqa: BLE001, S110 - graphql-core's path below raises it again, located
                pass
        return self.execute_other_field(parent_type, source, field_details_list, path, position_context)

    def execute_other_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's execution of any other field: where subclasses step in, off the plain fields' path."""
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

