"""The webhook: ``admission.k8s.io/v1`` AdmissionReviews on ``POST /validate/<module>``, turned into watch events
by Kyma's rules (runtime-watcher ``pkg/admissionreview/handler.go``), and always allowed.

- CREATE sends ``request.object``, DELETE ``request.oldObject``; UPDATE sends ``request.object`` when ``spec``
  changed (or either side has none), or, on the ``status`` subresource, when ``status`` changed; another
  subresource is not watched. CONNECT (or any other operation) is not supported.
- The event names the object's namespace and name and the group, version and kind of its ``apiVersion``/``kind``.
- The answer is always HTTP 200, allowed, with Kyma's two headers and a status message.

Where pycompass differs, on purpose:

- The event is spooled (fsynced) and the answer given at once, message ``kcp request queued``; the delivery to the
  control plane happens after (``watcher.delivery``). Kyma posts inline and answers ``kcp request succeeded``, or
  blocks the API server's write while it retries.
- A body that is not an AdmissionReview (not JSON, wrong ``apiVersion``/``kind``, no ``request``, an object without
  a name) is answered allowed with a message saying what is wrong (and the uid, when one could be read), where Kyma
  writes an empty 200, which the API server counts as a failed call. A path other than ``/validate/<module>`` is a
  404, other methods a 405.
- A dry run (``request.dryRun``) sends nothing: the change is not going to happen.
- A spool that cannot take the event (a full disk) still allows: the message says the event was lost.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from watcher.events import WatchEvent
from watcher.metrics import ADMISSION_REVIEWS, module_label

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
QUEUED = "kcp request queued"
# The largest object the API server stores is 1.5 MiB (etcd's limit); an UPDATE carries two of them.
MAX_BODY = 8 * 1024 * 1024
# Kyma's webhook sets both on every answer.
SECURITY_HEADERS = (
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'self'"),
)
# The module becomes a path segment of the control plane's URL (/v2/<module>/event).
_PATH = re.compile(r"/validate/([A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?)")


class Outcome(StrEnum):
    QUEUED = "queued"
    UNCHANGED = "unchanged"
    UNSUPPORTED = "unsupported"
    INVALID_SUBRESOURCE = "invalid_subresource"
    DRY_RUN = "dry_run"
    MALFORMED = "malformed"
    LOST = "lost"


# A lost event is logged where it is lost, with the event.
_LOG_LEVELS = {Outcome.QUEUED: logging.INFO, Outcome.MALFORMED: logging.WARNING}


@dataclass(frozen=True)
class Decision:
    """What a review comes to: the answer's uid and message, and the event to spool (only for QUEUED)."""

    uid: str
    outcome: Outcome
    message: str
    event: WatchEvent | None = None


@dataclass(frozen=True)
class _Watched:
    """The parts of a watched object the rules read (Kyma's ``WatchedObject``); absent parts are empty."""

    namespace: str
    name: str
    api_version: str
    kind: str
    spec: dict[str, Any] | None
    status: dict[str, Any] | None

    @classmethod
    def of(cls, raw: object) -> _Watched:
        document = raw if isinstance(raw, dict) else {}
        metadata = document.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        return cls(
            namespace=_text(metadata.get("namespace")),
            name=_text(metadata.get("name")),
            api_version=_text(document.get("apiVersion")),
            kind=_text(document.get("kind")),
            spec=_mapping(document.get("spec")),
            status=_mapping(document.get("status")),
        )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def event(self, module: str) -> WatchEvent:
        group, version = _group_version(self.api_version)
        if version is None:  # Kyma's FromAPIVersionAndKind keeps only the kind of an unparsable apiVersion
            group = version = ""
        return WatchEvent(module, self.namespace, self.name, group, version, self.kind)


def decide(module: str, body: bytes) -> Decision:
    """The rules, without I/O: what to answer to ``body`` posted to ``/validate/<module>``."""
    try:
        document = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        return _malformed("", f"the body is not JSON: {exc}")
    if not isinstance(document, dict):
        return _malformed("", "the body is not a JSON object")
    request = document.get("request")
    uid = _text(request.get("uid")) if isinstance(request, dict) else ""
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if (api_version, kind) != (API_VERSION, KIND):
        expected = f"expected apiVersion {API_VERSION} and kind {KIND}"
        return _malformed(uid, f"{expected}, got {api_version!r} and {kind!r}")
    if not isinstance(request, dict):
        return _malformed(uid, "the AdmissionReview has no request")
    return _review(module, uid, request)


