"""The Open Service Broker API (v2.14 and later) over HTTP: Basic authentication, the version header, error
bodies, and the routes.

Why a thin Starlette layer and not openbrokerapi 4.7.3: openbrokerapi is a Flask blueprint, synchronous (a
provisioning call to the Director would hold a worker thread; the runtime side is asyncio under uvicorn, see
``dataplane.serving``) and would bring Flask in beside Starlette. Its ``ServiceBroker.catalog()`` takes no request,
so the catalog cannot depend on the namespace asking (Kyma's application broker is namespace-scoped: its catalog
is what the namespace's ApplicationMappings enable), and its minimum version (2.13) is a module global read from
the environment. What it would spare us is the request and response shapes, a few dozen lines here.

Kyma's application broker is registered in a namespace when an ApplicationMapping is created there; this broker
serves every namespace's catalog from one process at ``/<namespace>/v2/...``, so a platform registers
``<broker URL>/<namespace>`` as that namespace's broker. ``/v2/catalog`` without a namespace is answered 404 with
that hint (to credentials valid for its first segment, as every path: an unauthenticated caller gets 401).

Routes (under ``/<namespace>``): ``GET /v2/catalog``, ``PUT`` and ``DELETE /v2/service_instances/<id>`` and
``GET /v2/service_instances/<id>/last_operation`` (``broker.provisioning``), ``PUT``, ``GET`` and ``DELETE
/v2/service_instances/<id>/service_bindings/<binding id>`` (``broker.binding``).

Every request must carry Basic credentials of the namespace its first path segment names (401 with
``WWW-Authenticate`` otherwise, before anything else is looked at): the user name ``BROKER_USERNAME`` and the
namespace's own password, ``namespace_password`` (the lowercase hex of HMAC-SHA256 keyed with ``BROKER_PASSWORD``
over the namespace's name; ``compass-broker password --namespace NS`` prints it for the namespace's registration
Secret). One shared password would let a namespace holding the registration Secret provision and bind the
applications mapped into any other namespace. Hex, not base64url: it is safe unquoted in YAML, a shell and a URL.
Every request must also carry ``X-Broker-API-Version`` 2.14 or a later 2.x (missing or any other version: 412
Precondition Failed, as the issue asks and most brokers answer; the spec allows 400 for a missing header too).
Every error is the spec's body, ``{"error": <CamelCase code>, "description": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker.binding import Bindings
from broker.catalog import offering_json, offerings
from broker.errors import OSBError
from broker.provisioning import Provisioning
from dataplane.catalog.base import ApplicationMappings, Catalog, CatalogError

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

VERSION_HEADER = "X-Broker-API-Version"
MINIMUM_MINOR = 14  # of major version 2
_VERSION = re.compile(r"(\d+)\.(\d+)")
# A namespace's name is a DNS label (RFC 1123).
NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
REALM = 'Basic realm="compass-broker"'


def namespace_password(password: str, namespace: str) -> str:
    """The password of one namespace's platform: derived, so the broker keeps one secret and a namespace's cannot
    be turned into another's."""
    return hmac.new(password.encode(), namespace.encode(), hashlib.sha256).hexdigest()


class Guard:
    """Authentication for the path's namespace, then the version header, for every request (unknown paths
    included): an unauthenticated caller learns nothing of the routes."""

    def __init__(
        self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, username: str, password: str
    ) -> None:
        self.app = app
        self._username, self._password = username.encode(), password

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            self._authenticate(request)
            _check_version(request)
        except OSBError as error:
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authenticate(self, request: Request) -> None:
        # The segment the routes read as ``{namespace}`` (the same decoded path); none: nobody's credentials fit.
        namespace = request.scope["path"].removeprefix("/").partition("/")[0]
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        username, password = b"", b""
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
            except ValueError:
                username, password = b"", b""
        expected = namespace_password(self._password, namespace).encode()
        # Both compared, whatever the first says: the time taken tells nothing about which was wrong.
        matches = hmac.compare_digest(username, self._username) & hmac.compare_digest(password, expected)
        if not namespace or not matches:
            raise OSBError(
                401,
                "Unauthorized",
                "Basic credentials of the platform for this namespace are required",
                {"WWW-Authenticate": REALM},
            )


def _check_version(request: Request) -> None:
    version = request.headers.get(VERSION_HEADER)
    if version is None:
        raise OSBError(
            412, "APIVersionMissing", f"the {VERSION_HEADER} header is required (2.{MINIMUM_MINOR} or later)"
        )
    match = _VERSION.fullmatch(version.strip())
    if match is None or int(match.group(1)) != 2 or int(match.group(2)) < MINIMUM_MINOR:  # noqa: PLR2004 - major 2
        raise OSBError(
            412,
            "APIVersionUnsupported",
            f"{VERSION_HEADER} {version!r} is not supported: use 2.{MINIMUM_MINOR} or a later 2.x",
        )


