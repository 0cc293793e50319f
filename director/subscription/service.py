"""Compass's tenant subscription (``subscribeTenant``/``unsubscribeTenant``): what a SaaS registry's subscription of
a consumer subaccount to a provider's application makes in the Director.

The payload names, in ``dependentServiceInstancesInfo``, each provider the subscription reaches (its application
id, name and provider subaccount) and, in ``subscriptionGUID``, the subscription. A provider is found by the labels
``subscriptionProviderId`` (its application id) and ``region``, either on a runtime or on an application template:

- runtime (of the provider's subaccount): the runtime gets the label ``runtimeType`` = the application's name, the
  consumer subaccount is granted read access to it and gets a runtime context of its own on it (key
  ``subscription``, value the consumer tenant id, labels ``global_subaccount_id`` and ``subscriptions``);
- application template: an application is registered from it in the consumer subaccount, its placeholders'
  values read from the payload at their jsonPath (``subdomain`` from the subaccount's label, ``region`` from the
  call), labelled ``managed``, ``subscriptions`` and ``global_subaccount_id``.

Subscribing again adds the subscription id to the ``subscriptions`` label of what the first subscription made;
unsubscribing removes it, and deletes the context or application with its last subscription. The caller's tenant
plays no part: what is written into the provider's and the consumer's tenants is declared there (``acting_in``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from director.application.service import application as application_service
from director.apptemplate.service import MANAGED_LABEL, REGION_LABEL, ParseRegisterInput
from director.apptemplate.service import application_template as template_service
from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.label.service import label as label_service
from director.models import ApplicationTemplate, RuntimeContext, Tenant
from director.polling.invalidation import acting_in, changes
from director.runtime.service import runtime as runtime_service
from director.runtimecontext.inputs import RuntimeContextInput
from director.runtimecontext.service import runtime_context as runtime_context_service
from director.subscription.inputs import SubscriptionLabelKeys, SubscriptionRequest
from director.subscription.repository import SubscriptionRepository
from director.tenant.service import tenant as tenant_service
from director.tenantaccess.service import tenant_access as tenant_access_service
from kernel.errors import ConflictError, InvalidInputError, NotFoundError
from kernel.json_values import strict_loads, unstorable
from kernel.principal import Principal

log = structlog.get_logger("compass.director.subscription")

# Compass's constants (internal/domain/subscription/service.go).
SUBSCRIPTIONS_LABEL = "subscriptions"
# Stands for the subscriptions made before Compass counted them: the label a repeated subscription creates holds it.
PREVIOUS_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
SUBDOMAIN_LABEL = "subdomain"
REGION_PREFIX = "cf-"
SUBSCRIPTION_ID_KEY = "subscriptionGUID"
INSTANCES_KEY = "dependentServiceInstancesInfo"

WriteSubscriptions = Callable[[list[Any]], Awaitable[object]]
DeleteSubscribed = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class ProviderInstance:
    """One entry of the payload's ``dependentServiceInstancesInfo``."""

    provider_id: str
    app_name: str
    provider_subaccount_id: str


def _member(document: dict[str, Any], name: str) -> Any:
    """A member as Go's encoding/json fills a struct field: the last key equal to ``name`` ignoring case."""
    found = None
    for key, value in document.items():
        if key.casefold() == name.casefold():
            found = value
    return found


def _payload(text: str) -> dict[str, Any]:
    """The payload as Compass reads it into its struct: an object (or null); anything else is refused."""
    try:
        document = strict_loads(text)
    except ValueError:
        raise InvalidInputError("subscriptionPayload must be JSON") from None
    if reason := unstorable(document, "subscriptionPayload"):
        raise InvalidInputError(reason)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidInputError("subscriptionPayload must be a JSON object")
    return document


def _text(entry: dict[str, Any], name: str, index: int) -> str:
    value = _member(entry, name)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"subscriptionPayload: {INSTANCES_KEY}[{index}].{name} must be a string")
    return value or ""


def _instances(document: dict[str, Any]) -> list[ProviderInstance]:
    entries = _member(document, INSTANCES_KEY)
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidInputError(f"subscriptionPayload: {INSTANCES_KEY} must be a list")
    instances = []
    for index, given in enumerate(entries):
        entry = {} if given is None else given
        if not isinstance(entry, dict):
            raise InvalidInputError(f"subscriptionPayload: {INSTANCES_KEY}[{index}] must be an object")
        instances.append(
            ProviderInstance(
                provider_id=_text(entry, "appId", index),
                app_name=_text(entry, "appName", index),
                provider_subaccount_id=_text(entry, "providerSubaccountId", index),
            )
        )
    return instances


