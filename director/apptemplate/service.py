"""Application templates (global, as in Compass) and applications registered from them.

A template holds an ApplicationJSONInput with ``{{placeholder}}`` in its strings. Registering from it puts the
caller's values in (as JSON values, so quotes and backslashes in a value stay text), checks the result as the
``ApplicationRegisterInput`` it then is, and registers it with the application service in the caller's tenant,
exactly like ``registerApplication``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.inputs import ApplicationRegisterInput
from director.application.repository import ApplicationRepository
from director.application.service import application as application_service
from director.apptemplate.inputs import (
    ApplicationFromTemplateInput,
    ApplicationTemplateInput,
    PlaceholderDefinitionInput,
    TemplateValueInput,
)
from director.apptemplate.repository import ApplicationTemplateRepository
from director.label.filters import LabelCondition, parse_label_filter
from director.label.inputs import LabelFilter
from director.label.service import validate_key
from director.models import Application, ApplicationTemplate, Webhook
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.validation import list_size, optional_text
from director.webhook.inputs import WebhookInput
from director.webhook.service import webhook as webhook_service
from kernel.errors import ConflictError, InvalidInputError, NotFoundError
from kernel.models import utcnow

# Compass's limits (pkg/graphql/validation.go) and label keys (apptemplate/service.go, application.ManagedLabelKey).
MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000
MAX_NAMESPACE_LENGTH = 256
MAX_VALUE_LENGTH = 128
MAX_JSON_PATH_LENGTH = 2000
APPLICATION_TYPE_LABEL = "applicationType"
MANAGED_LABEL = "managed"
REGION_LABEL = "region"
SAP = "SAP"

_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]+$")
# Kubernetes' DNS subdomain, at most 36 characters and not starting with a digit (Compass's DNSName rule).
_DNS_NAME = re.compile(r"^(?![0-9])[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# What Compass counts as a placeholder in an application input: no dots (those are Go template fields).
_USED_PLACEHOLDER = re.compile(r"{{([^.}]*)}}")
_SAP_PRODUCT_NAME = re.compile(r"^SAP\s[A-Za-z0-9()_\- ]*")
# Webhook properties that hold Go templates: their {{.X}} are no placeholders.
_WEBHOOK_TEMPLATES = ("urlTemplate", "inputTemplate", "headerTemplate", "outputTemplate", "statusTemplate")

ParseRegisterInput = Callable[[dict[str, Any]], ApplicationRegisterInput]


def _template_name(value: str, field: str) -> str:
    if not value or len(value) > MAX_NAME_LENGTH or not _PRINTABLE_ASCII.match(value):
        raise InvalidInputError(f"{field} must be 1 to {MAX_NAME_LENGTH} printable ASCII characters")
    return value


def _dns_name(value: str, field: str) -> str:
    if len(value) > 36 or not _DNS_NAME.match(value):  # noqa: PLR2004 - Compass's DNSName limit
        raise InvalidInputError(
            f"{field} {value!r} must be at most 36 lower case letters, digits, '-' and '.', not starting with a digit"
        )
    return value


def _placeholders(data: ApplicationTemplateInput) -> list[dict[str, Any]]:
    """Compass's placeholder rules: valid unique names, each used in the application input, and every
    ``{{name}}`` the input uses (outside webhook templates) defined."""
    definitions = list_size(data.placeholders, "placeholders")
    names: set[str] = set()
    for placeholder in definitions:
        _dns_name(placeholder.name, "placeholder name")
        if placeholder.name in names:
            raise InvalidInputError(f"placeholder [name={placeholder.name}] not unique")
        names.add(placeholder.name)
        optional_text(placeholder.description, "placeholder description", max_length=MAX_DESCRIPTION_LENGTH)
        optional_text(placeholder.json_path, "placeholder jsonPath", max_length=MAX_JSON_PATH_LENGTH)
    text = json.dumps(data.application_input)
    for name in names:
        if "{{" + name + "}}" not in text:
            raise InvalidInputError(f"application input does not use provided placeholder [name={name}]")
    for used in _USED_PLACEHOLDER.findall(json.dumps(_without_webhook_templates(data.application_input))):
        if not used:
            raise InvalidInputError("empty placeholder [name=] provided in the application input")
        if used not in names:
            raise InvalidInputError(
                f"placeholder [name={used}] is used in the application input but not defined in placeholders"
            )
    return [_placeholder_record(placeholder) for placeholder in definitions]


def _placeholder_record(placeholder: PlaceholderDefinitionInput) -> dict[str, Any]:
    return {
        "name": placeholder.name,
        "description": placeholder.description,
        "jsonPath": placeholder.json_path,
        "optional": placeholder.optional,
    }


def _without_webhook_templates(application_input: dict[str, Any]) -> dict[str, Any]:
    webhooks = application_input.get("webhooks")
    if not isinstance(webhooks, list):
        return application_input
    trimmed = [
        {key: value for key, value in webhook.items() if key not in _WEBHOOK_TEMPLATES}
        if isinstance(webhook, dict)
        else webhook
        for webhook in webhooks
    ]
    return {**application_input, "webhooks": trimmed}


def _with_application_type(application_input: dict[str, Any], name: str) -> dict[str, Any]:
    """Compass labels what a template registers with the template's name, unless the input names a type."""
    labels = application_input.get("labels")
    if labels is not None and not isinstance(labels, dict):
        raise InvalidInputError("applicationInput.labels must be an object")
    labels = dict(labels or {})
    labels.setdefault(APPLICATION_TYPE_LABEL, name)
    return {**application_input, "labels": labels}


