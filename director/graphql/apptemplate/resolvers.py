"""Application templates' root fields; templates are global, the applications they register the caller's."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from graphql.utilities import coerce_input_value, validate_input_value
from strawberry import Info
from strawberry.types.arguments import convert_argument
from strawberry.types.base import has_object_definition
from strawberry.types.unset import UnsetType

from director.application import inputs as application_inputs
from director.apptemplate import inputs as template_inputs
from director.apptemplate.service import ParseRegisterInput
from director.apptemplate.service import application_template as template_service
from director.graphql.application.types import After, Application, First
from director.graphql.apptemplate.inputs import (
    ApplicationFromTemplateInput,
    ApplicationTemplateInput,
    ApplicationTemplateUpdateInput,
)
from director.graphql.apptemplate.types import ApplicationTemplate, ApplicationTemplatePage, input_type
from director.graphql.convert import plain
from director.graphql.inputs import ApplicationRegisterInput, LabelFilter
from director.graphql.permissions import require_scope, scoped
from director.label import inputs as label_inputs
from director.pagination import PageRequest
from kernel.errors import InvalidInputError
from kernel.principal import Scope

In = strawberry.argument(name="in")


def _json(value: Any, info: Info) -> Any:
    """A strawberry input as JSON with its GraphQL field names (what a template stores); unset fields left out."""
    if has_object_definition(value):
        converter = info.schema.config.name_converter
        return {
            converter.get_graphql_name(field): _json(getattr(value, field.python_name), info)
            for field in value.__strawberry_definition__.fields
            if getattr(value, field.python_name) is not None
            and not isinstance(getattr(value, field.python_name), UnsetType)
        }
    if isinstance(value, list):
        return [_json(item, info) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _template_input(
    in_: ApplicationTemplateInput | ApplicationTemplateUpdateInput, info: Info
) -> template_inputs.ApplicationTemplateInput:
    converted = plain(in_, template_inputs.ApplicationTemplateInput)
    return dataclasses.replace(converted, application_input=_json(in_.application_input, info))


def register_input_parser(info: Info) -> ParseRegisterInput:
    """Checks a filled-in template as the ApplicationRegisterInput it now is, as a variable of that type would
    be checked, and converts it as ``registerApplication`` converts its argument."""
    schema = info.schema
    graphql_type = input_type(info, "ApplicationRegisterInput")

    def parse(value: dict[str, Any]) -> application_inputs.ApplicationRegisterInput:
        problems: list[str] = []

        def collect(error: GraphQLError, path: Sequence[str | int]) -> None:
            where = ".".join(str(part) for part in path)
            problems.append(f"{where}: {error.message}" if where else error.message)

        validate_input_value(value, graphql_type, collect, hide_suggestions=True)
        if problems:
            raise InvalidInputError(
                "the template's application input with these values is invalid: " + "; ".join(problems)
            )
        coerced = coerce_input_value(value, graphql_type)
        strawberry_input = convert_argument(
            coerced, ApplicationRegisterInput, schema.schema_converter.scalar_registry, schema.config
        )
        return plain(strawberry_input, application_inputs.ApplicationRegisterInput)

    return parse


@strawberry.type
class ApplicationTemplateQueries:
    @strawberry.field(
        description="Application templates (global), filtered by labels.",
        extensions=scoped(Scope.APPLICATION_TEMPLATE_READ),
    )
    async def application_templates(
        self, info: Info, filter: list[LabelFilter] | None = None, first: First = 200, after: After = None
    ) -> ApplicationTemplatePage:
        request = PageRequest.of(first, after)
        filters = [plain(item, label_inputs.LabelFilter) for item in filter or []]
        page = await info.context.read(template_service.page, filters, request)
        return ApplicationTemplatePage.of(page, ApplicationTemplate.of)

    @strawberry.field(
        description="One application template, or null.", extensions=scoped(Scope.APPLICATION_TEMPLATE_READ)
    )
    async def application_template(self, info: Info, id: strawberry.ID) -> ApplicationTemplate | None:
        model = await info.context.read(template_service.find, id)
        return ApplicationTemplate.of(model) if model else None

    @strawberry.field(
        name="applicationByLocalTenantIDAndAppTemplateID",
        description="The tenant's application registered from this template with this local tenant id, or null.",
        extensions=scoped(Scope.APPLICATION_READ),
    )
    async def application_by_local_tenant_id_and_app_template_id(
        self,
        info: Info,
        local_tenant_id: Annotated[str, strawberry.argument(name="localTenantID")],
        application_template_id: Annotated[strawberry.ID, strawberry.argument(name="applicationTemplateID")],
    ) -> Application | None:
        read = template_service.application_by_local_tenant_id
        model = await info.context.read(read, local_tenant_id, application_template_id)
        return Application.of(model) if model else None


@strawberry.type
class ApplicationTemplateMutations:
    @strawberry.mutation(
        description="Creates an application template with its webhooks.",
        extensions=scoped(Scope.APPLICATION_TEMPLATE_WRITE),
    )
    async def create_application_template(
        self, info: Info, in_: Annotated[ApplicationTemplateInput, In]
    ) -> ApplicationTemplate:
        data = _template_input(in_, info)
        return ApplicationTemplate.of(await info.context.write(template_service.create, data))

    @strawberry.mutation(
        description="Replaces a template's fields; webhooks are replaced when given, or when override is true.",
        extensions=scoped(Scope.APPLICATION_TEMPLATE_WRITE),
    )
    async def update_application_template(
        self,
        info: Info,
        id: strawberry.ID,
        in_: Annotated[ApplicationTemplateUpdateInput, In],
        override: bool | None = None,
    ) -> ApplicationTemplate:
        if in_.labels is not None:
            require_scope(info, Scope.APPLICATION_TEMPLATE_LABELS_WRITE)
        data = _template_input(in_, info)
        updated = await info.context.write(template_service.update, id, data, override=bool(override))
        return ApplicationTemplate.of(updated)

    @strawberry.mutation(
        description="Deletes a template; applications registered from it stay.",
        extensions=scoped(Scope.APPLICATION_TEMPLATE_WRITE),
    )
    async def delete_application_template(self, info: Info, id: strawberry.ID) -> ApplicationTemplate:
        return ApplicationTemplate.of(await info.context.write(template_service.delete, id))

    @strawberry.mutation(
        description="Registers an application of the caller's tenant from a template, like registerApplication.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def register_application_from_template(
        self, info: Info, in_: Annotated[ApplicationFromTemplateInput, In]
    ) -> Application:
        data = plain(in_, template_inputs.ApplicationFromTemplateInput)
        data = dataclasses.replace(
            data, values=tuple(value for value in data.values or () if value is not None) or None
        )
        parse = register_input_parser(info)
        return Application.of(
            await info.context.write(template_service.register_application, data, parse=parse)
        )