class Endpoints:
    """The routes, over the catalog of Applications and the ApplicationMappings, the provisioning and the
    bindings."""

    def __init__(
        self,
        applications: Catalog,
        mappings: ApplicationMappings,
        provisioning: Provisioning,
        bindings: Bindings,
    ) -> None:
        self.applications, self.mappings, self.provisioning = applications, mappings, provisioning
        self.bindings = bindings

    async def catalog(self, request: Request) -> Response:
        namespace = _namespace(request)
        try:
            found = offerings(self.applications, self.mappings, namespace)
        except CatalogError as exc:
            log.warning("broker_catalog_unavailable", namespace=namespace, reason=str(exc))
            raise OSBError(503, "CatalogUnavailable", f"the catalog cannot be read: {exc}") from None
        return JSONResponse({"services": [offering_json(offering) for offering in found]})

    async def provision(self, request: Request) -> Response:
        status, answer = await self.provisioning.provision(
            _namespace(request),
            request.path_params["instance_id"],
            await _body(request),
            accepts_incomplete=request.query_params.get("accepts_incomplete") == "true",
        )
        return JSONResponse(answer, status)

    async def deprovision(self, request: Request) -> Response:
        answer = await self.provisioning.deprovision(
            _namespace(request),
            request.path_params["instance_id"],
            request.query_params.get("service_id"),
            request.query_params.get("plan_id"),
        )
        return JSONResponse(answer)

    async def last_operation(self, request: Request) -> Response:
        answer = await self.provisioning.last_operation(
            _namespace(request), request.path_params["instance_id"], request.query_params.get("operation")
        )
        return JSONResponse(answer)

    async def bind(self, request: Request) -> Response:
        status, answer = await self.bindings.bind(
            _namespace(request),
            request.path_params["instance_id"],
            request.path_params["binding_id"],
            await _body(request),
        )
        return JSONResponse(answer, status)

    async def fetch_binding(self, request: Request) -> Response:
        return JSONResponse(self.bindings.fetch(*_binding_of(request)))

    async def unbind(self, request: Request) -> Response:
        return JSONResponse(await self.bindings.unbind(*_binding_of(request)))

    async def catalog_without_namespace(self, request: Request) -> Response:  # noqa: ARG002 - Starlette's signature
        raise OSBError(
            404,
            "NotFound",
            "the catalog is served per namespace: register <broker URL>/<namespace> as its broker",
        )


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise OSBError(400, "MalformedRequest", "the body is not JSON") from None


def _binding_of(request: Request) -> tuple[str, str, str, str | None, str | None]:
    """Namespace, instance id, binding id, and the query's service_id and plan_id."""
    return (
        _namespace(request),
        request.path_params["instance_id"],
        request.path_params["binding_id"],
        request.query_params.get("service_id"),
        request.query_params.get("plan_id"),
    )


def _namespace(request: Request) -> str:
    namespace: str = request.path_params["namespace"]
    if NAMESPACE.fullmatch(namespace) is None:
        raise OSBError(404, "NotFound", f"{namespace!r} cannot be a namespace's name")
    return namespace


async def _osb_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, OSBError)  # noqa: S101 - registered for OSBError only
    return error.response()


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)  # noqa: S101 - registered for HTTPException only
    if error.status_code == 405:  # noqa: PLR2004
        return OSBError(
            405, "MethodNotAllowed", "method not allowed here", dict(error.headers or {})
        ).response()
    return OSBError(error.status_code, "NotFound", "no such route of the Open Service Broker API").response()


async def _unexpected(_request: Request, error: Exception) -> Response:
    log.error("broker_request_failed", error=repr(error))
    return OSBError(500, "InternalError", "the broker failed; its log says why").response()


def broker_app(
    applications: Catalog,
    mappings: ApplicationMappings,
    provisioning: Provisioning,
    bindings: Bindings,
    *,
    username: str,
    password: str,
) -> Guard:
    endpoints = Endpoints(applications, mappings, provisioning, bindings)
    instance = "/{namespace}/v2/service_instances/{instance_id}"
    binding = f"{instance}/service_bindings/{{binding_id}}"
    app = Starlette(
        routes=[
            Route("/v2/catalog", endpoints.catalog_without_namespace, methods=["GET"]),
            Route("/{namespace}/v2/catalog", endpoints.catalog, methods=["GET"]),
            Route(instance, endpoints.provision, methods=["PUT"]),
            Route(instance, endpoints.deprovision, methods=["DELETE"]),
            Route(f"{instance}/last_operation", endpoints.last_operation, methods=["GET"]),
            Route(binding, endpoints.bind, methods=["PUT"]),
            Route(binding, endpoints.fetch_binding, methods=["GET"]),
            Route(binding, endpoints.unbind, methods=["DELETE"]),
        ],
        exception_handlers={OSBError: _osb_error, HTTPException: _http_error, Exception: _unexpected},
    )
    return Guard(app, username=username, password=password)