def _check_name_for_provider(name: str, application_input: dict[str, Any]) -> None:
    if application_input.get("providerName") == SAP and not _SAP_PRODUCT_NAME.match(name):
        raise InvalidInputError(
            f'application template name {name!r} does not comply with the naming convention "SAP <product name>"'
        )


def _same_json(left: Any, right: Any) -> bool:
    """JSON equality: true is not 1, as in the databases' label filters."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)


def _matches(condition: LabelCondition, labels: dict[str, Any]) -> bool:
    if condition.key not in labels:
        return False
    value = labels[condition.key]
    if condition.any_of is not None:
        return isinstance(value, list) and any(
            _same_json(item, wanted) for item in value for wanted in condition.any_of
        )
    if condition.has_equals:
        return _same_json(value, condition.equals)
    return True


def _substituted(value: Any, values: dict[str, str]) -> Any:
    """``value`` with each ``{{name}}`` in its strings (and object keys) replaced by the placeholder's value."""
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("{{" + name + "}}", replacement)
        return value
    if isinstance(value, list):
        return [_substituted(item, values) for item in value]
    if isinstance(value, dict):
        return {_substituted(key, values): _substituted(item, values) for key, item in value.items()}
    return value


def _json_path_value(payload: Any, path: str) -> str:
    """The value at a placeholder's jsonPath (``$.a.b``, ``.a[0]``, ``a['b']``), printed as Kubernetes'
    jsonpath prints it: strings as they are, anything else as JSON."""
    current = payload
    for match in re.finditer(r"\.?([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]", path.removeprefix("$")):
        key, index, quoted = match.groups()
        if index is not None:
            if not isinstance(current, list) or int(index) >= len(current):
                raise KeyError(path)
            current = current[int(index)]
        else:
            name = quoted if quoted is not None else key
            if not isinstance(current, dict) or name not in current:
                raise KeyError(path)
            current = current[name]
    return current if isinstance(current, str) else json.dumps(current)


def _values_from_payload(
    template: ApplicationTemplate, payload: str, *, skip: Collection[str] = ()
) -> list[TemplateValueInput]:
    """``skip``: placeholders whose values come from elsewhere (a subscription's subdomain and region)."""
    try:
        document = json.loads(payload)
    except ValueError:
        raise InvalidInputError("placeholdersPayload must be JSON") from None
    values = []
    for placeholder in template.placeholders:
        if placeholder["name"] in skip:
            continue
        path = placeholder.get("jsonPath")
        if not path:
            raise InvalidInputError(f"placeholder {placeholder['name']!r} of the template has no jsonPath")
        try:
            values.append(
                TemplateValueInput(placeholder=placeholder["name"], value=_json_path_value(document, path))
            )
        except KeyError:
            if not placeholder.get("optional"):
                raise InvalidInputError(
                    f"placeholdersPayload has no value at {path!r} for placeholder {placeholder['name']!r}"
                ) from None
    return values


def _check_value(name: str, value: str) -> None:
    """Compass refuses these two values of these two well-known placeholders."""
    if name == "provider" and SAP in value.split():
        raise InvalidInputError('provider cannot contain "SAP"')
    if name == "application-type" and value[:4].strip(" \t\n") == SAP:
        raise InvalidInputError('your application type cannot start with "SAP"')


def _application_input(template: ApplicationTemplate, given: Sequence[TemplateValueInput]) -> dict[str, Any]:
    """The template's input with the values put in: each required placeholder needs one, values for placeholders
    the template does not define are refused, an optional one left out becomes "" and a label it alone made is
    dropped (as Compass drops it)."""
    values = {value.placeholder: value.value for value in given}
    defined = {placeholder["name"]: placeholder for placeholder in template.placeholders}
    if unknown := sorted(set(values) - set(defined)):
        raise InvalidInputError(f"the template defines no placeholder {', '.join(map(repr, unknown))}")
    dropped_labels: set[str] = set()
    for name, placeholder in defined.items():
        if name not in values:
            if not placeholder.get("optional"):
                raise InvalidInputError(f"required placeholder {name!r} not provided")
            values[name] = ""
        _check_value(name, values[name])
        if values[name] == "":
            labels = template.application_input.get("labels") or {}
            dropped_labels |= {key for key, label in labels.items() if label == "{{" + name + "}}"}
    result: dict[str, Any] = _substituted(template.application_input, values)
    if dropped_labels and isinstance(result.get("labels"), dict):
        result["labels"] = {
            key: label for key, label in result["labels"].items() if key not in dropped_labels
        }
    return result


