"""Provisioning a service instance is asking the Director, as the runtime, for credentials of the plan's bundle
(``requestBundleInstanceAuthCreation``; pycompass's Director lets a runtime's certificate ask for bundles of the
applications in its formations, and makes the instance auth the runtime's). Deprovisioning deletes that instance
auth (``requestBundleInstanceAuthDeletion``).

Provisioning is asynchronous (``accepts_incomplete=true`` is required, else 422 ``AsyncRequired``): a bundle with a
default instance auth is SUCCEEDED at once (201), any other stays PENDING until its application sets the
credentials (202 and an operation); ``last_operation`` asks the Director each time it is polled, until the instance
auth is SUCCEEDED (``succeeded``) or FAILED (``failed``, with the application's message). Deprovisioning is one
call (200), and forgets the instance's bindings a platform did not delete first. One operation per instance at a
time (a poll that asks the Director, a bind and an unbind included): another request for an instance the broker is
busy with gets 422 ``ConcurrencyError``, another poll the state last known.

The instance is written to disk before the Director is asked, and again with the instance auth's id once it
answered. An instance without that id (the Director's answer was lost: a read timeout after it committed, or the
broker stopped in between) is kept, in progress (202 to the provision request), and its instance auth is found
by the context the broker gave it (``{"namespace", "serviceInstanceID"}``, among the runtime's own instance auths
of the bundle): ``last_operation`` adopts it, or says ``failed`` when the Director has none, and deprovisioning
deletes what it finds. Only a request that cannot have reached the Director (no credentials, no connection)
forgets the instance again (503).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import structlog

from broker.bindings import BindingStore
from broker.catalog import Offering, offerings
from broker.director import Director, DirectorRefused, DirectorUnavailable, InstanceAuth
from broker.errors import OSBError
from broker.instances import Instance, InstanceStore, State
from dataplane.catalog.base import ApplicationMappings, Catalog, CatalogError

log = structlog.get_logger(__name__)

# The Director's conditions, as OSB states with a description.
_STATES: dict[str, State] = {
    "PENDING": "in progress",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "UNUSED": "failed",
}
ANSWER_LOST = "the Director's answer to the request for credentials was lost: the next poll looks for them"
NOT_CREATED = "the Director has no credentials for the instance: deprovision it and provision it again"


class Provisioning:
    def __init__(
        self,
        applications: Catalog,
        mappings: ApplicationMappings,
        store: InstanceStore,
        bindings: BindingStore,
        director: Director,
    ) -> None:
        self.applications, self.mappings, self.store, self.director = applications, mappings, store, director
        self.bindings = bindings
        self._busy: set[str] = set()

    async def provision(
        self, namespace: str, instance_id: str, body: Any, *, accepts_incomplete: bool
    ) -> tuple[int, dict[str, Any]]:
        """The status and body of the answer."""
        if not accepts_incomplete:
            raise OSBError(
                422,
                "AsyncRequired",
                "provisioning waits for the application's credentials: accepts_incomplete=true is required",
            )
        service_id, plan_id, parameters = _provision_request(namespace, body)
        self._not_busy(instance_id)
        existing = self.store.get(instance_id)
        if existing is not None:
            if not existing.same_request(namespace, service_id, plan_id, parameters):
                raise OSBError(409, "Conflict", f"instance {instance_id} exists with other attributes")
            if existing.state == "succeeded":
                return 200, {}
            return 202, {"operation": existing.operation}
        self.offered(namespace, service_id, plan_id)
        instance = Instance(
            instance_id,
            namespace,
            service_id,
            plan_id,
            parameters,
            f"provision-{uuid.uuid4().hex}",
            "in progress",
        )
        self._busy.add(instance_id)
        try:
            await self.store.put(instance)
            auth = await self._request(instance)
            if auth is None:
                instance = instance.settled("in progress", ANSWER_LOST)
            else:
                instance = _settled(replace(instance, auth_id=auth.id), auth)
            await self.store.put(instance)
        finally:
            self._busy.discard(instance_id)
        log.info(
            "instance_provisioned",
            instance=instance_id,
            namespace=namespace,
            auth=instance.auth_id,
            state=instance.state,
        )
        if instance.state == "succeeded":
            return 201, {}
        return 202, {"operation": instance.operation}

    async def last_operation(self, namespace: str, instance_id: str, operation: str | None) -> dict[str, Any]:
        instance = self.instance(namespace, instance_id, 404, "NotFound")
        if operation is not None and operation != instance.operation:
            raise OSBError(400, "UnknownOperation", f"instance {instance_id} has no operation {operation!r}")
        if instance.state == "in progress" and instance_id not in self._busy:
            # Busy while the Director is asked: a deprovision meanwhile would otherwise be undone by the write.
            self._busy.add(instance_id)
            try:
                instance = await self._poll(instance)
            finally:
                self._busy.discard(instance_id)
        answer: dict[str, Any] = {"state": instance.state}
        if instance.description:
            answer["description"] = instance.description
        return answer

    async def deprovision(
        self, namespace: str, instance_id: str, service_id: str | None, plan_id: str | None
    ) -> dict[str, Any]:
        if not service_id or not plan_id:
            raise OSBError(400, "MalformedRequest", "service_id and plan_id are required query parameters")
        instance = self.instance(namespace, instance_id, 410, "Gone")
        self._not_busy(instance_id)
        if (instance.service_id, instance.plan_id) != (service_id, plan_id):
            raise OSBError(400, "MalformedRequest", f"instance {instance_id} is of another service or plan")
        with self.exclusive(instance_id):
            try:
                auth_ids = (
                    [instance.auth_id]
                    if instance.auth_id is not None
                    else [auth.id for auth in await self._found(instance)]
                )
                for auth_id in auth_ids:
                    await self.director.delete_instance_auth(auth_id)
            except DirectorRefused as refusal:
                raise OSBError(502, "DeprovisioningRefused", f"the Director refused: {refusal}") from None
            except DirectorUnavailable as error:
                raise OSBError(503, "DirectorUnavailable", str(error)) from None
            # Bindings a platform did not delete first: their credentials are gone with the instance auth.
            for binding in self.bindings.where(instance_id=instance_id):
                await self.bindings.remove(binding.id)
            await self.store.remove(instance_id)
        log.info("instance_deprovisioned", instance=instance_id, namespace=namespace, auth=auth_ids)
        return {}

    def _not_busy(self, instance_id: str) -> None:
        if instance_id in self._busy:
            raise OSBError(
                422, "ConcurrencyError", f"another operation on instance {instance_id} is in progress"
            )

    def instance(self, namespace: str, instance_id: str, status: int, code: str) -> Instance:
        instance = self.store.get(instance_id)
        if instance is None or instance.namespace != namespace:
            raise OSBError(status, code, f"there is no instance {instance_id} in namespace {namespace}")
        return instance

    def offered(self, namespace: str, service_id: str, plan_id: str) -> Offering:
        """The namespace's offering with that plan (400 when there is none, 503 when the catalog cannot tell)."""
        try:
            offered = offerings(self.applications, self.mappings, namespace)
        except CatalogError as error:
            raise OSBError(503, "CatalogUnavailable", f"the catalog cannot be read: {error}") from None
        offering = next((item for item in offered if item.id == service_id), None)
        if offering is None:
            raise OSBError(
                400, "UnknownService", f"service {service_id} is not offered in namespace {namespace}"
            )
        if offering.plan(plan_id) is None:
            raise OSBError(
                400, "UnknownPlan", f"service {service_id} has no plan {plan_id} in namespace {namespace}"
            )
        return offering

    @contextmanager
    def exclusive(self, instance_id: str) -> Iterator[None]:
        """The one operation on the instance while it runs (422 ``ConcurrencyError`` when another is)."""
        self._not_busy(instance_id)
        self._busy.add(instance_id)
        try:
            yield
        finally:
            self._busy.discard(instance_id)

    async def _request(self, instance: Instance) -> InstanceAuth | None:
        """The Director's instance auth for the instance, or None when its answer was lost (the Director may have
        made one); the instance forgotten again when the Director refused or was not reached."""
        try:
            return await self.director.request_instance_auth(
                instance.plan_id, context=_context(instance), input_params=instance.parameters
            )
        except DirectorRefused as refusal:
            await self.store.remove(instance.id)
            raise OSBError(400, "ProvisioningRefused", f"the Director refused: {refusal}") from None
        except DirectorUnavailable as error:
            if error.maybe_done:
                log.warning("instance_auth_answer_lost", instance=instance.id, reason=str(error))
                return None
            await self.store.remove(instance.id)
            raise OSBError(503, "DirectorUnavailable", str(error)) from None

    async def _found(self, instance: Instance) -> list[InstanceAuth]:
        """The runtime's instance auths made for the instance (the answer to the request was lost)."""
        return await self.director.instance_auths_of(
            instance.service_id, instance.plan_id, _context(instance)
        )

    async def _poll(self, instance: Instance) -> Instance:
        """The instance as the Director's instance auth says now (saved once settled or adopted)."""
        try:
            if instance.auth_id is None:
                found = await self._found(instance)
                auth = found[0] if found else None
                if auth is not None:
                    log.info("instance_auth_adopted", instance=instance.id, auth=auth.id)
                    instance = replace(instance, auth_id=auth.id)
                    await self.store.put(instance)
            else:
                auth = await self.director.instance_auth(instance.auth_id)
        except (DirectorUnavailable, DirectorRefused) as error:
            return instance.settled("in progress", f"the Director cannot be asked now: {error}")
        if auth is None:
            gone = (
                "the Director no longer has the instance's credentials" if instance.auth_id else NOT_CREATED
            )
            settled = instance.settled("failed", gone)
        else:
            settled = _settled(instance, auth)
        if settled.state != "in progress":
            await self.store.put(settled)
        return settled


