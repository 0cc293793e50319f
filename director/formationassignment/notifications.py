"""Formation assignment notifications as Compass sends them: which webhook an assignment's target listens with,
the data its templates are rendered with, the request, and what the answer makes of the assignment.

Which webhook (Compass's notifications generator): an assignment to oneself has none; a runtime (and a runtime
context, through its runtime) hears about applications with its CONFIGURATION_CHANGED webhook; an application
hears about runtimes and runtime contexts with its CONFIGURATION_CHANGED webhook and about other applications
with its APPLICATION_TENANT_MAPPING webhook, its application template's webhook of that type standing in when it
has none of its own.

The answer (Compass's webhook client and formation assignment service): the URL template gives the method and
URL, the input template the body, the header template the headers; the output template, rendered with the answer's
``Body`` (top-level values as strings, others as JSON) and ``Headers``, gives ``success_status_code``,
``incomplete_status_code``, ``state``, ``config`` and ``error``. A request that cannot be made or gets an
unexpected status is a technical error (``errorCode`` 1), an answer that contradicts itself a client error (2);
both leave the assignment in CREATE_ERROR (DELETE_ERROR when unassigning) with Compass's
``{"error": {"message", "errorCode"}}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.apptemplate.repository import ApplicationTemplateRepository
from director.fetchrequest.fetcher import FetchPolicy, FetchRefused, guarded_session
from director.label.repository import LabelledKind, LabelRepository
from director.models import (
    Application,
    ApplicationTemplate,
    Formation,
    FormationAssignment,
    Runtime,
    RuntimeContext,
    Tenant,
    Webhook,
)
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.repository import RuntimeContextRepository
from director.tenant.repository import TenantRepository
from director.webhook import templates
from director.webhook.repository import WebhookRepository

# Compass's model.FormationOperation values, as templates see them in ``.Operation``.
ASSIGN = "assign"
UNASSIGN = "unassign"

INITIAL = "INITIAL"
READY = "READY"
CONFIG_PENDING = "CONFIG_PENDING"
CREATE_ERROR = "CREATE_ERROR"
DELETING = "DELETING"
DELETE_ERROR = "DELETE_ERROR"
# States a participant may report that mean READY (Compass's CREATE_READY / DELETE_READY).
CREATE_READY = "CREATE_READY"
DELETE_READY = "DELETE_READY"
ERROR_STATES = frozenset({CREATE_ERROR, DELETE_ERROR})
# What a participant may report on the status API, per operation (Compass's isStateSupportedForOperation).
REPORTABLE = {
    ASSIGN: frozenset({CREATE_ERROR, READY, CREATE_READY, CONFIG_PENDING}),
    UNASSIGN: frozenset({DELETE_ERROR, READY, DELETE_READY}),
}

# Compass's AssignmentErrorCode.
TECHNICAL_ERROR = 1
CLIENT_ERROR = 2

CONFIGURATION_CHANGED = "CONFIGURATION_CHANGED"
APPLICATION_TENANT_MAPPING = "APPLICATION_TENANT_MAPPING"
ASYNC_CALLBACK = "ASYNC_CALLBACK"
ASYNC = "ASYNC"
ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})


def error_value(message: str, code: int) -> str:
    """An assignment's error as Compass stores it."""
    return json.dumps({"error": {"message": message, "errorCode": code}})


def _first(webhooks: Sequence[Webhook], kind: str) -> Webhook | None:
    return next((webhook for webhook in webhooks if webhook.type == kind), None)


def _kind(source_type: str) -> str:
    return APPLICATION_TENANT_MAPPING if source_type == "APPLICATION" else CONFIGURATION_CHANGED


