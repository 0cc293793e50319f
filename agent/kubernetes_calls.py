"""The agent's reads and deletes against the Kubernetes API (the sink's and the TokenRequests'): a 404 is an
answer (absent, or already gone), anything else a ``SinkError`` naming what was asked and the server's reason."""

from __future__ import annotations

from typing import Any

import httpx
from lightkube import ApiError, AsyncClient

from agent.errors import SinkError


def reason(exc: Exception) -> str:
    """An API error as its status line and message; a transport error as itself."""
    if isinstance(exc, ApiError):
        return f"{exc.status.code} {exc.status.reason or ''} {exc.status.message or ''}".strip()
    return repr(exc)


async def get_or_none(client: AsyncClient, resource: Any, name: str, namespace: str | None, what: str) -> Any:
    """The object, or None when there is none."""
    try:
        return await client.get(resource, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == httpx.codes.NOT_FOUND:
            return None
        raise SinkError(f"cannot read {what}: {reason(exc)}") from exc
    except httpx.HTTPError as exc:
        raise SinkError(f"cannot read {what}: {reason(exc)}") from exc


async def delete_if_present(
    client: AsyncClient, resource: Any, name: str, namespace: str | None, what: str
) -> None:
    """Deletes the object; one deleted meanwhile is not an error."""
    try:
        await client.delete(resource, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code != httpx.codes.NOT_FOUND:
            raise SinkError(f"cannot delete {what}: {reason(exc)}") from exc
    except httpx.HTTPError as exc:
        raise SinkError(f"cannot delete {what}: {reason(exc)}") from exc
