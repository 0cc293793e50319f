"""A stand-in for the Kubernetes API server, over real HTTP on 127.0.0.1, for the agent's Kubernetes sink, the
data plane's Kubernetes catalog and the event ingress's Kubernetes Subscriptions.

It implements the few REST semantics those rely on, for Applications and CompassConnections (cluster-scoped
custom resources), ValidatingWebhookConfigurations (cluster-scoped), Secrets, Subscriptions, ApplicationMappings
and TokenRequests (namespaced):

- GET one (404 when missing), LIST with ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``) and the
  collection's ``metadata.resourceVersion``; LIST and WATCH of a namespaced kind across all namespaces at
  the collection path without a namespace (``/apis/<group>/<version>/<plural>``, ``/api/v1/<plural>``), as
  the real server serves them (nothing else there: 405);
- WATCH (``?watch=true`` or ``watch=1``): newline-delimited JSON events ``{"type": "ADDED" | "MODIFIED" |
  "DELETED", "object": ...}`` of every change after ``resourceVersion`` (without one, or with "0": an ADDED per
  existing object first), for as long as the client stays or ``timeoutSeconds``; with a ``labelSelector``, as
  the real server's watch cache does, an object that starts matching is ADDED and one that stops matching is
  DELETED (its last matching content, at the change's resourceVersion); a ``resourceVersion`` older than the
  history kept (``compact()``) gets the server's answer, one ``ERROR`` event with a 410 Status;
- POST create (409 when the name exists), PUT replace with ``metadata.resourceVersion`` (409 when it is
  stale);
- PATCH with ``application/apply-patch+yaml`` (server-side apply as one field manager sees it: creates, or
  replaces the content and merges labels and annotations; ``fieldManager`` required) or
  ``application/merge-patch+json``;
- DELETE (404 when missing);
- the ``/status`` subresource of a kind that has one (Subscriptions and TokenRequests, as their CRDs): GET, and PUT or PATCH that
  change the ``status`` and nothing else;
- validating admission webhooks, as the API server calls them (testing/kube_admission.py): every write of an
  object, or of its status, that a stored ValidatingWebhookConfiguration's rules and object selector match is
  first POSTed as an AdmissionReview to the webhook's service over verified HTTPS, the write refused or let
  through as the webhook and its ``failurePolicy`` say; ``services`` says where each service listens, and
  ``admission_calls()`` what was called; ``?dryRun=All`` is admitted, then answered without being stored;
- ``metadata.uid``, ``creationTimestamp`` and a ``resourceVersion`` bumped on every change (and only then),
  one counter for all kinds as in etcd; ``stringData`` folded into ``data`` as the real server does.

Every request is recorded (``requests``), so a test can count writes, and ``most_in_flight`` is the most requests
(watches aside) handled at once, each taking at least ``latency`` seconds as across a network; ``fail_next`` makes the next matching
request answer with an error, ``before_next`` runs an action (another writer) just before it is handled;
``end_watches`` closes the open watches as the server does when their time is up, ``stall_watches`` makes them
fall silent as a dead connection does (no event, no end, not even at ``timeoutSeconds``). No real cluster is used
anywhere in these tests (none can run here).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from testing.kube_admission import WEBHOOK_CONFIGURATION, Admission, AdmissionCall, Target
from testing.threaded import ThreadedServer


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    namespaced: bool
    status: bool = False  # has the /status subresource (as its CRD in deploy/crds/ says)


KINDS: dict[tuple[str, str, str], Kind] = {
    ("applicationconnector.kyma-project.io", "v1alpha1", "applications"): Kind(
        "Application", "applicationconnector.kyma-project.io/v1alpha1", False
    ),
    ("applicationconnector.kyma-project.io", "v1alpha1", "applicationmappings"): Kind(
        "ApplicationMapping", "applicationconnector.kyma-project.io/v1alpha1", True
    ),
    ("applicationconnector.kyma-project.io", "v1alpha1", "tokenrequests"): Kind(
        "TokenRequest", "applicationconnector.kyma-project.io/v1alpha1", True, status=True
    ),
    ("compass.kyma-project.io", "v1alpha1", "compassconnections"): Kind(
        "CompassConnection", "compass.kyma-project.io/v1alpha1", False
    ),
    ("", "v1", "secrets"): Kind("Secret", "v1", True),
    ("eventing.kyma-project.io", "v1alpha2", "subscriptions"): Kind(
        "Subscription", "eventing.kyma-project.io/v1alpha2", True, status=True
    ),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"): Kind(
        WEBHOOK_CONFIGURATION, "admissionregistration.k8s.io/v1", False
    ),
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"

Key = tuple[str, str | None, str]  # kind, namespace (None: cluster-scoped), name


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    content_type: str

    @property
    def watching(self) -> bool:
        return watching(self.query)


def watching(query: str) -> bool:
    return any(part in {"watch=true", "watch=1"} for part in query.split("&"))


@dataclass(frozen=True)
class Change:
    """One entry of the watch history: what a watch from an older resourceVersion is sent."""

    version: int
    key: Key
    type: str  # ADDED, MODIFIED, DELETED
    object: dict[str, Any]
    previous: dict[str, Any] | None = None  # the object before a MODIFIED change

    def seen_by(self, chosen: _Selection) -> tuple[str, dict[str, Any]] | None:
        """The event a watch of ``chosen`` is sent for this change, if any."""
        if self.type == "DELETED":
            return ("DELETED", self.object) if chosen.includes(self.key, self.object) else None
        previous = self.previous
        before = previous is not None and chosen.includes(self.key, previous)
        if chosen.includes(self.key, self.object):
            return ("MODIFIED" if before else "ADDED"), self.object
        if previous is None or not before:
            return None
        gone = copy.deepcopy(previous)
        gone["metadata"]["resourceVersion"] = self.object["metadata"]["resourceVersion"]
        return "DELETED", gone


@dataclass
class _Watcher:
    """An open watch, woken from whichever thread made a change."""

    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    stalled: bool = False

    def notify(self) -> None:
        self.loop.call_soon_threadsafe(self.wake.set)


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def status(code: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(status_body(code, reason, message), status_code=code)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeKubeApi:
    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.failures: list[tuple[str, str, int]] = []
        self.hooks: list[tuple[str, str, Callable[[], object]]] = []
        self.history: list[Change] = []
        self._resource_version = 0
        self._compacted = 0  # a watch from an older resourceVersion is answered 410
        self._stalling = False  # new watches start stalled (stall_watches)
        self._watchers: list[_Watcher] = []
        self.latency = 0.0
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._served: ThreadedServer | None = None
        self.admission = Admission()
        many, one, sub = ["GET", "POST"], ["GET", "PUT", "PATCH", "DELETE"], ["GET", "PUT", "PATCH"]
        status_routes = [
            Route("/apis/{group}/{version}/{plural}/{name}/status", self._status_item, methods=sub),
            Route("/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/status", self._status_item, methods=sub),
            Route("/api/{version}/namespaces/{namespace}/{plural}/{name}/status", self._status_item, methods=sub),
        ]
        routes = [
            *status_routes,
            Route("/apis/{group}/{version}/{plural}", self._collection, methods=many),
            Route("/apis/{group}/{version}/{plural}/{name}", self._item, methods=one),
            Route("/apis/{group}/{version}/namespaces/{namespace}/{plural}", self._collection, methods=many),
            Route("/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}", self._item, methods=one),
            Route("/api/{version}/{plural}", self._collection, methods=many),
            Route("/api/{version}/namespaces/{namespace}/{plural}", self._collection, methods=many),
            Route("/api/{version}/namespaces/{namespace}/{plural}/{name}", self._item, methods=one),
        ]
        self._routes = Starlette(routes=routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The API, counting the requests under way (a watch stays open: not counted)."""
        counted = scope["type"] == "http" and not watching(scope["query_string"].decode())
        if counted:
            with self._lock:
                self._in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            if counted and self.latency:
                await asyncio.sleep(self.latency)
            await self._routes(scope, receive, send)
        finally:
            if counted:
                with self._lock:
                    self._in_flight -= 1

    # --- running it -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._served is not None
        return f"http://127.0.0.1:{self._served.port}"

    def start(self) -> FakeKubeApi:
        self._served = ThreadedServer(self.app, interface="asgi3").start()  # a bound method: say so
        return self

    def stop(self) -> None:
        self.end_watches()  # uvicorn waits for open responses before it stops
        if self._served is not None:
            self._served.stop()

    def write_kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}
            ],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # --- what tests look at and arrange ---------------------------------------------------------------------

    def reset(self) -> None:
        """Empty, without an event for what goes: open watches end and no watch reaches into the past."""
        with self._lock:
            self.objects.clear()
            self.requests.clear()
            self.failures.clear()
            self.hooks.clear()
            self._stalling = False
            self.latency = 0.0
            self.most_in_flight = 0
        self.admission.reset()
        self.compact()
        self.end_watches()

    def compact(self) -> None:
        """Compacts the history as etcd does: a watch from any resourceVersion given out until now is answered
        410 Gone (the current one included, so the version moves on by one, as other kinds' changes move it
        in a real cluster). Watches already open go on unharmed."""
        with self._lock:
            self._resource_version += 1
            self._compacted = self._resource_version

    def end_watches(self) -> None:
        """Closes every open watch, as the server does at ``timeoutSeconds``: clients watch again from the
        last resourceVersion they saw."""
        with self._lock:
            for watcher in self._watchers:
                watcher.ended = True
                watcher.notify()

    def stall_watches(self) -> None:
        """Open watches, and those opened from now on, send nothing more and never end by themselves (not at
        ``timeoutSeconds`` either): a connection that died without a word. ``end_watches`` (or ``stop``)
        still closes them; ``reset`` ends the stall for new watches."""
        with self._lock:
            self._stalling = True
            for watcher in self._watchers:
                watcher.stalled = True
                watcher.notify()

    def watch_count(self) -> int:
        """Watches open now."""
        with self._lock:
            return len(self._watchers)

    def lists(self, collection: str) -> int:
        """LIST requests made so far of a collection whose path ends with ``collection`` (a GET of one object
        in it is not one)."""
        return sum(
            1
            for item in self.requests
            if item.method == "GET" and item.path.endswith(collection) and not item.watching
        )

    @property
    def services(self) -> dict[tuple[str, str], tuple[str, int]]:
        """(namespace, name) of a Service → (host, port) where its webhook server listens (the cluster's DNS)."""
        return self.admission.services

    def admission_calls(self) -> list[AdmissionCall]:
        """The admission webhooks called so far, in order."""
        return self.admission.recorded()

    def writes(self) -> list[Recorded]:
        return [item for item in self.requests if item.method in WRITE_METHODS]

    def fail_next(self, method: str, path_contains: str, code: int = 500, *, times: int = 1) -> None:
        """The next ``times`` ``method`` requests whose path contains ``path_contains`` answer ``code``."""
        self.failures.extend([(method, path_contains, code)] * times)

    def before_next(self, method: str, path_contains: str, action: Callable[[], object]) -> None:
        """Runs ``action`` just before the next matching request is handled (a concurrent writer)."""
        self.hooks.append((method, path_contains, action))

    def put_object(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Stores an object as if someone else had created or replaced it (no request recorded)."""
        kind = next(item for item in KINDS.values() if item.kind == manifest["kind"])
        metadata = manifest["metadata"]
        namespace = metadata.get("namespace") if kind.namespaced else None
        with self._lock:
            return self._store((kind.kind, namespace, metadata["name"]), copy.deepcopy(manifest), None)

    def remove_object(self, kind: str, name: str, namespace: str | None = None) -> None:
        """Deletes an object as if someone else had (no request recorded)."""
        with self._lock:
            self._remove((kind, namespace, name))

    def object(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def names(self, kind: str) -> list[str]:
        return sorted(name for (item_kind, _, name) in self.objects if item_kind == kind)

    # --- the API --------------------------------------------------------------------------------------------

    def _kind(self, request: Request) -> Kind | JSONResponse:
        """The kind a resource path names, the request recorded first; or the answer that refuses the request:
        a planned failure, or 404 for a kind this server does not serve at this path (a namespace given for a
        cluster-scoped kind, or one object of a namespaced kind named without its namespace)."""
        failure = self._record(request)
        if failure is not None:
            return failure
        params = request.path_params
        kind = KINDS.get((params.get("group", ""), params["version"], params["plural"]))
        in_namespace, one = "namespace" in params, "name" in params
        if kind is None or not (in_namespace == kind.namespaced or (kind.namespaced and not one)):
            return status(404, "NotFound", "the server could not find the requested resource")
        return kind

    def _record(self, request: Request) -> JSONResponse | None:
        content_type = request.headers.get("content-type", "")
        self.requests.append(Recorded(request.method, request.url.path, request.url.query, content_type))
        for index, (method, fragment, action) in enumerate(self.hooks):
            if method == request.method and fragment in request.url.path:
                del self.hooks[index]
                action()
                break
        for index, (method, fragment, code) in enumerate(self.failures):
            if method == request.method and fragment in request.url.path:
                del self.failures[index]
                return status(code, "InternalError", "injected failure")
        return None

    def _store(self, key: Key, manifest: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """Stamps and stores a new version of an object and records the change (the lock held)."""
        before = self.objects.get(key)
        stored = self._stamp(manifest, previous)
        self.objects[key] = stored
        self._record_change(key, "ADDED" if before is None else "MODIFIED", stored, before)
        return stored

    def _remove(self, key: Key) -> bool:
        """Deletes an object and records the change (the lock held); False when there was none."""
        removed = self.objects.pop(key, None)
        if removed is None:
            return False
        self._resource_version += 1
        removed["metadata"]["resourceVersion"] = str(self._resource_version)
        self._record_change(key, "DELETED", removed)
        return True

    def _record_change(
        self, key: Key, change: str, manifest: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> None:
        recorded = Change(
            self._resource_version, key, change, copy.deepcopy(manifest), copy.deepcopy(previous)
        )
        self.history.append(recorded)
        for watcher in self._watchers:
            watcher.notify()

    def _stamp(self, manifest: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        self._resource_version += 1
        metadata = manifest.setdefault("metadata", {})
        metadata.pop("managedFields", None)
        old = (previous or {}).get("metadata", {})
        metadata["uid"] = old.get("uid") or str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata["creationTimestamp"] = old.get("creationTimestamp") or now
        metadata["resourceVersion"] = str(self._resource_version)
        if "stringData" in manifest:
            data = manifest.setdefault("data", {})
            for key, value in manifest.pop("stringData").items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        return manifest

    async def _body(self, request: Request) -> dict[str, Any] | None:
        raw = await request.body()
        try:
            applying = request.headers.get("content-type") == APPLY_PATCH
            body = yaml.safe_load(raw) if applying else json.loads(raw)
        except (ValueError, yaml.YAMLError):
            return None
        return body if isinstance(body, dict) else None

    async def _collection(self, request: Request) -> Response:
        kind = self._kind(request)
        if isinstance(kind, JSONResponse):
            return kind
        namespace = request.path_params.get("namespace")
        every_namespace = kind.namespaced and namespace is None
        if request.method == "GET":
            selector = request.query_params.get("labelSelector", "")
            chosen = _Selection(kind.kind, namespace, selector, every_namespace=every_namespace)
            watching = request.query_params.get("watch") in {"true", "1"}
            return self._watch(request, chosen) if watching else self._list(kind, chosen)
        if every_namespace:
            message = "the server does not allow this method on the requested resource"
            return status(405, "MethodNotAllowed", message)
        body = await self._body(request)
        if body is None or not (body.get("metadata") or {}).get("name"):
            return status(400, "BadRequest", "the body must be an object with metadata.name")
        name = body["metadata"]["name"]
        if kind.namespaced:
            body["metadata"]["namespace"] = namespace
        body.setdefault("apiVersion", kind.api_version)
        body.setdefault("kind", kind.kind)
        key = (kind.kind, namespace, name)
        exists = status(409, "AlreadyExists", f'{kind.kind.lower()}s "{name}" already exists')
        with self._lock:
            if key in self.objects:
                return exists
        return await self._commit(request, key, body, None, exists=exists)

    async def _item(self, request: Request) -> JSONResponse:  # noqa: PLR0911 - one return per HTTP case
        kind = self._kind(request)
        if isinstance(kind, JSONResponse):
            return kind
        namespace = request.path_params.get("namespace")
        name = request.path_params["name"]
        key = (kind.kind, namespace, name)
        not_found = status(404, "NotFound", f'{kind.kind.lower()}s "{name}" not found')
        if request.method == "GET":
            with self._lock:
                current = self.objects.get(key)
                return not_found if current is None else JSONResponse(copy.deepcopy(current))
        if request.method == "DELETE":
            with self._lock:
                current = copy.deepcopy(self.objects.get(key))
            if current is None:
                return not_found
            return await self._commit(request, key, None, current)
        body = await self._body(request)
        if body is None:
            return status(400, "BadRequest", "the body must be an object")
        with self._lock:
            current = copy.deepcopy(self.objects.get(key))
        changed = self._replaced(kind, key, body, current) if request.method == "PUT" else None
        if changed is None:
            changed = self._patched(request, kind, key, body, current)
        if isinstance(changed, JSONResponse):
            return changed
        return await self._commit(request, key, changed, current)

    async def _status_item(self, request: Request) -> JSONResponse:
        """The ``/status`` subresource: GET the object; PUT or PATCH change its ``status`` and nothing else."""
        kind = self._kind(request)
        if isinstance(kind, JSONResponse):
            return kind
        key = (kind.kind, request.path_params.get("namespace"), request.path_params["name"])
        with self._lock:
            current = copy.deepcopy(self.objects.get(key))
        if not kind.status or current is None:
            return status(404, "NotFound", f'{kind.kind.lower()}s "{key[2]}" not found')
        if request.method == "GET":
            return JSONResponse(current)
        body = await self._body(request)
        if body is None:
            return status(400, "BadRequest", "the body must be an object")
        changed = self._replaced(kind, key, body, current) if request.method == "PUT" else None
        if changed is None:
            changed = self._patched(request, kind, key, body, current)
        if isinstance(changed, JSONResponse):
            return changed
        updated = copy.deepcopy(current)
        updated.pop("status", None)
        if changed.get("status") is not None:
            updated["status"] = changed["status"]
        return await self._commit(request, key, updated, current, subresource="status")

    async def _commit(  # noqa: PLR0911 - one answer per outcome
        self,
        request: Request,
        key: Key,
        new: dict[str, Any] | None,
        current: dict[str, Any] | None,
        *,
        subresource: str = "",
        exists: JSONResponse | None = None,
    ) -> JSONResponse:
        """Admission (the webhooks), then the write: ``new`` replaces ``current`` (None: created; ``new`` None:
        deleted), unless the object changed meanwhile (409, as the API server's optimistic concurrency), or
        the request is a dry run (answered, not stored)."""
        operation = "DELETE" if new is None else "UPDATE" if current is not None else "CREATE"
        refused = await self._admit(request, key, operation, new, current, subresource=subresource)
        if refused is not None:
            return refused
        dry_run = request.query_params.get("dryRun") == "All"
        with self._lock:
            now = self.objects.get(key)
            if now is not None and current is None:
                return exists or status(409, "AlreadyExists", f'"{key[2]}" already exists')
            if _version_of(now) != _version_of(current):
                return status(409, "Conflict", "the object has been modified; please apply your changes again")
            if new is None:
                if not dry_run:
                    self._remove(key)
                return status(200, "", "deleted")
            if current is not None and _content(new) == _content(current):
                return JSONResponse(copy.deepcopy(current))  # a no-op keeps the resourceVersion
            if dry_run:
                return JSONResponse(new, status_code=200 if current else 201)
            stored = self._store(key, new, current)
            return JSONResponse(copy.deepcopy(stored), status_code=200 if current else 201)

    async def _admit(
        self,
        request: Request,
        key: Key,
        operation: str,
        new: dict[str, Any] | None,
        old: dict[str, Any] | None,
        *,
        subresource: str,
    ) -> JSONResponse | None:
        """The refusal of a webhook, as the API server answers it; None when the write may go on."""
        with self._lock:
            configurations = [
                copy.deepcopy(item)
                for (kind, _, _), item in sorted(self.objects.items(), key=lambda pair: pair[0][2])
                if kind == WEBHOOK_CONFIGURATION
            ]
        if not configurations:
            return None
        params = request.path_params
        target = Target(
            params.get("group", ""), params["version"], key[0], params["plural"], key[2], key[1], subresource
        )
        refusal = await self.admission.review(
            configurations,
            target,
            operation,
            new,
            old,
            dry_run=request.query_params.get("dryRun") == "All",
            field_manager=request.query_params.get("fieldManager"),
        )
        return None if refusal is None else status(refusal.code, refusal.reason, refusal.message)

    def _list(self, kind: Kind, chosen: _Selection) -> JSONResponse:
        with self._lock:
            items = self._current(chosen)
            version = str(self._resource_version)
        return JSONResponse(
            {
                "apiVersion": kind.api_version,
                "kind": f"{kind.kind}List",
                "metadata": {"resourceVersion": version},
                "items": items,
            }
        )

    def _current(self, chosen: _Selection) -> list[dict[str, Any]]:
        """Copies of the chosen objects, by namespace and name (the lock held)."""
        return [
            copy.deepcopy(item)
            for key, item in sorted(self.objects.items(), key=lambda pair: (pair[0][1] or "", pair[0][2]))
            if chosen.includes(key, item)
        ]

    def _watch(self, request: Request, chosen: _Selection) -> Response:
        given = request.query_params.get("resourceVersion") or "0"
        timeout = request.query_params.get("timeoutSeconds")
        try:
            since, seconds = int(given), float(timeout) if timeout else None
        except ValueError:
            return status(400, "BadRequest", "resourceVersion and timeoutSeconds must be numbers")
        return StreamingResponse(self._events(chosen, since, seconds), media_type="application/json")

    async def _events(self, chosen: _Selection, since: int, seconds: float | None) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        watcher = _Watcher(loop, stalled=self._stalling)
        expired: str | None = None
        with self._lock:
            if 0 < since < self._compacted:
                expired = f"too old resource version: {since} ({self._compacted})"
            else:
                self._watchers.append(watcher)
            # Without a resourceVersion (or "0"): the current state first, as ADDED events.
            initial = [] if since or watcher.stalled else self._current(chosen)
            position = since or self._resource_version
        if expired is not None:
            yield _event("ERROR", status_body(410, "Expired", expired))
            return
        try:
            for item in initial:
                yield _event("ADDED", item)
            while not watcher.ended:
                watcher.wake.clear()  # before looking, so that a change made meanwhile wakes the wait below
                if watcher.stalled:
                    await watcher.wake.wait()  # only end_watches makes it do anything again: end
                    continue
                with self._lock:
                    changes = self.history[bisect.bisect_right(self.history, position, key=_version) :]
                for change in changes:
                    position = change.version
                    seen = change.seen_by(chosen)
                    if seen is not None:
                        yield _event(*seen)
                remaining = None if deadline is None else deadline - loop.time()
                try:
                    await asyncio.wait_for(watcher.wake.wait(), remaining)
                except TimeoutError:
                    return
        finally:
            with self._lock:
                self._watchers.remove(watcher)

    @staticmethod
    def _replaced(
        kind: Kind, key: Key, body: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any] | JSONResponse:
        """The object a PUT makes of ``current``, or the refusal."""
        if current is None:
            return status(404, "NotFound", f'{kind.kind.lower()}s "{key[2]}" not found')
        given = (body.get("metadata") or {}).get("resourceVersion")
        if given != current["metadata"]["resourceVersion"]:
            message = "the object has been modified; please apply your changes again"
            return status(409, "Conflict", message)
        body.setdefault("apiVersion", kind.api_version)
        body.setdefault("kind", kind.kind)
        metadata = body.setdefault("metadata", {})
        metadata["name"], metadata["namespace"] = key[2], key[1]
        if key[1] is None:
            metadata.pop("namespace")
        return body

    def _patched(
        self, request: Request, kind: Kind, key: Key, body: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any] | JSONResponse:
        """The object a PATCH makes of ``current`` (None: an apply that creates), or the refusal."""
        content_type = request.headers.get("content-type", "")
        if content_type == APPLY_PATCH:
            if not request.query_params.get("fieldManager"):
                return status(400, "BadRequest", "fieldManager is required for apply patch")
            if body.get("kind") != kind.kind or not body.get("apiVersion"):
                return status(400, "BadRequest", "apply patch needs apiVersion and kind")
            return self._applied(body, current, key)
        if content_type == MERGE_PATCH:
            if current is None:
                return status(404, "NotFound", f'{kind.kind.lower()}s "{key[2]}" not found')
            return merge_patch(current, body)
        return status(415, "UnsupportedMediaType", f"patch type {content_type} is not supported")

    @staticmethod
    def _applied(
        body: dict[str, Any], current: dict[str, Any] | None, key: tuple[str, str | None, str]
    ) -> dict[str, Any]:
        """Server-side apply by the only manager: its content wins, others' labels and annotations stay."""
        merged = copy.deepcopy(body)
        metadata = merged.setdefault("metadata", {})
        metadata["name"] = key[2]
        if key[1] is not None:
            metadata["namespace"] = key[1]
        if current is not None:
            old = current.get("metadata", {})
            for field in ("labels", "annotations"):
                combined = {**(old.get(field) or {}), **(metadata.get(field) or {})}
                if combined:
                    metadata[field] = combined
            for field in ("uid", "creationTimestamp", "resourceVersion"):
                metadata[field] = old.get(field)
        return merged


@dataclass(frozen=True)
class _Selection:
    """The objects a LIST or WATCH asks for."""

    kind: str
    namespace: str | None
    selector: str
    every_namespace: bool = False  # a namespaced kind listed without a namespace

    def includes(self, key: Key, manifest: dict[str, Any]) -> bool:
        labels = manifest.get("metadata", {}).get("labels") or {}
        where = key[0] == self.kind and (self.every_namespace or key[1] == self.namespace)
        return where and matches(labels, self.selector)


def _event(change: str, manifest: dict[str, Any]) -> bytes:
    return json.dumps({"type": change, "object": manifest}).encode() + b"\n"


def _version(change: Change) -> int:
    return change.version


def _version_of(manifest: dict[str, Any] | None) -> str | None:
    return None if manifest is None else manifest["metadata"].get("resourceVersion")


def _content(manifest: dict[str, Any]) -> dict[str, Any]:
    """The object without what the server bumps."""
    result = copy.deepcopy(manifest)
    result.get("metadata", {}).pop("resourceVersion", None)
    return result