def _subscription_id(document: dict[str, Any]) -> str:
    """The ``subscriptionGUID`` as Compass reads it (gjson's ``String()``): a number as written, without exponent."""
    value = document.get(SUBSCRIPTION_ID_KEY)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return json.dumps(value, separators=(",", ":"))


def _require(value: str, what: str, index: int) -> str:
    if not value:
        raise InvalidInputError(f"subscriptionPayload: {what} of {INSTANCES_KEY}[{index}] must not be empty")
    return value


def _log_provider(operation: str, request: SubscriptionRequest, instance: ProviderInstance) -> None:
    """As Compass logs it: the payload's provider replaces the one the arguments name, which may differ."""
    log.info(
        "tenant_subscription_provider",
        operation=operation,
        argument_provider_id=request.provider_id,
        provider_id=instance.provider_id,
        argument_provider_subaccount_id=request.provider_subaccount_id,
        provider_subaccount_id=instance.provider_subaccount_id,
        argument_app_name=request.subscription_app_name,
        app_name=instance.app_name,
        subaccount_id=request.subaccount_id,
        consumer_tenant_id=request.consumer_tenant_id,
    )


def _provider_conditions(keys: SubscriptionLabelKeys, provider_id: str, region: str) -> list[LabelCondition]:
    return [
        LabelCondition(key=keys.provider, equals=provider_id, has_equals=True),
        LabelCondition(key=REGION_LABEL, equals=region, has_equals=True),
    ]


