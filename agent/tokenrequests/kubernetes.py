"""TokenRequests in Kubernetes, across all namespaces, through lightkube: listed at each reconcile (they are few),
watched for new ones, their ``status`` written through the ``status`` subresource (deploy/crds/ declares it) with
the resourceVersion read, so a request changed meanwhile is refused (409) and looked at again later, as Kyma's
controller retried on conflict. A 404 there is "gone" only if the object is gone: a TokenRequest CRD applied
without the status subresource answers 404 for an object that exists, which is an error naming the CRD. An
expired request is deleted only if its uid is still the one read (a request re-created under the same name
meanwhile is a new one). The request's ApplicationMapping is one GET (``get applicationmappings``)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import structlog
from lightkube import ALL_NS, ApiError, AsyncClient, ConfigError
from lightkube.generic_resource import create_namespaced_resource

from agent.errors import SinkError
from agent.kubernetes_calls import delete_if_present, get_or_none, reason
from agent.sinks.base import Manifest
from agent.tokenrequests.base import (
    TOKEN_REQUEST_API_VERSION,
    TOKEN_REQUEST_KIND,
    TOKEN_REQUEST_PLURAL,
    TokenRequest,
)
from dataplane.catalog.kubernetes import ApplicationMappingResource, kube_config

log = structlog.get_logger("agent.tokenrequests.kubernetes")

_GROUP, _VERSION = TOKEN_REQUEST_API_VERSION.split("/")
TokenRequestResource = create_namespaced_resource(_GROUP, _VERSION, TOKEN_REQUEST_KIND, TOKEN_REQUEST_PLURAL)
FIELD_MANAGER = "compass-runtime-agent"
WATCH_TIMEOUT = 300  # seconds, as the sink's watches
FIRST_BACKOFF, LAST_BACKOFF = 1.0, 30.0  # seconds between attempts to watch again after a failure


class KubernetesTokenRequests:
    def __init__(self, client: AsyncClient, *, watch_timeout: int = WATCH_TIMEOUT) -> None:
        self._client = client
        self._watch_timeout = watch_timeout

    @classmethod
    def from_config(
        cls, *, kubeconfig: Path | None = None, context: str | None = None
    ) -> KubernetesTokenRequests:
        try:
            single = kube_config(kubeconfig, context)
        except ConfigError as exc:
            raise SinkError(f"no usable Kubernetes configuration: {exc}") from exc
        return cls(AsyncClient(config=single, field_manager=FIELD_MANAGER))

    async def aclose(self) -> None:
        await self._client.close()

    async def current(self) -> list[TokenRequest]:
        return (await self._listing())[0]

    async def write_status(self, request: TokenRequest, status: dict[str, Any]) -> bool:
        body = copy.deepcopy(request.manifest)
        body["status"] = status
        try:
            await self._client.replace(TokenRequestResource.Status.from_dict(body))
        except ApiError as exc:
            if exc.status.code == httpx.codes.CONFLICT:
                return False
            if exc.status.code == httpx.codes.NOT_FOUND:
                if not await self._exists(request):
                    return False
                raise SinkError(
                    f"cannot write the status of TokenRequest {request.key}: the object exists but its /status "
                    f"subresource answers 404 (the TokenRequest CRD lacks subresources.status; apply "
                    f"deploy/crds/tokenrequests.applicationconnector.kyma-project.io.yaml)"
                ) from exc
            raise SinkError(f"cannot write the status of TokenRequest {request.key}: {reason(exc)}") from exc
        except httpx.HTTPError as exc:
            raise SinkError(f"cannot write the status of TokenRequest {request.key}: {reason(exc)}") from exc
        return True

    async def mapped(self, request: TokenRequest) -> bool:
        mapping = await get_or_none(
            self._client,
            ApplicationMappingResource,
            request.name,
            request.namespace,
            f"ApplicationMapping {request.key}",
        )
        return mapping is not None

    async def _exists(self, request: TokenRequest) -> bool:
        """Whether the request (that uid) is still there; SinkError when that cannot be told."""
        current = await get_or_none(
            self._client, TokenRequestResource, request.name, request.namespace, f"TokenRequest {request.key}"
        )
        return current is not None and _uid(_manifest(current)) == _uid(request.manifest)

    async def delete(self, request: TokenRequest) -> None:
        if not await self._exists(request):
            return
        await delete_if_present(
            self._client, TokenRequestResource, request.name, request.namespace, f"TokenRequest {request.key}"
        )

    async def changes(self) -> AsyncGenerator[None]:
        """Once after each list (what was created before the watch), then once per change; listed and watched
        again after a failure, with backoff."""
        backoff, ended = FIRST_BACKOFF, None
        while True:
            try:
                _, version = await self._listing()
                yield None  # what was created before the watch started
                watch = self._client.watch(
                    TokenRequestResource,
                    namespace=ALL_NS,
                    resource_version=version,
                    server_timeout=self._watch_timeout,
                )
                async for _ in watch:
                    backoff, ended = FIRST_BACKOFF, None
                    yield None
            except (SinkError, ApiError, httpx.HTTPError) as exc:
                why = exc.reason if isinstance(exc, SinkError) else reason(exc)
                if why != ended:  # a cluster without the CRD: said once, not at every attempt
                    log.info("token_request_watch_ended", reason=why)
                ended = why
            await asyncio.sleep(backoff)
            backoff = min(LAST_BACKOFF, backoff * 2)

    async def _listing(self) -> tuple[list[TokenRequest], str]:
        listing = self._client.list(TokenRequestResource, namespace=ALL_NS)
        found: list[TokenRequest] = []
        try:
            async for item in listing:
                manifest = _manifest(item)
                metadata = manifest["metadata"]
                version = (_uid(manifest), metadata.get("resourceVersion"))
                found.append(
                    TokenRequest(str(metadata["namespace"]), str(metadata["name"]), manifest, version=version)
                )
        except (ApiError, httpx.HTTPError) as exc:
            raise SinkError(f"cannot list TokenRequests: {reason(exc)}") from exc
        return found, str(listing.resourceVersion)


def _manifest(item: Any) -> Manifest:
    manifest: Manifest = item.to_dict()
    manifest.setdefault("apiVersion", TOKEN_REQUEST_API_VERSION)
    manifest.setdefault("kind", TOKEN_REQUEST_KIND)
    return manifest


def _uid(manifest: Manifest) -> str | None:
    uid = manifest["metadata"].get("uid")
    return None if uid is None else str(uid)