class Ends(Protocol):
    """What decides whether an assignment is notified: its two ends (a row, or one about to be inserted)."""

    @property
    def source(self) -> str: ...
    @property
    def source_type(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def target_type(self) -> str: ...


def may_notify(row: Ends) -> bool:
    """Whether any webhook could hear of the assignment, by its ends alone: never one to itself, a runtime (or its
    context) only of an application, and otherwise only an application. The others need no participant read."""
    if row.source == row.target:
        return False
    if row.target_type in {"RUNTIME", "RUNTIME_CONTEXT"}:
        return row.source_type == "APPLICATION"
    return row.target_type == "APPLICATION"


@dataclass
class Participants:
    """The objects a batch of assignments names, read in a fixed number of statements."""

    applications: dict[str, Application]
    runtimes: dict[str, Runtime]
    contexts: dict[str, RuntimeContext]
    templates: dict[str, ApplicationTemplate]
    webhooks: dict[str, list[Webhook]]  # by owner id: applications', runtimes' and application templates'

    def runtime_of(self, object_id: str) -> str | None:
        """The runtime that listens for ``object_id``: itself, or a runtime context's runtime."""
        if object_id in self.contexts:
            return self.contexts[object_id].runtime_id
        return object_id if object_id in self.runtimes else None

    def webhook_for(self, row: Ends) -> Webhook | None:
        """The webhook the assignment's target is told with, or None (then the assignment needs no notification)."""
        if not may_notify(row):
            return None
        if row.target_type in {"RUNTIME", "RUNTIME_CONTEXT"}:
            runtime_id = self.runtime_of(row.target)
            return _first(self.webhooks.get(runtime_id or "", []), CONFIGURATION_CHANGED)
        kind = _kind(row.source_type)
        found = _first(self.webhooks.get(row.target, []), kind)
        application = self.applications.get(row.target)
        if found is None and application is not None and application.application_template_id is not None:
            found = _first(self.webhooks.get(application.application_template_id, []), kind)
        return found


async def participants_of(session: AsyncSession, tenant_id: str, rows: Sequence[Ends]) -> Participants:
    """At most six statements whatever the number of assignments."""
    ids = sorted({row.source for row in rows} | {row.target for row in rows})
    contexts = await RuntimeContextRepository(session).by_ids(tenant_id, ids) if ids else {}
    runtime_ids = sorted({*ids, *(context.runtime_id for context in contexts.values())})
    applications = await ApplicationRepository(session).by_ids(tenant_id, ids) if ids else {}
    runtimes = await RuntimeRepository(session).by_ids(tenant_id, runtime_ids) if runtime_ids else {}
    template_ids = sorted(
        {app.application_template_id for app in applications.values() if app.application_template_id}
    )
    webhooks = WebhookRepository(session)
    grouped: dict[str, list[Webhook]] = {}
    if applications:
        grouped.update(await webhooks.grouped_by(tenant_id, "application_id", list(applications)))
    if runtimes:
        grouped.update(await webhooks.grouped_by(tenant_id, "runtime_id", list(runtimes)))
    found_templates: dict[str, ApplicationTemplate] = {}
    if template_ids:
        grouped.update(await webhooks.of_application_templates(template_ids))
        found_templates = await ApplicationTemplateRepository(session).by_ids(template_ids)
    return Participants(applications, runtimes, contexts, found_templates, grouped)


def _label_text(value: Any) -> str:
    """Compass hands templates labels as strings: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _labels(labels: Sequence[Any]) -> templates.StringMap:
    """Go's ``map[string]string``: a missing label renders as "", not as ``<no value>``."""
    return templates.StringMap({label.key: _label_text(label.value) for label in labels})


@dataclass(frozen=True)
class Request:
    """A notification ready to send: rendered, not yet sent."""

    webhook_id: str
    mode: str | None
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    auth: dict[str, Any] | None
    timeout: float | None
    output_template: str


@dataclass(frozen=True)
class Outcome:
    """What an answer (or the failure to get one) makes of the assignment; ``state`` None: wait (ASYNC_CALLBACK)."""

    state: str | None
    config: str | None = None
    error: str | None = None


def _assignment(row: FormationAssignment | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "ID": row.id,
        "FormationID": row.formation_id,
        "TenantID": row.tenant_id,
        "Source": row.source,
        "SourceType": row.source_type,
        "Target": row.target,
        "TargetType": row.target_type,
        "State": row.state,
        "Value": row.value,
        "Error": row.error,
    }


def formation_data(formation: Formation) -> dict[str, Any]:
    """Compass's model.Formation as templates see it."""
    return {
        "ID": formation.id,
        "TenantID": formation.tenant_id,
        "FormationTemplateID": formation.formation_template_id,
        "Name": formation.name,
        "State": formation.state,
        "Error": formation.error,
    }


async def tenant_context(session: AsyncSession, tenant_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tenant (Compass's TenantWithLabels) and its CustomerTenantContext."""
    repository = TenantRepository(session)
    tenant = await repository.get(tenant_id)
    parent_ids = (await repository.parents_of([tenant_id])).get(tenant_id, [])
    parents = await repository.by_ids(parent_ids) if parent_ids else []
    labels = (await repository.labels_of([tenant_id])).get(tenant_id, {})
    return _tenant(tenant, parents, labels)


class InputBuilder:
    """The template input of Compass's FormationConfigurationChangeInput and ApplicationTenantMappingInput: Go's
    field names as the keys."""

    def __init__(self, session: AsyncSession, tenant_id: str, participants: Participants) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.participants = participants

    async def build(
        self,
        operation: str,
        formation: Formation,
        row: FormationAssignment,
        reverse: FormationAssignment | None,
    ) -> dict[str, Any]:
        tenant, customer = await tenant_context(self.session, self.tenant_id)
        kinds = {row.source: row.source_type, row.target: row.target_type}
        labels = await self._labels(kinds)
        data: dict[str, Any] = {
            "Operation": operation,
            "FormationID": formation.id,
            "Formation": formation_data(formation),
            "CustomerTenantContext": customer,
            "Assignment": _assignment(row),
            "ReverseAssignment": _assignment(reverse),
        }
        if row.source_type == "APPLICATION" and row.target_type == "APPLICATION":
            data["SourceApplication"] = self._application(row.source, labels, tenant)
            data["SourceApplicationTemplate"] = self._template(row.source)
            data["TargetApplication"] = self._application(row.target, labels, tenant)
            data["TargetApplicationTemplate"] = self._template(row.target)
            return data
        application_id = row.source if row.source_type == "APPLICATION" else row.target
        other_id = row.target if application_id == row.source else row.source
        runtime_id = self.participants.runtime_of(other_id)
        context = self.participants.contexts.get(other_id)
        data["Application"] = self._application(application_id, labels, tenant)
        data["ApplicationTemplate"] = self._template(application_id)
        data["Runtime"] = self._runtime(runtime_id, labels, tenant)
        data["RuntimeContext"] = None
        if context is not None:
            data["RuntimeContext"] = {
                "ID": context.id,
                "RuntimeID": context.runtime_id,
                "Key": context.key,
                "Value": context.value,
                "Labels": labels.get(context.id, templates.StringMap()),
                "Tenant": tenant,
            }
        return data

    async def _labels(self, kinds: Mapping[str, str]) -> dict[str, templates.StringMap]:
        """Labels of the assignment's participants (and a context's runtime), one statement per kind."""
        wanted: dict[LabelledKind, list[str]] = {}
        for object_id, kind in kinds.items():
            wanted.setdefault(LabelledKind[kind], []).append(object_id)
            if kind == "RUNTIME_CONTEXT" and (runtime_id := self.participants.runtime_of(object_id)):
                wanted.setdefault(LabelledKind.RUNTIME, []).append(runtime_id)
        found: dict[str, templates.StringMap] = {}
        repository = LabelRepository(self.session)
        for kind, ids in wanted.items():
            for owner_id, owned in (await repository.for_owners(self.tenant_id, kind, ids)).items():
                found[owner_id] = _labels(owned)
        return found

    def _application(
        self, application_id: str, labels: Mapping[str, templates.StringMap], tenant: dict[str, Any]
    ) -> dict[str, Any] | None:
        application = self.participants.applications.get(application_id)
        if application is None:
            return None
        return {
            "ID": application.id,
            "Name": application.name,
            "Description": application.description,
            "BaseURL": application.base_url,
            "ProviderName": application.provider_name,
            "SystemNumber": application.system_number,
            "LocalTenantID": application.local_tenant_id,
            "ApplicationNamespace": application.application_namespace,
            "ApplicationTemplateID": application.application_template_id,
            "IntegrationSystemID": application.integration_system_id,
            "HealthCheckURL": application.healthcheck_url,
            "Status": {
                "Condition": application.status_condition,
                "Timestamp": application.status_timestamp.isoformat(),
            },
            "Labels": labels.get(application.id, templates.StringMap()),
            "Tenant": tenant,
        }

    def _template(self, application_id: str) -> dict[str, Any] | None:
        application = self.participants.applications.get(application_id)
        template_id = application.application_template_id if application is not None else None
        template = self.participants.templates.get(template_id or "")
        if template is None:
            return None
        return {
            "ID": template.id,
            "Name": template.name,
            "Description": template.description,
            "ApplicationNamespace": template.application_namespace,
            "AccessLevel": template.access_level,
            "Labels": templates.StringMap(
                {key: _label_text(value) for key, value in (template.labels or {}).items()}
            ),
            "TrustDetails": None,
        }

    def _runtime(
        self, runtime_id: str | None, labels: Mapping[str, templates.StringMap], tenant: dict[str, Any]
    ) -> dict[str, Any] | None:
        runtime = self.participants.runtimes.get(runtime_id or "")
        if runtime is None:
            return None
        return {
            "ID": runtime.id,
            "Name": runtime.name,
            "Description": runtime.description,
            "ApplicationNamespace": runtime.application_namespace,
            "Status": {
                "Condition": runtime.status_condition,
                "Timestamp": runtime.status_timestamp.isoformat(),
            },
            "Labels": labels.get(runtime.id, templates.StringMap()),
            "Tenant": tenant,
            "TrustDetails": None,
        }


def _tenant(
    tenant: Tenant | None, parents: Sequence[Tenant], labels: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compass's customer tenant context: the customer (and cost object) among the tenant's parents, the account
    (or resource group's path) the tenant itself."""
    if tenant is None:
        return {}, {"CustomerID": "", "CostObjectID": "", "AccountID": None, "Path": None}
    by_type = {parent.type: parent.external_id for parent in parents}
    customer = {
        "CustomerID": by_type.get("customer", ""),
        "CostObjectID": by_type.get("cost-object", ""),
        "AccountID": tenant.external_id if tenant.type in {"account", "subaccount"} else None,
        "Path": tenant.external_id if tenant.type == "resource-group" else None,
    }
    described = {
        "ID": tenant.id,
        "Name": tenant.name,
        "ExternalTenant": tenant.external_id,
        "Parents": [parent.id for parent in parents],
        "Type": tenant.type,
        "Provider": tenant.provider,
        "Labels": templates.StringMap({key: _label_text(value) for key, value in labels.items()}),
    }
    return described, customer


class NotificationError(Exception):
    """Why a notification could not be sent or its answer not be read (a technical error)."""


def _headers(rendered: Any) -> list[tuple[str, str]]:
    """Go's http.Header from the header template: names to lists of values."""
    if not isinstance(rendered, dict):
        raise NotificationError("unable to parse webhook headers: the header template gives no object")
    return [
        (str(name), str(value))
        for name, values in rendered.items()
        for value in (values if isinstance(values, list) else [values])
    ]


def render_request(webhook: Webhook, data: Mapping[str, Any]) -> Request:
    """The request ``webhook``'s templates describe; NotificationError when one does not render as Compass needs."""
    if webhook.output_template is None:
        raise NotificationError("missing output template")
    method, url = "GET", webhook.url
    try:
        if webhook.url_template is not None:
            target = templates.render_json(webhook.url_template, data)
            if not isinstance(target, dict) or not target.get("method") or not target.get("path"):
                raise NotificationError(
                    "unable to parse webhook URL: the URL template gives no method and path"
                )
            method, url = str(target["method"]), str(target["path"])
        body = b"{}"
        if webhook.input_template is not None:
            body = json.dumps(templates.render_json(webhook.input_template, data)).encode()
        headers = (
            _headers(templates.render_json(webhook.header_template, data)) if webhook.header_template else []
        )
    except templates.TemplateError as error:
        raise NotificationError(f"unable to render webhook templates: {error}") from None
    if url is None:
        raise NotificationError("missing webhook url")
    if method not in ALLOWED_METHODS:
        raise NotificationError(f"http method not allowed, allowed methods: {sorted(ALLOWED_METHODS)}")
    return Request(
        webhook.id,
        webhook.mode,
        method,
        url,
        headers,
        body,
        webhook.auth,
        webhook.timeout,
        webhook.output_template,
    )


@dataclass(frozen=True)
class Answer:
    """The output template's reading of an answer."""

    status: int
    success: int
    incomplete: int | None
    state: str | None
    config: str | None
    error: str | None
    location: str | None


def _optional_int(value: Any) -> int | None:
    return (
        int(value)
        if isinstance(value, (int, float, str)) and str(value).strip().lstrip("-").isdigit()
        else None
    )


def read_answer(output_template: str, status: int, headers: Sequence[tuple[str, str]], content: bytes) -> Answer:
    try:
        data = templates.response_data(headers, content)
    except templates.TemplateError as error:
        raise NotificationError(str(error)) from None
    try:
        rendered = templates.render_json(output_template, data)
    except templates.TemplateError as error:
        raise NotificationError(f"unable to parse response into webhook output template: {error}") from None
    if not isinstance(rendered, dict):
        raise NotificationError("unable to parse response into webhook output template: not an object")
    success = _optional_int(rendered.get("success_status_code"))
    if success is None:
        raise NotificationError("missing Output Template success status code field")
    if "error" not in rendered:
        raise NotificationError("missing Output Template error field")

    def text(key: str) -> str | None:
        value = rendered.get(key)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    return Answer(
        status,
        success,
        _optional_int(rendered.get("incomplete_status_code")),
        text("state"),
        text("config"),
        text("error"),
        text("location"),
    )


async def send(policy: FetchPolicy, request: Request, default_timeout: float) -> Answer:
    """The request sent (guarded like spec fetches, within the webhook's timeout or ``default_timeout``, neither
    past the policy's) and its answer read."""
    timeout = min(float(request.timeout or default_timeout), policy.timeout)
    limited = dataclasses.replace(policy, timeout=timeout)
    try:
        async with asyncio.timeout(timeout), guarded_session(limited) as session:
            credentials, query = await session.credentials(request.auth)
            url = httpx.URL(request.url)
            if query:
                url = url.copy_merge_params(tuple(query))
            headers = [("Content-Type", "application/json"), *request.headers, *credentials]
            response = await session.send(request.method, url, headers, content=request.body)
            try:
                content = await session.body(response, "the webhook's answer")
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        raise NotificationError(f"{request.url} did not answer within {timeout:g} seconds") from None
    except FetchRefused as refused:
        raise NotificationError(str(refused)) from None
    except httpx.HTTPError as error:
        raise NotificationError(f"while executing webhook: {error or type(error).__name__}") from None
    answer = read_answer(
        request.output_template, response.status_code, list(response.headers.items()), content
    )
    if request.mode == ASYNC and answer.location is None:
        raise NotificationError(
            f"missing location url after executing async webhook: HTTP response status {answer.status}"
        )
    return answer


def _unexpected_status(answer: Answer) -> str | None:
    """Compass's checkForErr: a status that is neither the success nor the incomplete one (without an error)."""
    if answer.error is not None or answer.status in {answer.success, answer.incomplete}:
        return None
    incomplete = f" or incomplete status code '{answer.incomplete}'" if answer.incomplete is not None else ""
    return (
        "response success status code was not met - expected success status code "
        f"'{answer.success}'{incomplete}, got '{answer.status}'"
    )


def formation_outcome(answer: Answer, failed: str, mode: str | None) -> Outcome:
    """Compass's processFormationNotifications: an error makes the formation ``failed``, the success status READY;
    an ASYNC_CALLBACK webhook's (or an incomplete) answer leaves it waiting."""
    if (unexpected := _unexpected_status(answer)) is not None:
        return Outcome(failed, error=error_value(unexpected, TECHNICAL_ERROR))
    if answer.error is not None:
        return Outcome(failed, error=error_value(answer.error, CLIENT_ERROR))
    if mode != ASYNC_CALLBACK and answer.status == answer.success:
        return Outcome(READY)
    return Outcome(None)


def outcome(answer: Answer, operation: str, mode: str | None, previous: str) -> Outcome:
    """Compass's reading of an answer: an unexpected status code without an error is a technical error; an error
    the participant reports, a client error; else the state it reports (validated against the operation and the
    previous state) or the one its status code means."""
    failed = CREATE_ERROR if operation == ASSIGN else DELETE_ERROR
    if (unexpected := _unexpected_status(answer)) is not None:
        return Outcome(failed, error=error_value(unexpected, TECHNICAL_ERROR))
    if (problem := _invalid(answer, operation, previous)) is not None:
        return Outcome(failed, error=error_value(problem, CLIENT_ERROR))
    if answer.error is not None:
        return Outcome(failed, error=error_value(answer.error, CLIENT_ERROR))
    state = _state(answer, operation, mode)
    if mode == ASYNC_CALLBACK and state not in ERROR_STATES:
        return Outcome(None)
    return Outcome(state, config=answer.config)


def _state(answer: Answer, operation: str, mode: str | None) -> str:
    if answer.state is not None:
        return READY if answer.state in {CREATE_READY, DELETE_READY} else answer.state
    if answer.status == answer.success and mode != ASYNC_CALLBACK:
        return READY
    if operation == ASSIGN:
        return INITIAL if mode == ASYNC_CALLBACK else CONFIG_PENDING
    return DELETING


# Compass's validateResponseState: what each state may become.
_TRANSITIONS = {
    DELETING: {DELETE_ERROR, READY, DELETE_READY},
    INITIAL: {CREATE_ERROR, CONFIG_PENDING, READY, CREATE_READY},
    DELETE_ERROR: {DELETE_ERROR, READY, DELETING, DELETE_READY},
}
# The states a webhook's answer may carry.
_ANSWERABLE = frozenset({READY, CREATE_READY, DELETE_READY, CREATE_ERROR, DELETE_ERROR, CONFIG_PENDING, INITIAL, DELETING})


def _invalid(answer: Answer, operation: str, previous: str) -> str | None:
    """Why the answer's state contradicts the rest of it (Compass's validateNotificationResponse), or None."""
    state = answer.state
    if state is None:
        return None
    allowed = _TRANSITIONS.get(previous)
    problems = [
        (state not in _ANSWERABLE, f"state: must be a valid value, got {state!r}"),
        (answer.error is not None and state not in ERROR_STATES, f"state: {state} cannot come with an error"),
        (
            answer.config is not None and state not in {READY, CREATE_READY, CONFIG_PENDING},
            f"state: {state} cannot come with a configuration",
        ),
        (
            answer.status == answer.incomplete and state != CONFIG_PENDING,
            f"state: the incomplete status code means {CONFIG_PENDING}, not {state}",
        ),
        (
            allowed is not None and state not in allowed,
            f"Invalid transition from state {previous!r} to state {state}.",
        ),
        (
            operation == UNASSIGN and state in {CREATE_ERROR, CONFIG_PENDING, CREATE_READY},
            f"state: {state} is not a state of an unassignment",
        ),
    ]
    return next((message for failed, message in problems if failed), None)