class SubscriptionService:
    async def subscribe(
        self,
        session: AsyncSession,
        tenant_id: str,
        request: SubscriptionRequest,
        *,
        keys: SubscriptionLabelKeys,
        caller: Principal,
        parse: ParseRegisterInput,
    ) -> bool:
        """True when the last provider of the payload was subscribed to; false when none was found (Compass's
        answer, also for a payload without providers)."""
        changes(session).outside_views()
        document = _payload(request.subscription_payload)
        subscribed = False
        for index, instance in enumerate(_instances(document)):
            _log_provider("subscribe", request, instance)
            _require(instance.provider_id, "appId (the provider id)", index)
            _require(instance.provider_subaccount_id, "providerSubaccountId", index)
            _require(instance.app_name, "appName (the subscription app name)", index)
            subscription_id = _subscription_id(document)
            if not subscription_id:
                raise InvalidInputError(f"subscriptionPayload: {SUBSCRIPTION_ID_KEY} must not be empty")
            conditions = _provider_conditions(keys, instance.provider_id, request.region)
            template, runtime = await self._provider(session, tenant_id, conditions, instance)
            if template is not None:
                subscribed = await self._subscribe_to_application(
                    session, tenant_id, request, template, subscription_id, keys=keys, parse=parse
                )
            elif runtime:
                subscribed = await self._subscribe_to_runtime(
                    session,
                    tenant_id,
                    request,
                    instance=instance,
                    subscription_id=subscription_id,
                    conditions=conditions,
                    keys=keys,
                    caller=caller,
                )
        return subscribed

    async def unsubscribe(
        self,
        session: AsyncSession,
        tenant_id: str,
        request: SubscriptionRequest,
        *,
        keys: SubscriptionLabelKeys,
        caller: Principal,
        now: datetime,
    ) -> bool:
        """True when the last provider of the payload was found (``now``: when deleted applications' client
        certificates are revoked)."""
        changes(session).outside_views()
        document = _payload(request.subscription_payload)
        unsubscribed = False
        for instance in _instances(document):
            _log_provider("unsubscribe", request, instance)
            subscription_id = _subscription_id(document)
            conditions = _provider_conditions(keys, instance.provider_id, request.region)
            template, runtime = await self._provider(session, tenant_id, conditions, instance)
            if template is not None:
                consumer = await self._tenant(session, tenant_id, request.subaccount_id)
                with acting_in(session, consumer.id):
                    await changes(session).tenant()
                    await self._unsubscribe_from_application(session, consumer, template, subscription_id, now=now)
                unsubscribed = True
            elif runtime:
                unsubscribed = await self._unsubscribe_from_runtime(
                    session,
                    tenant_id,
                    request,
                    instance=instance,
                    subscription_id=subscription_id,
                    conditions=conditions,
                    keys=keys,
                    caller=caller,
                )
        return unsubscribed

    async def _provider(
        self, session: AsyncSession, tenant_id: str, conditions: list[LabelCondition], instance: ProviderInstance
    ) -> tuple[ApplicationTemplate | None, bool]:
        """Compass's ``DetermineSubscriptionFlow``: the template, or whether a runtime (of any tenant) carries the
        labels; both at once is a conflict Compass refuses too."""
        templates = await template_service.matching(session, tenant_id, conditions)
        runtime = await SubscriptionRepository(session).runtime_anywhere(conditions)
        labels = f"labels {conditions[0].key}={instance.provider_id!r} and {REGION_LABEL}={conditions[1].equals!r}"
        if len(templates) > 1:
            raise ConflictError(f"{len(templates)} application templates carry the {labels}")
        if templates and runtime:
            raise ConflictError(f"both a runtime and an application template carry the {labels}")
        return (templates[0] if templates else None), runtime

    async def _tenant(self, session: AsyncSession, tenant_id: str, external_id: str) -> Tenant:
        found = await tenant_service.by_external_id(session, tenant_id, external_id, everywhere=True)
        if found is None:
            raise NotFoundError(f"tenant with external id {external_id!r} does not exist")
        return found

    async def _subscribe_to_application(
        self,
        session: AsyncSession,
        tenant_id: str,
        request: SubscriptionRequest,
        template: ApplicationTemplate,
        subscription_id: str,
        *,
        keys: SubscriptionLabelKeys,
        parse: ParseRegisterInput,
    ) -> bool:
        consumer = await self._tenant(session, tenant_id, request.subaccount_id)
        with acting_in(session, consumer.id):
            # Taken before the reads: concurrent subscriptions of one subaccount see each other's writes.
            await changes(session).tenant()
            existing = await SubscriptionRepository(session).applications_of_template(consumer.id, template.id)
            if existing:
                application_id = existing[0].id
                write = partial(application_service.set_label, session, consumer.id, application_id, SUBSCRIPTIONS_LABEL)
                await self._add(
                    session, consumer.id, LabelledKind.APPLICATION, application_id, subscription_id, write=write
                )
                return True
            tenant_labels = await tenant_service.labels_of(session, consumer.id, [consumer.id])
            subdomain = tenant_labels.get(consumer.id, {}).get(SUBDOMAIN_LABEL)
            known = {
                SUBDOMAIN_LABEL: subdomain if isinstance(subdomain, str) else "",
                REGION_LABEL: request.region.removeprefix(REGION_PREFIX),
            }
            labels = {
                MANAGED_LABEL: "false",
                SUBSCRIPTIONS_LABEL: [subscription_id],
                keys.global_subaccount_id: request.subaccount_id,
            }
            await template_service.register_subscribed(
                session,
                consumer.id,
                template,
                payload=request.subscription_payload,
                known=known,
                labels=labels,
                local_tenant_id=request.consumer_tenant_id,
                parse=parse,
            )
        return True

    async def _unsubscribe_from_application(
        self,
        session: AsyncSession,
        consumer: Tenant,
        template: ApplicationTemplate,
        subscription_id: str,
        *,
        now: datetime,
    ) -> None:
        """Every application of the consumer registered from the template loses the subscription."""
        for application in await SubscriptionRepository(session).applications_of_template(consumer.id, template.id):
            await self._remove(
                session,
                consumer.id,
                LabelledKind.APPLICATION,
                application.id,
                subscription_id,
                write=partial(application_service.set_label, session, consumer.id, application.id, SUBSCRIPTIONS_LABEL),
                delete=partial(application_service.unregister, session, consumer.id, application.id, now=now),
            )

    async def _subscribe_to_runtime(
        self,
        session: AsyncSession,
        tenant_id: str,
        request: SubscriptionRequest,
        *,
        instance: ProviderInstance,
        subscription_id: str,
        conditions: list[LabelCondition],
        keys: SubscriptionLabelKeys,
        caller: Principal,
    ) -> bool:
        provider = await self._tenant(session, tenant_id, instance.provider_subaccount_id)
        repository = SubscriptionRepository(session)
        runtime = await repository.runtime_in(provider.id, conditions)
        if runtime is None:
            return False
        consumer = await self._tenant(session, tenant_id, request.subaccount_id)
        # The consumer's tenant row is locked before the reads (concurrent subscriptions of one subaccount see each
        # other's writes) and before the provider's runtime row (the documented lock order).
        with acting_in(session, consumer.id):
            await changes(session).tenant()
            context = await self._context(session, consumer.id, runtime.id, request, keys)
            if context is not None:
                write = self._context_label_writer(session, consumer.id, context.id)
                await self._add(
                    session, consumer.id, LabelledKind.RUNTIME_CONTEXT, context.id, subscription_id, write=write
                )
                return True
        with acting_in(session, runtime.tenant_id):
            await runtime_service.set_label(
                session, runtime.tenant_id, runtime.id, keys.runtime_type, instance.app_name, caller=caller
            )
        await tenant_access_service.grant(
            session, tenant_id=consumer.id, resource_type="RUNTIME", resource_id=runtime.id, owner=False
        )
        with acting_in(session, consumer.id):
            data = RuntimeContextInput(key=keys.subscription, value=request.consumer_tenant_id)
            context = await runtime_context_service.add(session, consumer.id, runtime.id, data)
            context_labels = {keys.global_subaccount_id: request.subaccount_id, SUBSCRIPTIONS_LABEL: [subscription_id]}
            await label_service.set_many(session, consumer.id, LabelledKind.RUNTIME_CONTEXT, context.id, context_labels)
        return True

    async def _unsubscribe_from_runtime(
        self,
        session: AsyncSession,
        tenant_id: str,
        request: SubscriptionRequest,
        *,
        instance: ProviderInstance,
        subscription_id: str,
        conditions: list[LabelCondition],
        keys: SubscriptionLabelKeys,
        caller: Principal,
    ) -> bool:
        """The consumer's context loses the subscription; its access to the runtime stays, as in Compass."""
        provider = await self._tenant(session, tenant_id, instance.provider_subaccount_id)
        runtime = await SubscriptionRepository(session).runtime_in(provider.id, conditions)
        if runtime is None:
            return False
        consumer = await self._tenant(session, tenant_id, request.subaccount_id)
        with acting_in(session, consumer.id):
            await changes(session).tenant()
            context = await self._context(session, consumer.id, runtime.id, request, keys)
            if context is not None:
                await self._remove(
                    session,
                    consumer.id,
                    LabelledKind.RUNTIME_CONTEXT,
                    context.id,
                    subscription_id,
                    write=self._context_label_writer(session, consumer.id, context.id),
                    delete=partial(runtime_context_service.unregister, session, consumer.id, context.id, caller=caller),
                )
        return True

    async def _context(
        self,
        session: AsyncSession,
        consumer_id: str,
        runtime_id: str,
        request: SubscriptionRequest,
        keys: SubscriptionLabelKeys,
    ) -> RuntimeContext | None:
        """The consumer's context on the runtime for this subaccount and consumer tenant, if subscribed."""
        subaccount = LabelCondition(key=keys.global_subaccount_id, equals=request.subaccount_id, has_equals=True)
        contexts = await SubscriptionRepository(session).contexts_on(consumer_id, runtime_id, subaccount)
        return next((context for context in contexts if context.value == request.consumer_tenant_id), None)

    @staticmethod
    def _context_label_writer(session: AsyncSession, consumer_id: str, context_id: str) -> WriteSubscriptions:
        """Writes the context's ``subscriptions`` label (the caller declared the consumer's tenant change)."""
        kind = LabelledKind.RUNTIME_CONTEXT
        return partial(label_service.set, session, consumer_id, kind, context_id, SUBSCRIPTIONS_LABEL)

    @staticmethod
    async def _subscriptions(
        session: AsyncSession, tenant_id: str, kind: LabelledKind, owner_id: str
    ) -> list[Any] | None:
        label = await LabelRepository(session).get(tenant_id, kind, owner_id, SUBSCRIPTIONS_LABEL)
        if label is None:
            return None
        if not isinstance(label.value, list):
            raise ConflictError(f"the {kind}'s label {SUBSCRIPTIONS_LABEL!r} is not a list: cannot count subscriptions")
        return label.value

    async def _add(
        self,
        session: AsyncSession,
        tenant_id: str,
        kind: LabelledKind,
        owner_id: str,
        subscription_id: str,
        *,
        write: WriteSubscriptions,
    ) -> None:
        """Compass's ``manageSubscriptionsLabelOnSubscribe``: a label made before subscriptions were counted starts
        with the previous subscription's placeholder id."""
        current = await self._subscriptions(session, tenant_id, kind, owner_id)
        if current is None:
            await write([PREVIOUS_SUBSCRIPTION_ID, subscription_id])
        elif subscription_id not in current:
            await write([*current, subscription_id])

    async def _remove(
        self,
        session: AsyncSession,
        tenant_id: str,
        kind: LabelledKind,
        owner_id: str,
        subscription_id: str,
        *,
        write: WriteSubscriptions,
        delete: DeleteSubscribed,
    ) -> None:
        """Compass's ``deleteOnUnsubscribe``: the last subscription (or an uncounted one) deletes the object; an
        unknown subscription id stands for the previous, uncounted one, if the label still holds it."""
        current = await self._subscriptions(session, tenant_id, kind, owner_id)
        if current is None or len(current) <= 1:
            await delete()
            return
        for removed in (subscription_id, PREVIOUS_SUBSCRIPTION_ID):
            if removed in current:
                await write([item for item in current if item != removed])
                return


subscription = SubscriptionService()