def _context(instance: Instance) -> dict[str, str]:
    """The context the broker gives the instance's instance auth, by which a lost one is found again."""
    return {"namespace": instance.namespace, "serviceInstanceID": instance.id}


def _settled(instance: Instance, auth: InstanceAuth) -> Instance:
    state = _STATES.get(auth.condition, "failed")
    return instance.settled(state, auth.message if state != "succeeded" else "")


def _provision_request(namespace: str, body: Any) -> tuple[str, str, Any]:
    """service_id, plan_id and parameters of a provision request's body (400 when it is not one)."""
    service_id, plan_id = request_ids(namespace, body)
    parameters = body.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise OSBError(400, "MalformedRequest", "parameters must be a JSON object")
    return service_id, plan_id, parameters


def request_ids(namespace: str, body: Any) -> tuple[str, str]:
    """service_id and plan_id of a provision or bind request's body, which must be a JSON object whose
    ``context.namespace``, if any, is this broker's (400 otherwise)."""
    if not isinstance(body, dict):
        raise OSBError(400, "MalformedRequest", "the body must be a JSON object")
    service_id, plan_id = body.get("service_id"), body.get("plan_id")
    if not isinstance(service_id, str) or not service_id or not isinstance(plan_id, str) or not plan_id:
        raise OSBError(400, "MalformedRequest", "service_id and plan_id are required")
    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        raise OSBError(400, "MalformedRequest", "context must be a JSON object")
    given = (context or {}).get("namespace")
    if given is not None and given != namespace:
        raise OSBError(
            400, "NamespaceMismatch", f"context.namespace {given!r} is not this broker's {namespace!r}"
        )
    return service_id, plan_id