def _review(module: str, uid: str, request: dict[str, Any]) -> Decision:
    operation = request.get("operation")
    if not isinstance(operation, str) or not operation:
        return _malformed(uid, "the request has no operation")
    if operation == "CREATE":
        source = "object"
    elif operation == "DELETE":
        source = "oldObject"
    elif operation == "UPDATE":
        source = "object"
        unchanged = _unchanged(uid, request)
        if unchanged is not None:
            return unchanged
    else:
        return Decision(uid, Outcome.UNSUPPORTED, f"operation {operation} not supported for {_kind(request)}")
    watched = _Watched.of(request.get(source))
    if not watched.name:
        return _malformed(uid, f"request.{source} has no metadata.name")
    if request.get("dryRun") is True:
        return Decision(uid, Outcome.DRY_RUN, f"dry run: no event for watched resource {watched.key}")
    return Decision(uid, Outcome.QUEUED, QUEUED, watched.event(module))


def _unchanged(uid: str, request: dict[str, Any]) -> Decision | None:
    """For an UPDATE: the answer when nothing watched changed, or None when the event is to be sent."""
    new, old = _Watched.of(request.get("object")), _Watched.of(request.get("oldObject"))
    subresource = _text(request.get("subResource")).lower()
    if subresource == "":
        # An object without a spec (a ConfigMap, a Secret): every update counts, as in Kyma.
        changed = new.spec is None or old.spec is None or new.spec != old.spec
    elif subresource == "status":
        changed = new.status != old.status
    else:
        return Decision(uid, Outcome.INVALID_SUBRESOURCE, f"invalid subresource: watched resource {new.key}")
    if changed:
        return None
    return Decision(uid, Outcome.UNCHANGED, f"no change detected on watched resource {new.key}")


def answer(uid: str, message: str) -> bytes:
    """The AdmissionReview response (Kyma's JSON: ``status`` is a Go ``metav1.Status``)."""
    review = {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "response": {
            "uid": uid,
            "allowed": True,
            "status": {"metadata": {}, "status": "Success", "message": message},
        },
    }
    return json.dumps(review, separators=(",", ":")).encode()


class AdmissionApp:
    """The webhook's ASGI app: decides, and queues the event before answering."""

    def __init__(self, queue: Callable[[WatchEvent], Awaitable[None]]) -> None:
        """``queue``: returns once the event is durable (and the deliverer woken); ``OSError`` when it cannot be."""
        self._queue_event = queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        matched = _PATH.fullmatch(scope["path"])
        if matched is None:
            await _error(send, 404, "Not found: the webhook's path is /validate/<module>.")
            return
        if scope["method"] != "POST":
            await _error(send, 405, "Method not allowed: the API server POSTs AdmissionReviews.")
            return
        module = matched.group(1)
        body = await _body(receive)
        if body is None:
            decision = _malformed("", f"the body is larger than {MAX_BODY} bytes")
        else:
            decision = decide(module, body)
        if decision.event is not None:
            decision = await self._queue(decision, decision.event)
        ADMISSION_REVIEWS.labels(module_label(module), decision.outcome).inc()
        # Every update of a watched resource is reviewed: only what is sent, and what is wrong, is logged.
        log.log(
            _LOG_LEVELS.get(decision.outcome, logging.DEBUG),
            "admission_review",
            module=module,
            uid=decision.uid,
            outcome=decision.outcome,
            message=decision.message,
        )
        review = answer(decision.uid, decision.message)
        await _respond(send, 200, b"application/json", review, SECURITY_HEADERS)

    async def _queue(self, decision: Decision, event: WatchEvent) -> Decision:
        try:
            await self._queue_event(event)
        except OSError as exc:
            # Never block the API server: the change is allowed, and the control plane's periodic
            # reconciliation is left to notice it.
            record = event.to_json().decode()
            log.error("watch_event_lost", watch_event=record, error=str(exc))  # noqa: TRY400 - the reason is the text
            message = f"kcp request lost: the event could not be queued: {exc.strerror or exc}"
            return Decision(decision.uid, Outcome.LOST, message)
        return decision


def _malformed(uid: str, reason: str) -> Decision:
    return Decision(uid, Outcome.MALFORMED, f"admission error: {reason}")


def _kind(request: dict[str, Any]) -> str:
    """``request.kind`` as Go prints a GroupVersionKind: ``apps/v1, Kind=Deployment``."""
    kind = request.get("kind")
    kind = kind if isinstance(kind, dict) else {}
    return f"{_text(kind.get('group'))}/{_text(kind.get('version'))}, Kind={_text(kind.get('kind'))}"


def _group_version(api_version: str) -> tuple[str, str | None]:
    """Kubernetes' ``ParseGroupVersion``: ``v1`` is the core group, ``apps/v1`` a named one, more slashes are an
    error (version None)."""
    if "/" not in api_version:
        return "", api_version
    group, version = api_version.split("/", 1)
    return (group, version) if "/" not in version else ("", None)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: object) -> dict[str, Any] | None:
    """A JSON object, or None: Go decodes anything else (absent, null, a string) into a nil map."""
    return value if isinstance(value, dict) else None


async def _body(receive: Receive) -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"code": status, "error": message}).encode()
    await _respond(send, status, b"application/json", body, ())


async def _respond(
    send: Send, status: int, content_type: bytes, body: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
