"""Validating admission webhooks as the Kubernetes API server calls them, for the stand-in of testing/kube.py.

On a CREATE, UPDATE or DELETE of an object (or of its ``/status`` subresource) the API server calls every
webhook of every ``ValidatingWebhookConfiguration`` whose rules match the request (API group, version,
resource or ``resource/status``, operation, scope; ``*`` anywhere) and whose ``objectSelector`` matches the
object's labels or the old object's (``matchLabels`` and ``matchExpressions``). It POSTs an ``admission.k8s.io/v1``
``AdmissionReview`` over HTTPS to the webhook's service, verifying the server against ``caBundle`` for the name
``<service>.<namespace>.svc``, with ``?timeout=<timeoutSeconds>s`` and no more than that to answer. A webhook
that answers ``allowed: false`` refuses the write (its status code, else 400); one that fails (no connection,
TLS refused, timed out, an answer that is no AdmissionReview for this request) refuses it with the API server's
500 under ``failurePolicy: Fail`` (v1's default) and is passed over under ``Ignore``. Webhooks of one write are
called side by side, as the API server calls validating webhooks.

The stand-in has no Namespace objects: a ``namespaceSelector`` is not evaluated (every namespace matches). The
webhook configurations themselves are never subject to webhooks, as in Kubernetes. The URL form of
``clientConfig`` is not supported (the Runtime Watcher's configuration names a service).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

WEBHOOK_CONFIGURATION = "ValidatingWebhookConfiguration"
ADMISSION_API_VERSION = "admission.k8s.io/v1"
DEFAULT_TIMEOUT_SECONDS = 10  # admissionregistration/v1's default
# Who the stand-in says made every request (it authenticates no one); kubeadm's admin, as kubectl would be.
USER_INFO = {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]}
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


@dataclass(frozen=True)
class Target:
    """What a write is about: the kind and its resource, the object's name and namespace (None:
    cluster-scoped), and the subresource written ("" for the object itself)."""

    group: str
    version: str
    kind: str
    plural: str
    name: str
    namespace: str | None
    subresource: str = ""


@dataclass(frozen=True)
class AdmissionCall:
    """One call of a webhook: the review's ``request`` as sent, and its outcome: ``allowed`` (None: the call
    failed) with the webhook's message, or the ``error`` that made it fail."""

    webhook: str
    url: str
    request: dict[str, Any]
    allowed: bool | None
    message: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A write refused by admission: the Status the API server answers with."""

    code: int
    reason: str
    message: str


@dataclass
class Admission:
    """The webhooks of the stored configurations, called for a write. ``services`` resolves a webhook's
    service, ``(namespace, name)`` → ``(host, port)``, as the cluster's DNS and kube-proxy would; a service
    not in it cannot be reached. ``calls`` records every call (across the server's thread and the tests')."""

    services: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    calls: list[AdmissionCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.services.clear()
            self.calls.clear()

    def recorded(self) -> list[AdmissionCall]:
        with self._lock:
            return list(self.calls)

    async def review(
        self,
        configurations: list[dict[str, Any]],
        target: Target,
        operation: str,
        new: dict[str, Any] | None,
        old: dict[str, Any] | None,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> Refusal | None:
        """Calls the matching webhooks; the first refusal, in the configurations' order, or None."""
        if target.kind == WEBHOOK_CONFIGURATION:
            return None
        matching = [
            webhook
            for configuration in configurations
            for webhook in configuration.get("webhooks") or []
            if _matches(webhook, target, operation) and _selected(webhook, new, old)
        ]
        if not matching:
            return None
        request = _request(target, operation, new, old, dry_run=dry_run, field_manager=field_manager)
        outcomes = await asyncio.gather(*(self._call(webhook, request) for webhook in matching))
        return next((refusal for refusal in outcomes if refusal is not None), None)

    async def _call(self, webhook: dict[str, Any], request: dict[str, Any]) -> Refusal | None:
        name = str(webhook.get("name"))
        request = {**request, "uid": str(uuid.uuid4())}  # one uid per call, as each webhook gets its own
        seconds = int(webhook.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        service = (webhook.get("clientConfig") or {}).get("service") or {}
        host_name = f"{service.get('name')}.{service.get('namespace')}.svc"
        path = service.get("path") or "/"
        url = f"https://{host_name}:{service.get('port') or 443}{path}?timeout={seconds}s"
        review = {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "request": request}
        try:
            response = await asyncio.wait_for(
                self._post(service, host_name=host_name, path=path, seconds=seconds, webhook=webhook, review=review),
                seconds,
            )
            allowed, message, code = _outcome(response, request["uid"])
        except (TimeoutError, httpx.HTTPError, ssl.SSLError, OSError, ValueError) as error:
            reason = "context deadline exceeded" if isinstance(error, TimeoutError) else repr(error)
            with self._lock:
                self.calls.append(AdmissionCall(name, url, request, None, error=reason))
            if webhook.get("failurePolicy", "Fail") == "Ignore":
                return None
            message = f'Internal error occurred: failed calling webhook "{name}": failed to call webhook: Post "{url}": {reason}'
            return Refusal(500, "InternalError", message)
        with self._lock:
            self.calls.append(AdmissionCall(name, url, request, allowed, message))
        if allowed:
            return None
        return Refusal(code or 400, "BadRequest", f'admission webhook "{name}" denied the request: {message}')

    async def _post(
        self,
        service: Mapping[str, Any],
        *,
        host_name: str,
        path: str,
        seconds: int,
        webhook: dict[str, Any],
        review: dict[str, Any],
    ) -> httpx.Response:
        address = self.services.get((str(service.get("namespace")), str(service.get("name"))))
        if address is None:
            raise httpx.ConnectError(f'service "{service.get("namespace")}/{service.get("name")}" not found')
        bundle = base64.b64decode((webhook.get("clientConfig") or {}).get("caBundle") or "")
        context = ssl.create_default_context(cadata=bundle.decode("ascii")) if bundle else ssl.create_default_context()
        host, port = address
        async with httpx.AsyncClient(verify=context, timeout=seconds, trust_env=False) as client:
            return await client.post(
                f"https://{host}:{port}{path}",
                params={"timeout": f"{seconds}s"},
                json=review,
                headers={"Host": f"{host_name}:443"},
                extensions={"sni_hostname": host_name},  # the name the certificate is verified for
            )


def _outcome(response: httpx.Response, uid: str) -> tuple[bool, str, int | None]:
    """(allowed, message, status code) of a webhook's answer; ValueError when it is none for this request."""
    if response.status_code != httpx.codes.OK:
        raise ValueError(f"the webhook answered HTTP {response.status_code}")
    answer = response.json().get("response")
    if not isinstance(answer, dict) or answer.get("uid") != uid or not isinstance(answer.get("allowed"), bool):
        raise ValueError("the webhook's answer is no AdmissionReview response for this request")
    result = answer.get("status") or {}
    return answer["allowed"], str(result.get("message") or ""), result.get("code")


def _request(
    target: Target,
    operation: str,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None,
    *,
    dry_run: bool,
    field_manager: str | None,
) -> dict[str, Any]:
    kind = {"group": target.group, "version": target.version, "kind": target.kind}
    resource = {"group": target.group, "version": target.version, "resource": target.plural}
    options: dict[str, Any] = {"kind": _OPTIONS_KIND[operation], "apiVersion": "meta.k8s.io/v1"}
    if field_manager and operation != "DELETE":
        options["fieldManager"] = field_manager
    request: dict[str, Any] = {
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": target.name,
        "operation": operation,
        "userInfo": USER_INFO,
        "object": new,
        "oldObject": old,
        "dryRun": dry_run,
        "options": options,
    }
    if target.subresource:
        request["subResource"] = request["requestSubResource"] = target.subresource
    if target.namespace is not None:
        request["namespace"] = target.namespace
    return request


def _matches(webhook: dict[str, Any], target: Target, operation: str) -> bool:
    resource = f"{target.plural}/{target.subresource}" if target.subresource else target.plural
    scope = "Namespaced" if target.namespace is not None else "Cluster"
    return any(
        _among(target.group, rule.get("apiGroups"))
        and _among(target.version, rule.get("apiVersions"))
        and _resource_among(resource, rule.get("resources"))
        and _among(operation, rule.get("operations"))
        and rule.get("scope", "*") in ("*", scope)
        for rule in webhook.get("rules") or []
    )


def _among(value: str, allowed: Any) -> bool:
    return isinstance(allowed, list) and ("*" in allowed or value in allowed)


def _resource_among(resource: str, allowed: Any) -> bool:
    """``resources`` of a rule: ``plural``, ``plural/sub``, ``plural/*`` (its subresources), ``*`` (every object,
    no subresource), ``*/sub``, ``*/*`` (everything)."""
    if not isinstance(allowed, list):
        return False
    plural, _, sub = resource.partition("/")
    for entry in map(str, allowed):
        entry_plural, _, entry_sub = entry.partition("/")
        if entry == "*/*" or (entry_plural in ("*", plural) and (entry_sub == sub or (entry_sub == "*" and sub))):
            return True
    return False


def _selected(webhook: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    """The object selector matches the object or the old object, as the API server checks both."""
    selector = webhook.get("objectSelector") or {}
    return any(_labels_match(selector, item) for item in (new, old) if item is not None)


def _labels_match(selector: dict[str, Any], manifest: dict[str, Any]) -> bool:
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