class ApplicationTemplateService:
    """Templates are global: the methods take the caller's tenant, as every service does, and most ignore it."""

    async def find(
        self, session: AsyncSession, _tenant_id: str, template_id: str
    ) -> ApplicationTemplate | None:
        return await ApplicationTemplateRepository(session).get(template_id)

    async def by_ids(
        self,
        session: AsyncSession,
        _tenant_id: str,
        template_ids: Sequence[str],
    ) -> dict[str, ApplicationTemplate]:
        """Batch read for the DataLoaders."""
        return await ApplicationTemplateRepository(session).by_ids(template_ids)

    async def page(
        self,
        session: AsyncSession,
        _tenant_id: str,
        filters: Sequence[LabelFilter],
        request: PageRequest,
    ) -> Page[ApplicationTemplate]:
        """Filtered in memory: templates are a global catalogue (tens, not millions) with their labels inline."""
        conditions = [parse_label_filter(item.key, item.query) for item in list_size(filters, "filter")]
        return Page.slice(await self.matching(session, _tenant_id, conditions), request)

    async def matching(
        self, session: AsyncSession, _tenant_id: str, conditions: Sequence[LabelCondition]
    ) -> list[ApplicationTemplate]:
        """The templates whose labels satisfy every condition (a subscription's provider and region)."""
        rows = await ApplicationTemplateRepository(session).all()
        return [row for row in rows if all(_matches(condition, row.labels) for condition in conditions)]

    async def application_by_local_tenant_id(
        self, session: AsyncSession, tenant_id: str, local_tenant_id: str, template_id: str
    ) -> Application | None:
        """The caller's application of this template that carries this local tenant id, or None."""
        return await ApplicationRepository(session).get_by_local_tenant_id_and_template(
            tenant_id, local_tenant_id, template_id
        )

    async def create(
        self, session: AsyncSession, _tenant_id: str, data: ApplicationTemplateInput
    ) -> ApplicationTemplate:
        # A template is in no runtime's view: runtimes may not read Application.applicationTemplate.
        changes(session).outside_views()
        template = ApplicationTemplate(created_at=utcnow())
        await self._apply(session, template, data)
        await ApplicationTemplateRepository(session).add(template)
        await webhook_service.replace_for_application_template(
            session, template.id, list_size(data.webhooks, "webhooks")
        )
        return template

    async def update(
        self,
        session: AsyncSession,
        _tenant_id: str,
        template_id: str,
        data: ApplicationTemplateInput,
        *,
        override: bool,
    ) -> ApplicationTemplate:
        """Replaces the template's fields; its labels are merged into the existing ones (as Compass upserts them);
        its webhooks are replaced when any are given, or when ``override``."""
        changes(session).outside_views()
        template = await self._get_or_raise(session, template_id)
        await self._apply(session, template, replace(data, labels={**template.labels, **(data.labels or {})}))
        if override or data.webhooks:
            webhooks = list_size(data.webhooks, "webhooks")
            await webhook_service.replace_for_application_template(session, template.id, webhooks)
        await session.flush()
        return template

    async def delete(self, session: AsyncSession, _tenant_id: str, template_id: str) -> ApplicationTemplate:
        """Applications registered from it stay (keeping its id as applicationTemplateID)."""
        changes(session).outside_views()
        template = await self._get_or_raise(session, template_id)
        await webhook_service.replace_for_application_template(session, template.id, ())
        await ApplicationTemplateRepository(session).delete(template)
        return template

    async def add_webhook(
        self,
        session: AsyncSession,
        _tenant_id: str,
        template_id: str,
        data: WebhookInput,
    ) -> Webhook:
        """``addWebhook(applicationTemplateID:)``: one more webhook of the template, global like it."""
        changes(session).outside_views()
        template = await self._get_or_raise(session, template_id)
        return await webhook_service.add_to_application_template(session, template.id, data)

    async def register_application(
        self,
        session: AsyncSession,
        tenant_id: str,
        data: ApplicationFromTemplateInput,
        *,
        parse: ParseRegisterInput,
    ) -> Application:
        """``parse`` checks the filled-in input as an ApplicationRegisterInput (the GraphQL layer owns that type)
        and raises InvalidInputError naming what is wrong."""
        _template_name(data.template_name, "templateName")
        given = list(data.values or [])
        if (data.placeholders_payload is not None) == bool(given):
            raise InvalidInputError("one of values or placeholdersPayload should be provided")
        names = [value.placeholder for value in given]
        for value in given:
            _dns_name(value.placeholder, "placeholder")
            optional_text(
                value.value, f"value of placeholder {value.placeholder!r}", max_length=MAX_VALUE_LENGTH
            )
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise InvalidInputError(f"placeholder [name={duplicates[0]}] not unique")
        template = await self._for_registration(session, data)
        if data.placeholders_payload is not None:
            given = _values_from_payload(template, data.placeholders_payload)
        application_input = _application_input(template, given)
        labels = application_input.get("labels") if isinstance(application_input.get("labels"), dict) else {}
        application_input["labels"] = {MANAGED_LABEL: "false", **(labels or {}), **(data.labels or {})}
        return await self._register(session, tenant_id, template, application_input, parse)

    async def register_subscribed(
        self,
        session: AsyncSession,
        tenant_id: str,
        template: ApplicationTemplate,
        *,
        payload: str,
        known: Mapping[str, str],
        labels: Mapping[str, Any],
        local_tenant_id: str,
        parse: ParseRegisterInput,
    ) -> Application:
        """Compass's subscription to an application template: each placeholder's value is read from ``payload`` at
        its jsonPath, except the ``known`` ones (subdomain, region), which the subscription gives; ``labels``
        override the template's; the input's localTenantID defaults to ``local_tenant_id``."""
        defined = {placeholder["name"] for placeholder in template.placeholders}
        given = _values_from_payload(template, payload, skip=known)
        given += [TemplateValueInput(name, value) for name, value in known.items() if name in defined]
        application_input = _application_input(template, given)
        stored = application_input.get("labels") if isinstance(application_input.get("labels"), dict) else {}
        application_input["labels"] = {**(stored or {}), **labels}
        if application_input.get("localTenantID") is None:
            application_input["localTenantID"] = local_tenant_id
        return await self._register(session, tenant_id, template, application_input, parse)

    async def _register(
        self,
        session: AsyncSession,
        tenant_id: str,
        template: ApplicationTemplate,
        application_input: dict[str, Any],
        parse: ParseRegisterInput,
    ) -> Application:
        application = await application_service.register(session, tenant_id, parse(application_input))
        application.application_template_id = template.id
        await session.flush()
        return application

    async def _for_registration(
        self, session: AsyncSession, data: ApplicationFromTemplateInput
    ) -> ApplicationTemplate:
        """By name, and by id too when given (several templates may share a name, one per region)."""
        named = await ApplicationTemplateRepository(session).by_name(data.template_name)
        if data.id is not None:
            named = [template for template in named if template.id == data.id]
        if not named:
            raise NotFoundError(f"application template {data.template_name!r} does not exist")
        if len(named) > 1:
            raise InvalidInputError(
                f"{len(named)} application templates are named {data.template_name!r}: give the id of one"
            )
        return named[0]

    async def _get_or_raise(self, session: AsyncSession, template_id: str) -> ApplicationTemplate:
        template = await ApplicationTemplateRepository(session).get(template_id)
        if template is None:
            raise NotFoundError(f"application template {template_id} does not exist")
        return template

    async def _apply(
        self, session: AsyncSession, template: ApplicationTemplate, data: ApplicationTemplateInput
    ) -> None:
        """Compass's ApplicationTemplateInput rules; a name is unique per region label."""
        name = _template_name(data.name, "name")
        labels = dict(data.labels or {})
        for key in labels:
            validate_key(key)
        placeholders = _placeholders(data)
        _check_name_for_provider(name, data.application_input)
        region = labels.get(REGION_LABEL)
        for other in await ApplicationTemplateRepository(session).by_name(name):
            if other.id != template.id and other.labels.get(REGION_LABEL) == region:
                raise ConflictError(
                    f"application template with name {name!r} and region {region} already exists"
                )
        template.name = name
        template.description = optional_text(
            data.description, "description", max_length=MAX_DESCRIPTION_LENGTH
        )
        namespace = optional_text(
            data.application_namespace, "applicationNamespace", max_length=MAX_NAMESPACE_LENGTH
        )
        if namespace == "":
            raise InvalidInputError(f"applicationNamespace must be 1 to {MAX_NAMESPACE_LENGTH} characters")
        template.application_namespace = namespace
        template.application_input = _with_application_type(data.application_input, name)
        template.placeholders = placeholders
        template.access_level = data.access_level.value
        template.labels = labels
        template.updated_at = utcnow()


application_template = ApplicationTemplateService()
