"""The two path shapes: standalone ``/<app>/<service>/<path>`` and Compass ``/<app>/<service>/<entry>/<path>``.

Segments are taken from the raw (still percent-encoded) path, as Kyma's gateway does, so an escaped ``%2F`` in the
target path stays one segment and ``encodeUrl`` can decide whether the target sees the caller's escaping. Unlike
Kyma's, a trailing ``/`` of the caller's path is kept: ``/app/svc/api/orders/`` calls ``<target>/orders/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import GatewayError

_INVALID = "failed to extract API Identifier from path"


@dataclass(frozen=True)
class ApiPath:
    application: str
    service: str
    entry: str | None  # Compass mode only
    remainder: str  # the raw target path after the gateway's part: "" or starting with "/"
    base: str  # the gateway's part: "/<app>/<service>" or "/<app>/<service>/<entry>"


def parse(raw_path: str, *, compass: bool) -> ApiPath:
    segments = raw_path.lstrip("/").split("/")
    needed = 3 if compass else 2
    head = segments[:needed]
    if len(head) < needed or not all(head):
        raise GatewayError(400, _INVALID)
    rest = segments[needed:]
    return ApiPath(
        application=head[0],
        service=head[1],
        entry=head[2] if compass else None,
        remainder="/" + "/".join(rest) if rest else "",
        base="/" + "/".join(head),
    )
