"""The Kubernetes sink: the real API through lightkube's AsyncClient (httpx underneath, as everywhere here).

``Application`` and ``CompassConnection`` are cluster-scoped custom resources (CRDs in deploy/crds/), so is the
watcher's ``ValidatingWebhookConfiguration`` (``agent.watchers``); Secrets live in one namespace (but the few
named in ``secrets_elsewhere``: the CA Secret). A new resource is created with POST (a 409 means someone
created it meanwhile: it is then treated as existing); an existing one is updated with server-side apply under
the field manager ``compass-runtime-agent``, forced, since the agent alone owns what it writes. Before an update
or a delete of an Application, a Secret or the webhook configuration the sink reads the resource and refuses
(``ResourceConflict``) if it lacks the ownership label: what the agent did not create, it never touches. A Secret that names its Application in the
``app`` label gets an ownerReference to it, so that Kubernetes removes the Secret with the Application.

``list_owned`` lists a kind by the ownership label once, then watches it from the list's resourceVersion and
answers from what the list and the watch keep in memory, updated by the sink's own writes at once (their
answers) and by everyone else's as their watch events arrive (milliseconds; a sync that reads just before
still writes safely: every write reads the resource first). lightkube's watch reconnects from the last
version it saw when the server closes the stream; a watch that fails (410 Gone once the history no longer
reaches back that far, a broken connection, an error) leaves the kind to be listed again by the next
``list_owned``, which then watches again: the agent's period paces the retries. A connection that dies
silently raises nothing (lightkube's watch has no read timeout), so each watch asks the server to end it after
``watch_timeout`` seconds (``timeoutSeconds``; lightkube then watches again), and a kind that neither was listed
nor sent an event for twice that long is listed again, as client-go's reflector bounds a watch.

A write's answer or a watch event never replaces what the cache holds at a newer resourceVersion (compared as
integers when both are, as etcd's are), and a delete by the sink removes only the version it deleted: another
writer's newer change, or a re-creation, that the watch delivered meanwhile stays.

Each write is one or two HTTP calls and durable once the API server has answered, so a ``batch()`` is the
sink itself, with ``apply_concurrency`` (default ``APPLY_CONCURRENCY``) of its writes under way at once: the
sync then waits on round trips side by side, while the API server's own limits (its max-mutating-requests-inflight
defaults to 200, shared by every client) see a handful of requests from the agent.

Not run against a real cluster here: the tests use testing/kube.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import structlog
from lightkube import ApiError, AsyncClient, ConfigError
from lightkube.core.client import LabelSelector
from lightkube.generic_resource import create_global_resource
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from agent.errors import ResourceConflict, SinkError
from agent.kubernetes_calls import delete_if_present, get_or_none, reason
from agent.sinks.base import (
    APPLICATION_API_VERSION,
    APPLICATION_KIND,
    COMPASS_CONNECTION_KIND,
    MANAGED_KINDS,
    OWNERSHIP_LABEL,
    SECRET_KIND,
    WEBHOOK_CONFIGURATION_KIND,
    Batch,
    Manifest,
    describe,
    is_owned,
    labels_of,
)
from dataplane.catalog.kubernetes import kube_config

log = structlog.get_logger("agent.sink.kubernetes")

FIELD_MANAGER = "compass-runtime-agent"

Application = create_global_resource(
    "applicationconnector.kyma-project.io", "v1alpha1", APPLICATION_KIND, "applications"
)
CompassConnection = create_global_resource(
    "compass.kyma-project.io", "v1alpha1", COMPASS_CONNECTION_KIND, "compassconnections"
)
_RESOURCES: dict[str, Any] = {
    APPLICATION_KIND: Application,
    COMPASS_CONNECTION_KIND: CompassConnection,
    SECRET_KIND: Secret,
    WEBHOOK_CONFIGURATION_KIND: ValidatingWebhookConfiguration,
}
# Set by the API server; an apply must not send them (managedFields there is an error).
_SERVER_METADATA = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "selfLink")
_OWNED_SELECTOR: LabelSelector = {OWNERSHIP_LABEL[0]: OWNERSHIP_LABEL[1]}
DEFAULT_WATCH_TIMEOUT = 300  # seconds; client-go's reflector asks for 5 to 10 minutes
APPLY_CONCURRENCY = 8  # a batch's requests in flight at once (see the module's docstring)


@dataclass
class _Watched:
    """One kind's owned resources (name -> manifest) in the listed namespace (None: cluster-scoped), as the
    last list, the watch since and the sink's own writes left them; no longer ``current`` once the watch
    has ended. ``heard`` is when the list or the last watch event arrived (the sink's clock); ``versions``
    the newest resourceVersion seen per name, deletions included."""

    namespace: str | None
    owned: dict[str, Manifest]
    heard: float
    versions: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    current: bool = True

    def record(self, manifest: Manifest, *, deleted: bool = False) -> None:
        """A resource's new state: a watch event, or the answer to the sink's own write; ignored when the
        cache already holds that version or a newer one."""
        metadata = manifest["metadata"]
        if metadata.get("namespace") != self.namespace:
            return  # a Secret kept elsewhere: read at each list_owned, not watched
        name, version = str(metadata.get("name")), metadata.get("resourceVersion")
        known = self.versions.get(name)
        if version is not None and known is not None and _at_most(str(version), known):
            return
        if version is not None:
            self.versions[name] = str(version)
        if deleted or not is_owned(manifest):
            self.owned.pop(name, None)
        else:
            self.owned[name] = manifest

    def forget(self, deleted: Manifest) -> None:
        """The sink deleted ``deleted`` (as it read it just before): dropped unless the cache holds a newer
        version (re-created or changed since, as the watch told)."""
        metadata = deleted["metadata"]
        if metadata.get("namespace") != self.namespace:
            return  # a Secret of the same name kept elsewhere: not this one
        name, version = str(metadata.get("name")), metadata.get("resourceVersion")
        if version is None:
            return
        cached = self.owned.get(name)
        if cached is not None and not _at_most(str(cached["metadata"].get("resourceVersion")), str(version)):
            return
        self.owned.pop(name, None)
        known = self.versions.get(name)
        if known is None or not _at_most(str(version), known):
            self.versions[name] = str(version)  # a late event of the deleted version is not taken back


class KubernetesSink:
    def __init__(
        self,
        client: AsyncClient,
        *,
        secret_namespace: str,
        secrets_elsewhere: Mapping[str, str] | None = None,
        watch_timeout: int = DEFAULT_WATCH_TIMEOUT,
        apply_concurrency: int = APPLY_CONCURRENCY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._watch_timeout = watch_timeout
        self.concurrency = apply_concurrency
        self._clock = clock
        self.secret_namespace = secret_namespace
        # Secrets the agent keeps outside secret_namespace, name -> namespace (the CA Secret, by default in
        # istio-system): read, written, deleted and listed there.
        self.secrets_elsewhere = dict(secrets_elsewhere or {})
        self._uids: dict[str, str] = {}  # Application name -> uid, for the Secrets' ownerReferences
        self._watched: dict[str, _Watched] = {}

    @classmethod
    def from_config(
        cls,
        *,
        kubeconfig: Path | None = None,
        context: str | None = None,
        secret_namespace: str,
        secrets_elsewhere: Mapping[str, str] | None = None,
        watch_timeout: int = DEFAULT_WATCH_TIMEOUT,
    ) -> KubernetesSink:
        """The configuration ``kube_config`` finds."""
        try:
            single = kube_config(kubeconfig, context)
        except ConfigError as exc:
            raise SinkError(f"no usable Kubernetes configuration: {exc}") from exc
        client = AsyncClient(config=single, field_manager=FIELD_MANAGER)
        return cls(
            client,
            secret_namespace=secret_namespace,
            secrets_elsewhere=secrets_elsewhere,
            watch_timeout=watch_timeout,
        )

    async def aclose(self) -> None:
        for watched in self._watched.values():
            await _stop(watched)
        self._watched.clear()
        await self._client.close()

    # --- the Sink protocol ----------------------------------------------------------------------------------

    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        watched = self._watched.get(kind)
        if watched is None or not watched.current or self._silent(watched):
            watched = await self._list_and_watch(kind)
        owned = dict(watched.owned)
        if kind == SECRET_KIND:
            for name, namespace in self.secrets_elsewhere.items():
                found = await self.get(kind, name) if namespace != self.secret_namespace else None
                if found is not None and is_owned(found):
                    owned[name] = found
        if kind == APPLICATION_KIND:
            self._uids = {name: str(item["metadata"].get("uid")) for name, item in owned.items()}
        return owned

    async def get(self, kind: str, name: str) -> Manifest | None:
        item = await get_or_none(
            self._client, _resource(kind), name, self._namespace(kind, name=name), f"{kind}/{name}"
        )
        return None if item is None else _to_manifest(item, kind)

    async def apply(self, manifest: Manifest) -> None:
        kind = str(manifest.get("kind"))
        resource = _resource(kind)
        body = _without_server_metadata(manifest)
        name = str(body["metadata"].get("name"))
        namespace = self._namespace(kind, body)
        if namespace is not None:
            body["metadata"]["namespace"] = namespace
        existing = await self.get(kind, name)
        if existing is None:
            await self._add_owner(body)
            try:
                # The namespace is in the body's metadata, where lightkube takes it from.
                created = await self._client.create(resource.from_dict(body))
            except ApiError as exc:
                if exc.status.code != httpx.codes.CONFLICT:
                    raise SinkError(f"cannot create {describe(body)}: {reason(exc)}") from exc
                existing = await self.get(kind, name)  # created meanwhile: update it, if it is ours
                if existing is None:
                    raise SinkError(f"cannot create {describe(body)}: {reason(exc)}") from exc
            except httpx.HTTPError as exc:
                raise SinkError(f"cannot create {describe(body)}: {reason(exc)}") from exc
            else:
                self._remember(kind, created)
                return
        if kind in MANAGED_KINDS and not is_owned(existing):
            raise ResourceConflict(f"{describe(body)} exists and is not managed by the agent")
        await self._add_owner(body)
        try:
            patched = await self._client.patch(
                resource,
                name,
                body,
                namespace=namespace,
                patch_type=PatchType.APPLY,
                field_manager=FIELD_MANAGER,
                force=True,
            )
        except (ApiError, httpx.HTTPError) as exc:
            raise SinkError(f"cannot update {describe(body)}: {reason(exc)}") from exc
        self._remember(kind, patched)

    async def delete(self, kind: str, name: str) -> None:
        existing = await self.get(kind, name)
        if existing is None:
            return
        if kind in MANAGED_KINDS and not is_owned(existing):
            raise ResourceConflict(f"{kind}/{name} is not managed by the agent")
        await delete_if_present(
            self._client, _resource(kind), name, self._namespace(kind, name=name), f"{kind}/{name}"
        )
        if kind == APPLICATION_KIND:
            self._uids.pop(name, None)
        if kind in self._watched:
            self._watched[kind].forget(existing)

    def batch(self) -> contextlib.AbstractAsyncContextManager[Batch]:
        return contextlib.nullcontext(self)

    # --- the cache of owned resources -----------------------------------------------------------------------

    async def _list_and_watch(self, kind: str) -> _Watched:
        resource, namespace = _resource(kind), self._namespace(kind)
        previous = self._watched.pop(kind, None)
        if previous is not None:
            await _stop(previous)
        listing = self._client.list(resource, namespace=namespace, labels=_OWNED_SELECTOR)
        owned: dict[str, Manifest] = {}
        try:
            async for item in listing:
                manifest = _to_manifest(item, kind)
                if is_owned(manifest):
                    owned[manifest["metadata"]["name"]] = manifest
        except (ApiError, httpx.HTTPError) as exc:
            raise SinkError(f"cannot list {kind} resources: {reason(exc)}") from exc
        versions = {name: str(item["metadata"].get("resourceVersion")) for name, item in owned.items()}
        watched = _Watched(namespace, owned, heard=self._clock(), versions=versions)
        watched.task = asyncio.create_task(
            self._watch(kind, watched, listing.resourceVersion), name=f"sink-watch-{kind}"
        )
        self._watched[kind] = watched
        return watched

    async def _watch(self, kind: str, watched: _Watched, version: str) -> None:
        changes = self._client.watch(
            _resource(kind),
            namespace=watched.namespace,
            labels=_OWNED_SELECTOR,
            resource_version=version,
            server_timeout=self._watch_timeout,
        )
        try:
            async for change, item in changes:
                watched.heard = self._clock()
                watched.record(_to_manifest(item, kind), deleted=change == "DELETED")
        except (ApiError, httpx.HTTPError) as exc:
            log.info("sink_watch_ended", kind=kind, reason=reason(exc))
        except Exception:  # whatever ended it, the next list_owned lists again
            log.exception("sink_watch_failed", kind=kind)
        finally:
            watched.current = False

    def _silent(self, watched: _Watched) -> bool:
        """Nothing heard for two watch timeouts: the server would have ended the watch, so its connection may
        be dead without an error (lightkube reconnects after a clean end, which sends no event)."""
        return self._clock() - watched.heard > 2 * self._watch_timeout

    # --- helpers --------------------------------------------------------------------------------------------

    def _namespace(self, kind: str, manifest: Manifest | None = None, *, name: str = "") -> str | None:
        """A Secret's: the manifest's own, else where the agent keeps a Secret of that name."""
        if kind != SECRET_KIND:
            return None
        metadata = (manifest or {}).get("metadata") or {}
        if metadata.get("namespace"):
            return str(metadata["namespace"])
        return self.secrets_elsewhere.get(name or str(metadata.get("name")), self.secret_namespace)

    def _remember(self, kind: str, item: Any) -> None:
        manifest = _to_manifest(item, kind)
        if kind in self._watched:
            self._watched[kind].record(manifest)
        if kind == APPLICATION_KIND:
            metadata = manifest["metadata"]
            if metadata.get("uid"):
                self._uids[str(metadata["name"])] = str(metadata["uid"])

    async def _add_owner(self, body: Manifest) -> None:
        """An ownerReference to the Application named by an owned Secret's ``app`` label, if it exists."""
        if body.get("kind") != SECRET_KIND or not is_owned(body):
            return
        application = labels_of(body).get("app")
        if not application:
            return
        uid = self._uids.get(str(application))
        if uid is None:
            owner = await self.get(APPLICATION_KIND, str(application))
            uid = (owner or {}).get("metadata", {}).get("uid")
        if not uid:
            log.warning("secret_owner_missing", secret=body["metadata"]["name"], application=application)
            return
        body["metadata"]["ownerReferences"] = [
            {"apiVersion": APPLICATION_API_VERSION, "kind": APPLICATION_KIND, "name": application, "uid": uid}
        ]


async def _stop(watched: _Watched) -> None:
    if watched.task is not None:
        watched.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watched.task


def _at_most(version: str, bound: str) -> bool:
    """``version`` is ``bound`` or, both being integers, older. resourceVersions are opaque in the API's
    contract, but etcd's are increasing integers; other ones compare only as equal or not."""
    if version == bound:
        return True
    try:
        return int(version) < int(bound)
    except ValueError:
        return False


def _resource(kind: str) -> Any:
    try:
        return _RESOURCES[kind]
    except KeyError:
        raise SinkError(f"the Kubernetes sink does not handle kind {kind}") from None


class _Serializable(Protocol):
    """A lightkube resource instance (generated models and generic resources alike)."""

    def to_dict(self) -> dict[str, Any]: ...


def _to_manifest(item: _Serializable | dict[str, Any], kind: str) -> Manifest:
    manifest = dict(item) if isinstance(item, dict) else item.to_dict()
    manifest.setdefault("apiVersion", _RESOURCES[kind]._api_info.resource.api_version)
    manifest.setdefault("kind", kind)
    manifest.setdefault("metadata", {})
    return manifest


def _without_server_metadata(manifest: Manifest) -> Manifest:
    body = copy.deepcopy(manifest)
    metadata = body.setdefault("metadata", {})
    for key in _SERVER_METADATA:
        metadata.pop(key, None)
    return body
