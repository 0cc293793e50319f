"""A stand-in for the Kubernetes API server, over real HTTP on 127.0.0.1, for the agent's Kubernetes sink.

It implements the few REST semantics the sink relies on, for Applications and CompassConnections
(cluster-scoped custom resources) and Secrets (namespaced):

- GET one (404 when missing), LIST with ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``);
- POST create (409 when the name exists), PUT replace with ``metadata.resourceVersion`` (409 when it is
  stale);
- PATCH with ``application/apply-patch+yaml`` (server-side apply as one field manager sees it: creates, or
  replaces the content and merges labels and annotations; ``fieldManager`` required) or
  ``application/merge-patch+json``;
- DELETE (404 when missing);
- ``metadata.uid``, ``creationTimestamp`` and a ``resourceVersion`` bumped on every change (and only then);
  ``stringData`` folded into ``data`` as the real server does.

Every request is recorded (``requests``), so a test can count writes; ``fail_next`` makes the next matching
request answer with an error, ``before_next`` runs an action (another writer) just before it is handled. No
real cluster is used anywhere in these tests (none can run here).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from testing.threaded import ThreadedServer


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    namespaced: bool


KINDS: dict[tuple[str, str, str], Kind] = {
    ("applicationconnector.kyma-project.io", "v1alpha1", "applications"): Kind(
        "Application", "applicationconnector.kyma-project.io/v1alpha1", False
    ),
    ("compass.kyma-project.io", "v1alpha1", "compassconnections"): Kind(
        "CompassConnection", "compass.kyma-project.io/v1alpha1", False
    ),
    ("", "v1", "secrets"): Kind("Secret", "v1", True),
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    content_type: str


def status(code: int, reason: str, message: str) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return JSONResponse(body, status_code=code)


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
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.failures: list[tuple[str, str, int]] = []
        self.hooks: list[tuple[str, str, Callable[[], object]]] = []
        self._resource_version = 0
        self._lock = threading.Lock()
        self._served: ThreadedServer | None = None
        many, one = ["GET", "POST"], ["GET", "PUT", "PATCH", "DELETE"]
        routes = [
            Route("/apis/{group}/{version}/{plural}", self._collection, methods=many),
            Route("/apis/{group}/{version}/{plural}/{name}", self._item, methods=one),
            Route("/api/{version}/namespaces/{namespace}/{plural}", self._collection, methods=many),
            Route("/api/{version}/namespaces/{namespace}/{plural}/{name}", self._item, methods=one),
        ]
        self.app = Starlette(routes=routes)

    # --- running it -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._served is not None
        return f"http://127.0.0.1:{self._served.port}"

    def start(self) -> FakeKubeApi:
        self._served = ThreadedServer(self.app).start()
        return self

    def stop(self) -> None:
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
        with self._lock:
            self.objects.clear()
            self.requests.clear()
            self.failures.clear()
            self.hooks.clear()

    def writes(self) -> list[Recorded]:
        return [item for item in self.requests if item.method in WRITE_METHODS]

    def fail_next(self, method: str, path_contains: str, code: int = 500) -> None:
        """The next ``method`` request whose path contains ``path_contains`` answers ``code``."""
        self.failures.append((method, path_contains, code))

    def before_next(self, method: str, path_contains: str, action: Callable[[], object]) -> None:
        """Runs ``action`` just before the next matching request is handled (a concurrent writer)."""
        self.hooks.append((method, path_contains, action))

    def put_object(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Stores an object as if someone else had created it (no request recorded)."""
        kind = next(item for item in KINDS.values() if item.kind == manifest["kind"])
        metadata = manifest["metadata"]
        with self._lock:
            stored = self._stamp(copy.deepcopy(manifest), None)
            namespace = metadata.get("namespace") if kind.namespaced else None
            self.objects[(kind.kind, namespace, metadata["name"])] = stored
        return stored

    def remove_object(self, kind: str, name: str, namespace: str | None = None) -> None:
        with self._lock:
            self.objects.pop((kind, namespace, name), None)

    def object(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def names(self, kind: str) -> list[str]:
        return sorted(name for (item_kind, _, name) in self.objects if item_kind == kind)

    # --- the API --------------------------------------------------------------------------------------------

    def _kind(self, request: Request) -> Kind | None:
        params = request.path_params
        return KINDS.get((params.get("group", ""), params["version"], params["plural"]))

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

    async def _collection(self, request: Request) -> JSONResponse:
        failure = self._record(request)
        if failure is not None:
            return failure
        kind = self._kind(request)
        if kind is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        namespace = request.path_params.get("namespace")
        if request.method == "GET":
            selector = request.query_params.get("labelSelector", "")
            with self._lock:
                items = [
                    copy.deepcopy(item)
                    for (item_kind, item_namespace, _), item in sorted(
                        self.objects.items(), key=lambda pair: pair[0][2]
                    )
                    if item_kind == kind.kind
                    and item_namespace == namespace
                    and matches(item.get("metadata", {}).get("labels") or {}, selector)
                ]
                version = str(self._resource_version)
            return JSONResponse(
                {
                    "apiVersion": kind.api_version,
                    "kind": f"{kind.kind}List",
                    "metadata": {"resourceVersion": version},
                    "items": items,
                }
            )
        body = await self._body(request)
        if body is None or not (body.get("metadata") or {}).get("name"):
            return status(400, "BadRequest", "the body must be an object with metadata.name")
        name = body["metadata"]["name"]
        if kind.namespaced:
            body["metadata"]["namespace"] = namespace
        with self._lock:
            key = (kind.kind, namespace, name)
            if key in self.objects:
                return status(409, "AlreadyExists", f'{kind.kind.lower()}s "{name}" already exists')
            body.setdefault("apiVersion", kind.api_version)
            body.setdefault("kind", kind.kind)
            self.objects[key] = self._stamp(body, None)
            return JSONResponse(copy.deepcopy(self.objects[key]), status_code=201)

    async def _item(self, request: Request) -> JSONResponse:
        failure = self._record(request)
        if failure is not None:
            return failure
        kind = self._kind(request)
        if kind is None:
            return status(404, "NotFound", "the server could not find the requested resource")
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
                if self.objects.pop(key, None) is None:
                    return not_found
                self._resource_version += 1
            return status(200, "", "deleted")
        body = await self._body(request)
        if body is None:
            return status(400, "BadRequest", "the body must be an object")
        if request.method == "PUT":
            return self._replace(kind, key, body, not_found)
        return self._patch(request, kind, key, body, not_found)

    def _replace(
        self, kind: Kind, key: tuple[str, str | None, str], body: dict[str, Any], not_found: JSONResponse
    ) -> JSONResponse:
        with self._lock:
            current = self.objects.get(key)
            if current is None:
                return not_found
            given = (body.get("metadata") or {}).get("resourceVersion")
            if given != current["metadata"]["resourceVersion"]:
                message = "the object has been modified; please apply your changes again"
                return status(409, "Conflict", message)
            body.setdefault("apiVersion", kind.api_version)
            body.setdefault("kind", kind.kind)
            body["metadata"]["name"], body["metadata"]["namespace"] = key[2], key[1]
            if key[1] is None:
                body["metadata"].pop("namespace")
            self.objects[key] = self._stamp(body, current)
            return JSONResponse(copy.deepcopy(self.objects[key]))

    def _patch(
        self,
        request: Request,
        kind: Kind,
        key: tuple[str, str | None, str],
        body: dict[str, Any],
        not_found: JSONResponse,
    ) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        with self._lock:
            current = self.objects.get(key)
            if content_type == APPLY_PATCH:
                if not request.query_params.get("fieldManager"):
                    return status(400, "BadRequest", "fieldManager is required for apply patch")
                if body.get("kind") != kind.kind or not body.get("apiVersion"):
                    return status(400, "BadRequest", "apply patch needs apiVersion and kind")
                merged = self._applied(body, current, key)
            elif content_type == MERGE_PATCH:
                if current is None:
                    return not_found
                merged = merge_patch(current, body)
            else:
                return status(415, "UnsupportedMediaType", f"patch type {content_type} is not supported")
            if current is not None and _content(merged) == _content(current):
                return JSONResponse(copy.deepcopy(current))  # a no-op keeps the resourceVersion
            self.objects[key] = self._stamp(merged, current)
            return JSONResponse(copy.deepcopy(self.objects[key]), status_code=200 if current else 201)

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


def _content(manifest: dict[str, Any]) -> dict[str, Any]:
    """The object without what the server bumps."""
    result = copy.deepcopy(manifest)
    result.get("metadata", {}).pop("resourceVersion", None)
    return result
