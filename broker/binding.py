"""Binding a service instance hands a workload the instance's credentials and the URLs of the bundle's APIs and
events (``broker.credentials``, Kyma's names); unbinding forgets the binding. Both are synchronous.

A bind reads the instance auth from the Director at that moment (``bundleInstanceAuth`` with its ``auth``, the
runtime's certificate), so a binding made after the application renewed the credentials gets the new ones; the
credentials handed out are kept with the binding (0600, under ``BROKER_STATE_DIR``), and a repeated identical bind
or a fetch (``bindings_retrievable``) answers them again. An unbind leaves the instance auth alone: it belongs to
the instance, which other bindings may share (deprovisioning gives it back).

Refusals, by OSB v2.16 (a bind's answers are 200, 201, 400, 409, 422): a body without the ids, with
``parameters`` (Kyma's broker takes none either) or of another namespace, an instance the broker does not have in
the namespace (``UnknownInstance``; the spec has no 404 for a bind), an instance of another service or plan, a
service or plan no longer offered, a failed instance, and an instance auth that is no longer SUCCEEDED (the
application revoked it) are 400; the same binding id with other attributes is 409; an instance whose provisioning
is in progress, or that another bind, unbind or deprovision is busy with, and a binding id another bind (of any
instance) is binding, are 422 ``ConcurrencyError``. A fetch of
an unknown binding is 404, an unbind 410 ``Gone``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from broker.bindings import Binding, BindingStore
from broker.credentials import binding_credentials
from broker.director import DirectorRefused, DirectorUnavailable
from broker.errors import OSBError
from broker.instances import Instance
from broker.provisioning import Provisioning, request_ids

log = structlog.get_logger(__name__)


class Bindings:
    def __init__(self, provisioning: Provisioning, store: BindingStore, *, events_url: str) -> None:
        self.provisioning, self.store, self.events_url = provisioning, store, events_url
        self._being_bound: set[str] = set()  # binding ids being bound

    async def bind(
        self, namespace: str, instance_id: str, binding_id: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """The status and body of the answer."""
        service_id, plan_id = request_ids(namespace, body)
        if body.get("parameters"):
            raise OSBError(400, "MalformedRequest", "a binding takes no parameters")
        request = (namespace, instance_id, service_id, plan_id)
        existing = self._existing(binding_id, request)
        if existing is not None:
            return 200, {"credentials": existing.credentials}
        instance = self._usable(namespace, instance_id, service_id, plan_id)
        with self.provisioning.exclusive(instance_id), self._reserved(binding_id):
            credentials = await self._credentials(instance)
            await self.store.put(
                Binding(binding_id, namespace, instance_id, service_id, plan_id, credentials)
            )
        log.info("instance_bound", instance=instance_id, binding=binding_id, namespace=namespace)
        return 201, {"credentials": credentials}

    def fetch(
        self, namespace: str, instance_id: str, binding_id: str, service_id: str | None, plan_id: str | None
    ) -> dict[str, Any]:
        binding = self._binding(namespace, instance_id, binding_id, 404, "NotFound")
        if service_id not in (None, binding.service_id) or plan_id not in (None, binding.plan_id):
            raise OSBError(404, "NotFound", f"binding {binding_id} is of another service or plan")
        return {"credentials": binding.credentials}

    async def unbind(
        self, namespace: str, instance_id: str, binding_id: str, service_id: str | None, plan_id: str | None
    ) -> dict[str, Any]:
        if not service_id or not plan_id:
            raise OSBError(400, "MalformedRequest", "service_id and plan_id are required query parameters")
        binding = self._binding(namespace, instance_id, binding_id, 410, "Gone")
        if (binding.service_id, binding.plan_id) != (service_id, plan_id):
            raise OSBError(400, "MalformedRequest", f"binding {binding_id} is of another service or plan")
        with self.provisioning.exclusive(instance_id):
            await self.store.remove(binding_id)
        log.info("instance_unbound", instance=instance_id, binding=binding_id, namespace=namespace)
        return {}

    @contextmanager
    def _reserved(self, binding_id: str) -> Iterator[None]:
        """The binding id held from before the first await until it is stored: a bind of the same id on another
        instance meanwhile is 422 ``ConcurrencyError`` (the instance's own lock does not cover it), not a second
        201."""
        if binding_id in self._being_bound:
            raise OSBError(422, "ConcurrencyError", f"another bind of binding {binding_id} is in progress")
        self._being_bound.add(binding_id)
        try:
            yield
        finally:
            self._being_bound.discard(binding_id)

    def _existing(self, binding_id: str, request: tuple[str, str, str, str]) -> Binding | None:
        """The binding of that id when the request is identical to the one that made it (409 when it is not)."""
        existing = self.store.get(binding_id)
        if existing is not None and not existing.same_request(*request):
            raise OSBError(409, "Conflict", f"binding {binding_id} exists with other attributes")
        return existing

    def _usable(self, namespace: str, instance_id: str, service_id: str, plan_id: str) -> Instance:
        instance = self.provisioning.instance(namespace, instance_id, 400, "UnknownInstance")
        if (instance.service_id, instance.plan_id) != (service_id, plan_id):
            raise OSBError(400, "MalformedRequest", f"instance {instance_id} is of another service or plan")
        self.provisioning.offered(namespace, service_id, plan_id)
        if instance.state == "in progress":
            raise OSBError(
                422,
                "ConcurrencyError",
                f"instance {instance_id} is being provisioned: bind once last_operation says succeeded",
            )
        if instance.state == "failed":
            raise OSBError(400, "InstanceFailed", f"instance {instance_id} failed: {instance.description}")
        return instance

    async def _credentials(self, instance: Instance) -> dict[str, Any]:
        """What the binding hands out, with the instance auth as the Director has it now."""
        if instance.auth_id is None:  # a succeeded instance always has one
            raise OSBError(
                400, "InstanceFailed", f"instance {instance.id} has no credentials at the Director"
            )
        try:
            auth = await self.provisioning.director.instance_credentials(instance.auth_id)
        except DirectorRefused as refusal:
            raise OSBError(502, "BindingRefused", f"the Director refused: {refusal}") from None
        except DirectorUnavailable as error:
            raise OSBError(503, "DirectorUnavailable", str(error)) from None
        if auth is None or auth.condition != "SUCCEEDED" or auth.auth is None:
            state = "gone" if auth is None else f"{auth.condition}: {auth.message}"
            raise OSBError(
                400,
                "CredentialsUnavailable",
                f"the Director has no credentials for instance {instance.id} ({state})",
            )
        # Read after the Director answered: the catalog may have changed meanwhile.
        offering = self.provisioning.offered(instance.namespace, instance.service_id, instance.plan_id)
        service = next(service for service in offering.application.services if service.id == instance.plan_id)
        return binding_credentials(offering.application, service, auth.auth, events_url=self.events_url)

    def _binding(self, namespace: str, instance_id: str, binding_id: str, status: int, code: str) -> Binding:
        binding = self.store.get(binding_id)
        if binding is None or (binding.namespace, binding.instance_id) != (namespace, instance_id):
            raise OSBError(
                status, code, f"instance {instance_id} in namespace {namespace} has no binding {binding_id}"
            )
        return binding
